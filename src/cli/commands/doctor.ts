/**
 * `tsad doctor`: checks an installation and its surroundings, each with
 * advice when something is wrong: the TensorFlow backend (and why a fallback
 * was chosen), the configuration, and whether the configured Kafka, InfluxDB
 * and Prometheus answer, and whether the metrics port is free.
 *
 * Exit code: 0 when every configured check passes (warnings allowed), 1 when
 * a configured service is unreachable, 2 on an invalid configuration. A
 * service that is not configured is skipped, not failed: the embedded mode
 * needs none.
 */
import net from 'node:net';
import type { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import {
  addConfigOptions,
  type ConfigCommandOptions,
  type ConfigFlag,
  loadCommandConfig,
} from '../../config/cli-options.ts';
import { kafkaClientOptions } from '../../config/kafka-client-options.ts';
import type { Config } from '../../config/schema.ts';
import { initBackend } from '../../model/backend.ts';
import { releaseLibraryPages } from '../../model/library-pages.ts';
import { type CliContext, EXIT } from '../context.ts';

/** How a check came out: `skip` = not configured; `warn` = works, but look at it. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** The result of one check. */
export interface CheckResult {
  status: CheckStatus;
  /** What was checked (an address, a port). */
  target: string | null;
  /** What was found. */
  detail: string;
  /** What to do about a warning or failure. */
  advice: string | null;
}

const DOCTOR_FLAGS: readonly ConfigFlag[] = [
  { flags: '--brokers <list>', path: 'kafka.brokers' },
  { flags: '--influx-url <url>', path: 'influx.url' },
  { flags: '--prometheus-url <url>', path: 'prometheus.url' },
];

function result(
  status: CheckStatus,
  target: string | null,
  detail: string,
  advice: string | null = null,
): CheckResult {
  return { status, target, detail, advice };
}

function reason(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const inner = error.cause instanceof Error ? error.cause.message : '';
    const cause = inner === '' || error.message.includes(inner) ? '' : `: ${inner}`;
    return `${error.message}${cause}${code !== undefined && !error.message.includes(code) ? ` (${code})` : ''}`;
  }
  return String(error);
}

/**
 * Connects a kafkajs admin client with a short timeout and no retries, and
 * reads the cluster and the topic list; the configured topics that do not
 * exist yet are a warning (a broker may create them on first use).
 */
