// The real Prometheus, configured from deploy/prometheus (scrape config and
// alerting rules), scrapes tsad's metrics endpoint while a short synthetic run
// feeds the metrics and InfluxDB adapters; then every PromQL expression of
// the dashboards and rules, and every InfluxQL query of the dashboards, must
// evaluate without error and return data.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createInfluxSink, type InfluxSink } from '../../../src/adapters/influx/influx-sink.ts';
import { createMetrics, type Metrics } from '../../../src/adapters/metrics/create-metrics.ts';
import {
  createMetricsServer,
  type MetricsServer,
} from '../../../src/adapters/metrics/metrics-server.ts';
import { type PrometheusServer, startPrometheus } from '../../harness/prometheus.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { waitFor } from '../../harness/wait.ts';
import {
  dashboardQueries,
  deployPrometheusConfig,
  operands,
  ruleExpressions,
  substituteInfluxQL,
  substitutePromQL,
} from './queries.ts';
import {
  influxQuery,
  type RestartableInflux,
  startRestartableInflux,
} from './restartable-influx.ts';
import { type Feed, startFeed } from './synthetic-feed.ts';

const SENSORS = ['pump-1', 'pump-2', 'fan.3', 'valve/4'];
const DATABASE = `tsad_obs_${Date.now().toString(36)}`;

interface PromResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: unknown[] };
}

async function promQuery(url: string, query: string): Promise<PromResponse> {
  const target = new URL('/api/v1/query', url);
  target.searchParams.set('query', query);
  return (await (await fetch(target)).json()) as PromResponse;
}

