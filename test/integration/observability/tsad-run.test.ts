// The real daemon: `tsad run` in the embedded mode (the built-in simulator
// as input, cold start), writing to a real InfluxDB and scraped by the real
// Prometheus configured from deploy/prometheus. Every dashboard and rule query
// is evaluated against what the daemon produced, and InfluxDB is stopped and
// started again under the running daemon.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../harness/ports.ts';
import { type PrometheusServer, startPrometheus } from '../../harness/prometheus.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { waitFor } from '../../harness/wait.ts';
import {
  dashboardQueries,
  deployPrometheusConfig,
  operands,
  REPO,
  ruleExpressions,
  substituteInfluxQL,
  substitutePromQL,
} from './queries.ts';
import {
  influxQuery,
  type RestartableInflux,
  startRestartableInflux,
} from './restartable-influx.ts';

const DATABASE = `tsad_run_${Date.now().toString(36)}`;

/**
 * Consumer lag exists only with Kafka: in the embedded mode there is no
 * consumer, so these series are legitimately absent. Queries on them must
 * still evaluate without error; tsad-run-kafka coverage is left to a test
 * with brokers.
 */
const EMBEDDED_ABSENT = /tsad_consumer_lag_messages/;

interface PromResponse {
  status: string;
  error?: string;
  data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function promQuery(url: string, query: string): Promise<PromResponse> {
  const target = new URL('/api/v1/query', url);
  target.searchParams.set('query', query);
  return (await (await fetch(target)).json()) as PromResponse;
}

/** One sample (no labels) from the daemon's own /metrics text. */
function sample(text: string, series: string): number {
  const escaped = series.replace(/[{}"=.]/g, '\\$&');
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/**
 * The test process's environment without what would point the daemon at the
 * run's shared servers (scripts/run-tests.mjs sets KAFKA_BROKERS etc., which
 * tsad's config reads): this test wants the embedded mode and its own InfluxDB.
 */
function embeddedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(TSAD_|KAFKA_|INFLUX_|PROMETHEUS_)/.test(key)) continue;
    env[key] = value;
  }
  return env;
}

describe('tsad run (embedded) with real Prometheus and InfluxDB', () => {
  let influx: RestartableInflux;
  let prometheus: PrometheusServer;
  let daemon: ChildProcess;
  let metricsUrl: string;
  let log = '';
  let alertedSensor: string;
  const dir = tempDir('tsad-obs-run-');

  const metricsText = async () => (await fetch(`${metricsUrl}/metrics`)).text();

  before(async () => {
    influx = await startRestartableInflux();
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    prometheus = await startPrometheus({ dir, ...deployPrometheusConfig(`127.0.0.1:${port}`) });
    daemon = spawn(
      process.execPath,
      [
        'bin/tsad.mjs',
        'run',
        '--metrics-port',
        String(port),
        ...['metrics.host=127.0.0.1', 'metrics.topSensors=3']
          .concat([`influx.url=${influx.url}`, `influx.database=${DATABASE}`])
          .concat([
            'influx.flushIntervalMs=200',
            'influx.batchSize=100',
            'influx.maxQueue=300',
            'influx.writeRawReadings=true',
          ])
          // A small, quick cold start and frequent anomalies, so a short run has alerts.
          .concat(['model.warmupWindows=200', 'model.maxEpochs=2', 'window.size=16'])
          .concat(['simulator.anomalyEvery=150', 'log.level=info'])
          .flatMap((setting) => ['--set', setting]),
      ],
      { cwd: REPO, env: embeddedEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    daemon.stderr?.on('data', (chunk) => {
      log += String(chunk);
    });
    await waitFor(
      async () => ((await fetch(`${metricsUrl}/readyz`)).status === 200 ? true : undefined),
      {
        what: 'tsad run to be ready (model trained)',
        timeoutMs: 120_000,
        intervalMs: 500,
        giveUpIf: () =>
          daemon.exitCode === null ? undefined : `tsad run exited with ${daemon.exitCode}`,
      },
    ).catch((error) => {
      throw new Error(`${(error as Error).message}\n--- tsad run log ---\n${log.slice(-3000)}`);
    });
    // An alert in InfluxDB, and enough scrapes after it for rate() windows.
    alertedSensor = await waitFor(
      async () => {
        const series = await influxQuery(
          influx.url,
          DATABASE,
          'SELECT "score", "sensor" FROM "tsad_alert"',
        );
        const sensor = series[0]?.values[0]?.[2];
        return typeof sensor === 'string' ? sensor : undefined;
      },
      { what: 'a first alert in InfluxDB', timeoutMs: 90_000, intervalMs: 1_000 },
    );
    const readyAt = Date.now();
    await waitFor(
      async () => {
        const response = await promQuery(
          prometheus.url,
          'count_over_time(tsad_windows_scored_total[1m])',
        );
        const count = Number(response.data?.result[0]?.value[1] ?? 0);
        return count >= 5 && Date.now() - readyAt > 3_000 ? true : undefined;
      },
      { what: 'Prometheus scrapes of the daemon', timeoutMs: 60_000, intervalMs: 500 },
    );
  });

  after(async () => {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
    await prometheus?.stop();
    await influx?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz and /readyz with Kafka not configured and a model loaded', async () => {
    assert.equal((await fetch(`${metricsUrl}/healthz`)).status, 200);
    const ready = await fetch(`${metricsUrl}/readyz`);
    assert.deepEqual(await ready.json(), {
      ready: true,
      checks: { kafka: 'not_configured', kafkaSends: 'ok', model: 'loaded' },
    });
  });

  it('every PromQL expression of the dashboards evaluates and returns data (lag: evaluates)', async () => {
    const failures: string[] = [];
    for (const q of dashboardQueries().filter((x) => x.language === 'promql')) {
      const query = substitutePromQL(q.query);
      const response = await promQuery(prometheus.url, query);
      if (response.status !== 'success')
        failures.push(`${q.where}: ${query} → error ${response.error}`);
      else if ((response.data?.result.length ?? 0) === 0 && !EMBEDDED_ABSENT.test(query)) {
        failures.push(`${q.where}: ${query} → no data`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('every alert rule evaluates, its operands return data (lag: evaluates), and Prometheus reports no rule errors', async () => {
    const failures: string[] = [];
    for (const rule of ruleExpressions()) {
      const whole = await promQuery(prometheus.url, rule.expr);
      if (whole.status !== 'success') failures.push(`${rule.name}: error ${whole.error}`);
      for (const part of operands(rule.expr)) {
        const response = await promQuery(prometheus.url, part);
        if (response.status !== 'success')
          failures.push(`${rule.name}: ${part} → error ${response.error}`);
        else if ((response.data?.result.length ?? 0) === 0 && !EMBEDDED_ABSENT.test(part)) {
          failures.push(`${rule.name}: ${part} → no data`);
        }
      }
    }
    const body = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    for (const rule of body.data.groups.flatMap((g) => g.rules)) {
      if (rule.health === 'err') failures.push(`${rule.name}: ${rule.lastError}`);
    }
    assert.deepEqual(failures, []);
  });

  it('every InfluxQL query of the dashboards on tsad_window and tsad_alert returns data', async () => {
    const failures: string[] = [];
    const queries = dashboardQueries().filter(
      (q) => q.language === 'influxql' && !q.query.includes('"tsad_reading"'),
    );
    assert.ok(queries.length >= 5);
    for (const q of queries) {
      const query = substituteInfluxQL(q.query, { sensor: alertedSensor });
      try {
        const series = await influxQuery(influx.url, DATABASE, query);
        if (series.reduce((n, s) => n + s.values.length, 0) === 0)
          failures.push(`${q.where}: ${query} → no data`);
      } catch (error) {
        failures.push(`${q.where}: ${(error as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('the Reading panel returns data from tsad_reading', async () => {
    const q = dashboardQueries().find((x) => x.query.includes('"tsad_reading"'));
    assert.ok(q);
    const series = await influxQuery(
      influx.url,
      DATABASE,
      substituteInfluxQL(q.query, { sensor: alertedSensor }),
    );
    assert.ok(series.reduce((n, s) => n + s.values.length, 0) > 0);
  });

  it('with InfluxDB stopped: scoring continues, drops are counted; writes resume when it returns', async () => {
    const before = await metricsText();
    const scoredBefore = sample(before, 'tsad_windows_scored_total');
    await influx.stop();
    try {
      // maxQueue is 300 points; the simulator's 100 readings/s fill it within seconds.
      const during = await waitFor(
        async () => {
          const text = await metricsText();
          const dropped = sample(text, 'tsad_influx_points_dropped_total{reason="queue_full"}');
          const scored = sample(text, 'tsad_windows_scored_total');
          // Scoring goes on: at least 100 more windows while InfluxDB is down.
          return dropped > 0 && scored > scoredBefore + 100 ? text : undefined;
        },
        {
          what: 'drops counted and windows scored while InfluxDB is down',
          timeoutMs: 30_000,
          intervalMs: 500,
        },
      );
      assert.ok(sample(during, 'tsad_influx_write_errors_total{kind="unreachable"}') > 0);
      assert.ok(sample(during, 'tsad_influx_queue_points') <= 300);
      assert.equal(
        (await fetch(`${metricsUrl}/readyz`)).status,
        200,
        'still ready without InfluxDB',
      );
    } finally {
      await influx.start();
    }
    const returnedAt = Date.now();
    const writtenAtReturn = sample(await metricsText(), 'tsad_influx_points_written_total');
    await waitFor(
      async () =>
        sample(await metricsText(), 'tsad_influx_points_written_total') > writtenAtReturn + 100
          ? true
          : undefined,
      { what: 'writes to resume', timeoutMs: 30_000, intervalMs: 500 },
    );
    await waitFor(
      async () => {
        const series = await influxQuery(
          influx.url,
          DATABASE,
          `SELECT count("score") FROM "tsad_window" WHERE time > ${returnedAt - 60_000}ms`,
        );
        return Number(series[0]?.values[0]?.[1] ?? 0) > 0 ? true : undefined;
      },
      { what: 'points written after InfluxDB returned', timeoutMs: 15_000 },
    );
    assert.equal(daemon.exitCode, null, 'the daemon kept running');
  });
});