export async function checkKafka(kafka: Config['kafka']): Promise<CheckResult> {
  if (kafka.brokers.length === 0) {
    return result(
      'skip',
      null,
      'no brokers configured: `tsad run` uses the built-in simulator (embedded mode)',
      'to use Kafka set kafka.brokers, KAFKA_BROKERS or --brokers host:port',
    );
  }
  const target = kafka.brokers.join(',');
  const client = new Kafka({
    ...kafkaClientOptions(kafka, '-doctor'),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
  const admin = client.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const topics = new Set(await admin.listTopics());
    const missing = [kafka.inputTopic, kafka.alertTopic, kafka.deadLetterTopic].filter(
      (t) => !topics.has(t),
    );
    const detail = `${cluster.brokers.length} broker(s), controller ${cluster.controller ?? 'unknown'}, ${topics.size} topic(s)`;
    if (missing.length > 0) {
      return result(
        'warn',
        target,
        `${detail}; missing topics: ${missing.join(', ')}`,
        `create them (kafka-topics.sh --create --topic ...), let the broker auto-create them, or produce test data with \`tsad simulate --brokers ${target} --topic ${kafka.inputTopic}\``,
      );
    }
    return result('ok', target, detail);
  } catch (error) {
    const text = reason(error);
    const auth = /SASL|authenticat|credential/i.test(text);
    return result(
      'fail',
      target,
      `unreachable: ${text}`,
      auth
        ? 'the broker rejected the login: check kafka.sasl.mechanism, username and password (TSAD_KAFKA_SASL_*), and kafka.ssl'
        : `nothing answers at ${target}: start Kafka (a local one: \`npm run services:up\`), check kafka.brokers / KAFKA_BROKERS (host:port), kafka.ssl, and that the broker's advertised.listeners resolve from this machine`,
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * InfluxDB 1.x: `/ping` must answer 204, then `SHOW DATABASES` with the
 * configured credentials tells whether they are accepted and whether the
 * database exists (tsad creates it when missing, so that is only noted).
 */
export async function checkInflux(
  influx: Config['influx'],
  timeoutMs: number,
): Promise<CheckResult> {
  if (influx.url === undefined) {
    return result(
      'skip',
      null,
      'not configured: scores and alerts are not written to InfluxDB',
      null,
    );
  }
  const base = influx.url;
  const unreachable = `start InfluxDB 1.x at ${base}, fix influx.url / INFLUX_URL, or unset it to run without InfluxDB`;
  let version: string;
  try {
    const ping = await fetch(new URL('/ping', base), { signal: AbortSignal.timeout(timeoutMs) });
    if (ping.status !== 204) {
      return result(
        'fail',
        base,
        `/ping answered ${ping.status}, not 204`,
        `${base} does not look like InfluxDB 1.x; ${unreachable}`,
      );
    }
    version = ping.headers.get('x-influxdb-version') ?? 'unknown version';
  } catch (error) {
    return result('fail', base, `unreachable: ${reason(error)}`, unreachable);
  }
  try {
    const url = new URL('/query', base);
    url.searchParams.set('q', 'SHOW DATABASES');
    if (influx.username !== '') {
      url.searchParams.set('u', influx.username);
      url.searchParams.set('p', influx.password);
    }
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status === 401 || response.status === 403) {
      return result(
        'fail',
        base,
        `InfluxDB ${version} rejected the credentials (${response.status})`,
        'check influx.username and influx.password (TSAD_INFLUX_USERNAME, TSAD_INFLUX_PASSWORD)',
      );
    }
    const body = (await response.json()) as {
      results?: { series?: { values?: string[][] }[] }[];
    };
    const names = body.results?.[0]?.series?.[0]?.values?.map((v) => v[0]) ?? [];
    const exists = names.includes(influx.database);
    return result(
      'ok',
      base,
      `InfluxDB ${version}; database ${influx.database} ${exists ? 'exists' : 'does not exist yet (tsad creates it at start)'}`,
    );
  } catch (error) {
    return result(
      'warn',
      base,
      `InfluxDB ${version} answers /ping, but SHOW DATABASES failed: ${reason(error)}`,
      'check the InfluxDB logs and credentials',
    );
  }
}

/** Prometheus: `/-/ready` must answer 200. */
export async function checkPrometheus(
  url: string | undefined,
  timeoutMs: number,
): Promise<CheckResult> {
  if (url === undefined) {
    return result(
      'skip',
      null,
      'not configured (prometheus.url / PROMETHEUS_URL); tsad itself only serves /metrics',
      null,
    );
  }
  try {
    const response = await fetch(new URL('/-/ready', url), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === 200) return result('ok', url, 'ready');
    return result(
      'fail',
      url,
      `/-/ready answered ${response.status}`,
      `Prometheus at ${url} is starting or unhealthy: look at its logs; or fix prometheus.url / PROMETHEUS_URL`,
    );
  } catch (error) {
    return result(
      'fail',
      url,
      `unreachable: ${reason(error)}`,
      `start Prometheus at ${url} (a local one: \`npm run services:up\`), or fix or unset prometheus.url / PROMETHEUS_URL`,
    );
  }
}

/** Whether the metrics port can be bound; taken is a warning (it may be a running tsad). */
export async function checkMetricsPort(metrics: Config['metrics']): Promise<CheckResult> {
  if (!metrics.enabled)
    return result('skip', null, 'metrics disabled (metrics.enabled: false)', null);
  const target = `${metrics.host}:${metrics.port}`;
  if (metrics.port === 0) return result('ok', target, 'any free port will be used');
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = net.createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    server.listen(metrics.port, metrics.host, () => server.close(() => resolve(undefined)));
  });
  if (error === undefined) return result('ok', target, 'free');
  return result(
    'warn',
    target,
    `cannot listen: ${error.code ?? error.message}`,
    error.code === 'EADDRINUSE'
      ? `something already listens on ${target} (another tsad?); \`tsad run\` would fail to serve /metrics: stop it or set metrics.port / TSAD_METRICS_PORT`
      : `check metrics.host (${metrics.host}) and metrics.port`,
  );
}

const MARK: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** Adds `tsad doctor [--json]` to the program. */
export function registerDoctor(program: Command, context: CliContext): void {
  const command = program
    .command('doctor')
    .description(
      'check the TensorFlow backend and the configured services (exit 1 if a configured one is unreachable)',
    )
    .option('--json', 'print one JSON object instead of readable lines', false);
  addConfigOptions(command, DOCTOR_FLAGS).action(
    async (options: ConfigCommandOptions & { json: boolean }) => {
      const config = loadCommandConfig(options, DOCTOR_FLAGS);
      const timeoutMs = config.kafka.connectionTimeoutMs;
      const [info, kafka, influx, prometheus, metricsPort] = await Promise.all([
        initBackend({ warn: () => {} }),
        checkKafka(config.kafka),
        checkInflux(config.influx, timeoutMs),
        checkPrometheus(config.prometheus.url, timeoutMs),
        checkMetricsPort(config.metrics),
      ]);
      // What the daemon's model.releaseLibraryPages would do in this install.
      const pages = info.backend === 'tensorflow' ? releaseLibraryPages() : undefined;
      const libraryPages =
        pages === undefined
          ? null
          : pages.released
            ? {
                released: true,
                residentFileMbBefore: Math.round(pages.residentFileBefore / 1e6),
                residentFileMbAfter: Math.round(pages.residentFileAfter / 1e6),
              }
            : { released: false, reason: pages.reason };
      const services = { kafka, influx, prometheus, metricsPort };
      const ok = Object.values(services).every((c) => c.status !== 'fail');
      const report = {
        backend: info.backend,
        tensorflowVersion: info.tensorflowVersion,
        tfjsVersion: info.tfjsVersion,
        native: info.backend === 'tensorflow',
        fallbackReason: info.fallbackReason ?? null,
        libraryPages,
        services,
        ok,
      };
      if (options.json) {
        context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const lines = [
          info.backend === 'tensorflow'
            ? `backend: tensorflow (native, libtensorflow ${info.tensorflowVersion})`
            : `backend: ${info.backend} (FALLBACK: ${info.fallbackReason})`,
        ];
        if (pages?.released) {
          // Pages another process maps too (another tsad here) cannot leave.
          const outcome =
            pages.residentFileBefore - pages.residentFileAfter >= 1e6
              ? 'released'
              : 'none released (another process maps the library?)';
          lines.push(
            `library pages: ${outcome} (resident file pages ${libraryPages?.residentFileMbBefore} → ${libraryPages?.residentFileMbAfter} MB)`,
          );
        } else if (libraryPages) {
          lines.push(`library pages: stay resident — ${libraryPages.reason}`);
        }
        for (const [name, check] of Object.entries(services)) {
          const target = check.target === null ? '' : ` ${check.target}`;
          lines.push(`${name}: ${MARK[check.status]}${target} — ${check.detail}`);
          if (check.advice !== null && check.status !== 'ok') lines.push(`  → ${check.advice}`);
        }
        context.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!ok) process.exitCode = EXIT.failure;
    },
  );
}
