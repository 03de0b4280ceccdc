import path from 'node:path';
import { TsadError } from '../../src/errors.ts';
import { startInflux } from './influx.ts';
import { startKafka } from './kafka.ts';
import type { ServerProcess } from './process.ts';
import { startPrometheus } from './prometheus.ts';

/** The environment variables through which tests find the servers. */
export const SERVICE_ENV_KEYS = [
  'KAFKA_BROKERS',
  'INFLUX_URL',
  'PROMETHEUS_URL',
  'PROMETHEUS_FILE_SD_DIR',
] as const;

export type ServiceEnv = Partial<Record<(typeof SERVICE_ENV_KEYS)[number], string>>;

/** Kafka, InfluxDB and Prometheus, started here or found through the environment. */
export interface ServiceStack {
  /** The addresses to hand to tests (also those taken from the environment). */
  env: ServiceEnv;
  /** Only the servers this stack started itself. */
  processes: ServerProcess[];
  /** Directory holding each started server's config, data and log. */
  dir: string;
  /** Milliseconds each started server took from launch request to ready. */
  startMs: Record<string, number>;
  /** Stops every server this stack started; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartServicesOptions {
  dir: string;
  detached?: boolean;
  log?: (line: string) => void;
  /** Where to look for KAFKA_BROKERS / INFLUX_URL / PROMETHEUS_URL of existing servers. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the three servers the integration tests need, in parallel, each in
 * its own subdirectory of `dir`. A server whose address is already in the
 * environment (KAFKA_BROKERS, INFLUX_URL, PROMETHEUS_URL) is not started and
 * its address is passed through. If any server fails, the others are stopped
 * before the error is thrown, so nothing is left running.
 */
export async function startServices(options: StartServicesOptions): Promise<ServiceStack> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const common = { detached: options.detached ?? false, log };
  const out: ServiceEnv = {};
  const processes: ServerProcess[] = [];
  const startMs: Record<string, number> = {};
  const timed = async <T>(name: string, start: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await start();
    startMs[name] = Math.round(performance.now() - t0);
    return result;
  };

  const tasks: Promise<void>[] = [];
  if (env['INFLUX_URL']) out.INFLUX_URL = env['INFLUX_URL'];
  else
    tasks.push(
      timed('influxdb', () =>
        startInflux({ ...common, dir: path.join(options.dir, 'influxdb') }),
      ).then((s) => {
        processes.push(s.process);
        out.INFLUX_URL = s.url;
      }),
    );
  if (env['PROMETHEUS_URL']) {
    out.PROMETHEUS_URL = env['PROMETHEUS_URL'];
    if (env['PROMETHEUS_FILE_SD_DIR']) out.PROMETHEUS_FILE_SD_DIR = env['PROMETHEUS_FILE_SD_DIR'];
  } else
    tasks.push(
      timed('prometheus', () =>
        startPrometheus({ ...common, dir: path.join(options.dir, 'prometheus') }),
      ).then((s) => {
        processes.push(s.process);
        out.PROMETHEUS_URL = s.url;
        out.PROMETHEUS_FILE_SD_DIR = s.fileSdDir;
      }),
    );
  if (env['KAFKA_BROKERS']) out.KAFKA_BROKERS = env['KAFKA_BROKERS'];
  else
    tasks.push(
      timed('kafka', () => startKafka({ ...common, dir: path.join(options.dir, 'kafka') })).then(
        (s) => {
          processes.push(s.process);
          out.KAFKA_BROKERS = s.brokers;
        },
      ),
    );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= Promise.all(processes.map((p) => p.stop())).then(() => {});
    return stopping;
  };
  const results = await Promise.allSettled(tasks);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    await stop();
    const messages = failures.map((f) => (f instanceof Error ? f.message : String(f)));
    throw new TsadError(
      'TSAD_ERR_SERVICE_START',
      `test services did not start:\n${messages.join('\n')}`,
      {
        cause: failures[0],
      },
    );
  }
  return { env: out, processes, dir: options.dir, startMs, stop };
}