describe('dashboards and alert rules against real Prometheus and InfluxDB', () => {
  let influx: RestartableInflux;
  let metrics: Metrics;
  let server: MetricsServer;
  let sink: InfluxSink;
  let prometheus: PrometheusServer;
  let feed: Feed;
  const dir = tempDir('tsad-obs-prom-');

  before(async () => {
    influx = await startRestartableInflux();
    metrics = createMetrics({ topSensors: 3 });
    server = createMetricsServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      health: () => ({
        kafkaConnected: 'not_configured',
        kafkaSendsStalled: false,
        modelLoaded: true,
      }),
    });
    const { port } = await server.start();
    sink = createInfluxSink(
      {
        url: influx.url,
        database: DATABASE,
        retentionPolicy: 'tsad',
        retentionDuration: '1d',
        batchSize: 100,
        flushIntervalMs: 200,
        maxQueue: 10_000,
        writeRawReadings: true,
      },
      { observer: metrics.influx },
    );
    await sink.start();
    prometheus = await startPrometheus({ dir, ...deployPrometheusConfig(`127.0.0.1:${port}`) });
    feed = startFeed({ metrics, sink, sensors: SENSORS });
    // Enough scrapes for rate() over 1m windows (two samples) and one alert
    // episode (firing at tick 5, resolved at tick 25 of 50 ms).
    await waitFor(
      async () => {
        const response = await promQuery(
          prometheus.url,
          'count_over_time(tsad_windows_scored_total[1m])',
        );
        const sample = response.data?.result[0] as { value: [number, string] } | undefined;
        return sample !== undefined && Number(sample.value[1]) >= 4 ? true : undefined;
      },
      { what: 'four scrapes of tsad by Prometheus', timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.ok(feed.ticks > 25, `the feed ran through an alert episode (${feed.ticks} ticks)`);
    await sink.flush();
  });

  after(async () => {
    await feed?.stop();
    await sink?.close();
    await server?.stop();
    await prometheus?.stop();
    await influx?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('Prometheus loads the deploy scrape config and every rule file, and scrapes tsad', async () => {
    const targets = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as {
      data: { activeTargets: { labels: Record<string, string>; health: string }[] };
    };
    const tsad = targets.data.activeTargets.filter((t) => t.labels['job'] === 'tsad');
    assert.equal(tsad.length, 1);
    assert.equal(tsad[0]?.health, 'up');
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name)).sort();
    assert.deepEqual(
      loaded,
      ruleExpressions()
        .map((r) => r.name)
        .sort(),
    );
  });

  it('every PromQL expression of the dashboards evaluates and returns data', async () => {
    const queries = dashboardQueries().filter((q) => q.language === 'promql');
    assert.ok(queries.length >= 20, `found ${queries.length} PromQL queries`);
    const failures: string[] = [];
    for (const q of queries) {
      const query = substitutePromQL(q.query);
      const response = await promQuery(prometheus.url, query);
      if (response.status !== 'success')
        failures.push(`${q.where}: ${query} → error ${response.error}`);
      else if ((response.data?.result.length ?? 0) === 0)
        failures.push(`${q.where}: ${query} → no data`);
    }
    assert.deepEqual(failures, []);
  });

  it('every alert rule evaluates without error, and every operand of its condition returns data', async () => {
    // An alert expression returns data only while it fires; "returns data"
    // here means each side of its top-level comparisons and and/or/unless
    // does, so the rule can fire when the condition holds.
    const failures: string[] = [];
    const rules = ruleExpressions();
    assert.ok(rules.length >= 6);
    for (const rule of rules) {
      const whole = await promQuery(prometheus.url, rule.expr);
      if (whole.status !== 'success')
        failures.push(`${rule.name}: ${rule.expr} → error ${whole.error}`);
      const parts = operands(rule.expr);
      if (parts.length === 0) failures.push(`${rule.name}: no operand to check`);
      for (const part of parts) {
        const response = await promQuery(prometheus.url, part);
        if (response.status !== 'success')
          failures.push(`${rule.name}: ${part} → error ${response.error}`);
        else if ((response.data?.result.length ?? 0) === 0)
          failures.push(`${rule.name}: ${part} → no data`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('Prometheus evaluates every rule group without errors', async () => {
    const rules = await waitFor(
      async () => {
        const body = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
          data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
        };
        const all = body.data.groups.flatMap((g) => g.rules);
        return all.every((r) => r.health !== 'unknown') ? all : undefined;
      },
      { what: 'a rule evaluation', timeoutMs: 10_000 },
    );
    assert.deepEqual(
      rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`),
      [],
    );
  });

  it('every InfluxQL query of the dashboards returns data from InfluxDB', async () => {
    const queries = dashboardQueries().filter((q) => q.language === 'influxql');
    assert.ok(queries.length >= 5, `found ${queries.length} InfluxQL queries`);
    const failures: string[] = [];
    // A sensor whose name needs escaping in the regex, and the one with alerts.
    for (const sensor of ['fan.3', 'pump-1']) {
      for (const q of queries) {
        if (sensor !== 'pump-1' && /tsad_alert/.test(q.query)) continue;
        const query = substituteInfluxQL(q.query, { sensor });
        try {
          const series = await influxQuery(influx.url, DATABASE, query);
          const rows = series.reduce((n, s) => n + s.values.length, 0);
          if (rows === 0) failures.push(`${q.where} [${sensor}]: ${query} → no data`);
        } catch (error) {
          failures.push(`${q.where} [${sensor}]: ${(error as Error).message}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it('the sensor variable lists exactly the fed sensors', async () => {
    const variable = dashboardQueries().find((q) => q.where.endsWith('variable sensor'));
    assert.ok(variable);
    const series = await influxQuery(influx.url, DATABASE, variable.query);
    const values = series.flatMap((s) => s.values.map((row) => String(row[1]))).sort();
    assert.deepEqual(values, [...SENSORS].sort());
  });

  it('scrapes per-sensor series only for the top-N sensors', async () => {
    const response = await promQuery(prometheus.url, 'count(tsad_sensor_score)');
    const sample = response.data?.result[0] as { value: [number, string] } | undefined;
    assert.equal(Number(sample?.value[1]), 3);
  });
});
