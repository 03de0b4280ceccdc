// What integration tests import to reach the real servers:
//   import { services } from '../../harness/services.ts';
//   new Kafka({ brokers: services.kafkaBrokers, ... })
// Addresses come from HARNESS_KAFKA_BROKERS etc., which scripts/run-tests.mjs
// sets for each test process; when a test file is run alone, from the plain
// KAFKA_BROKERS etc. of the shell, or else from the .tsad/services.env that
// `npm run services:up` wrote.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { addScrapeTarget, type ScrapeTarget } from './prometheus.ts';
import type { ServiceEnv } from './stack.ts';

export type { ScrapeTarget } from './prometheus.ts';
export { waitFor } from './wait.ts';

const ENV_FILE = fileURLToPath(new URL('../../.tsad/services.env', import.meta.url));

function readEnvFile(): ServiceEnv {
  let text: string;
  try {
    text = fs.readFileSync(ENV_FILE, 'utf8');
  } catch {
    return {};
  }
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) env[match[1]] = match[2];
  }
  return env;
}

function resolveEnv(): ServiceEnv {
  const sources: ServiceEnv[] = [
    {
      KAFKA_BROKERS: process.env['HARNESS_KAFKA_BROKERS'],
      INFLUX_URL: process.env['HARNESS_INFLUX_URL'],
      PROMETHEUS_URL: process.env['HARNESS_PROMETHEUS_URL'],
      PROMETHEUS_FILE_SD_DIR: process.env['HARNESS_PROMETHEUS_FILE_SD_DIR'],
    } as ServiceEnv,
    {
      KAFKA_BROKERS: process.env['KAFKA_BROKERS'],
      INFLUX_URL: process.env['INFLUX_URL'],
      PROMETHEUS_URL: process.env['PROMETHEUS_URL'],
      PROMETHEUS_FILE_SD_DIR: process.env['PROMETHEUS_FILE_SD_DIR'],
    } as ServiceEnv,
    readEnvFile(),
  ];
  const pick = (key: keyof ServiceEnv) => sources.map((s) => s[key]).find((v) => v);
  const env: ServiceEnv = {};
  const kafka = pick('KAFKA_BROKERS');
  const influx = pick('INFLUX_URL');
  const prometheus = pick('PROMETHEUS_URL');
  // The file_sd directory belongs to one particular Prometheus: take it from
  // wherever that Prometheus's URL came from, never mix two sources.
  const fileSd = sources.find((s) => s.PROMETHEUS_URL)?.PROMETHEUS_FILE_SD_DIR;
  if (kafka) env.KAFKA_BROKERS = kafka;
  if (influx) env.INFLUX_URL = influx;
  if (prometheus) env.PROMETHEUS_URL = prometheus;
  if (fileSd) env.PROMETHEUS_FILE_SD_DIR = fileSd;
  return env;
}

const env = resolveEnv();

function required(key: keyof ServiceEnv): string {
  const value = env[key];
  if (value === undefined) {
    throw new Error(
      `HARNESS_${key} / ${key} is not set. Run integration tests with \`npm test\` (it starts the servers), ` +
        'or start them once with `npm run services:up` (this file then reads .tsad/services.env), ' +
        `or set ${key} to an existing server. See docs/testing.md.`,
    );
  }
  return value;
}

/** One Prometheus instant-query result sample. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * The real servers of this test run. Reading an address that is not
 * configured throws an error explaining how to start the servers.
 */
export const services = {
  /** Broker list for kafkajs, e.g. ['127.0.0.1:39123']. */
  get kafkaBrokers(): string[] {
    return required('KAFKA_BROKERS').split(',');
  },
  /** InfluxDB 1.x base URL, e.g. http://127.0.0.1:39124. */
  get influxUrl(): string {
    return required('INFLUX_URL');
  },
  /** Prometheus base URL, e.g. http://127.0.0.1:39125. */
  get prometheusUrl(): string {
    return required('PROMETHEUS_URL');
  },
  /**
   * False for an external Prometheus (PROMETHEUS_URL) given without
   * PROMETHEUS_FILE_SD_DIR: tests that need it to scrape them skip then.
   */
  get canAddScrapeTargets(): boolean {
    return env.PROMETHEUS_URL !== undefined && env.PROMETHEUS_FILE_SD_DIR !== undefined;
  },
  /**
   * Makes the run's Prometheus scrape `hostPort` (every second) under job
   * label `job`; call remove() on the result when the test ends.
   */
  addScrapeTarget(job: string, hostPort: string, labels?: Record<string, string>): ScrapeTarget {
    return addScrapeTarget(required('PROMETHEUS_FILE_SD_DIR'), job, hostPort, labels);
  },
};

/**
 * A name no other test (or earlier run against the same servers) uses, for
 * topics, databases, consumer groups and scrape jobs: `<prefix>-<hex>`,
 * limited to characters valid in all of them.
 */
export function randomName(prefix = 'tsad-test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`.replace(
    /[^A-Za-z0-9_-]/g,
    '_',
  );
}

/** Runs an instant query against the run's Prometheus and returns its vector samples. */
export async function queryPrometheus(expr: string): Promise<PromSample[]> {
  const url = new URL('/api/v1/query', services.prometheusUrl);
  url.searchParams.set('query', expr);
  const response = await fetch(url);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { result: PromSample[] };
  };
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(`Prometheus query ${expr} failed: ${body.error ?? response.status}`);
  }
  return body.data.result;
}
