// The InfluxDB sink against a real InfluxDB 1.x: start (schema creation),
// flush, close and send-after-close, an outage in the middle of a run, and
// sensor ids and channel names that line protocol cannot carry as they are.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  createInfluxSink,
  type InfluxSinkOptions,
  MEASUREMENTS,
} from '../../../src/adapters/influx/influx-sink.ts';
import { createMetrics } from '../../../src/adapters/metrics/create-metrics.ts';
import type { ScoredWindow } from '../../../src/stream/ports.ts';
import { waitFor } from '../../harness/wait.ts';
import {
  influxQuery,
  type RestartableInflux,
  startRestartableInflux,
} from './restartable-influx.ts';
import { startFeed } from './synthetic-feed.ts';

function options(url: string, overrides: Partial<InfluxSinkOptions> = {}): InfluxSinkOptions {
  return {
    url,
    database: `tsad_sink_${randomBytes(4).toString('hex')}`,
    retentionPolicy: 'tsad_short',
    retentionDuration: '2d',
    batchSize: 50,
    flushIntervalMs: 100,
    maxQueue: 1_000,
    writeRawReadings: true,
    retry: { initialMs: 50, maxMs: 400 },
    requestTimeoutMs: 2_000,
    ...overrides,
  };
}

function scoredWindow(sensor: string, endTs: number, score = 0.1): ScoredWindow {
  return {
    sensor,
    startTs: endTs - 1_000,
    endTs,
    modelVersion: 'v1',
    score: { score, perChannel: new Float32Array([score]), perStep: new Float32Array([score]) },
    calibratedScore: 0.5,
    threshold: 0.4,
    alertState: 'normal',
  };
}

async function count(url: string, database: string, measurement: string): Promise<number> {
  const series = await influxQuery(url, database, `SELECT count("score") FROM "${measurement}"`);
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

/** Sensor tag value → number of points of `measurement` stored under it. */
async function countBySensor(
  url: string,
  database: string,
  measurement: string,
  field: string,
): Promise<Map<string, number>> {
  const series = await influxQuery(
    url,
    database,
    `SELECT count("${field}") FROM "${measurement}" GROUP BY "sensor"`,
  );
  const counts = new Map<string, number>();
  for (const s of series as { tags?: Record<string, string>; values: unknown[][] }[]) {
    counts.set(s.tags?.sensor ?? '', Number(s.values[0]?.[1]));
  }
  return counts;
}

async function measurements(url: string, database: string): Promise<string[]> {
  const series = await influxQuery(url, database, 'SHOW MEASUREMENTS');
  return (series[0]?.values ?? []).map((row) => String(row[0])).sort();
}

/** Writes raw line protocol, bypassing the sink (to set up a field type the sink then conflicts with). */
async function writeLines(url: string, database: string, lines: string): Promise<void> {
  const response = await fetch(`${url}/write?db=${database}&precision=ms`, {
    method: 'POST',
    body: lines,
  });
  if (!response.ok) throw new Error(`write failed: ${response.status} ${await response.text()}`);
}

/**
 * Sensor ids the decoder accepts, each with the tag value InfluxDB must hold
 * for it (docs/dashboards.md): the influx package escapes a comma, space or
 * equals sign itself; a newline, a trailing backslash and a backslash before a
 * single quote are written as \u000a / \u005c.
 */
const ODD_SENSORS: readonly (readonly [id: string, stored: string])[] = [
  ['line\nbreak', 'line\\u000abreak'],
  ['ends-with\\', 'ends-with\\u005c'],
  ["back\\'quote", "back\\u005c'quote"],
  ['with,comma', 'with,comma'],
  ['with space', 'with space'],
  ['with=equals', 'with=equals'],
  ['with"quote', 'with"quote'],
  ['mid\\slash', 'mid\\slash'],
  ['tab\tand\rcr', 'tab\tand\rcr'],
  ['Füße-温度', 'Füße-温度'],
];

describe('InfluxDB sink', () => {
  let influx: RestartableInflux;

  before(async () => {
    influx = await startRestartableInflux();
  });

  after(async () => {
    await influx?.destroy();
  });

  it('start creates the database and the retention policy as default, and is idempotent', async () => {
    const opts = options(influx.url);
    const sink = createInfluxSink(opts);
    await Promise.all([sink.start(), sink.start()]);
    await sink.start();
    const databases = await influxQuery(influx.url, opts.database, 'SHOW DATABASES');
    assert.ok(databases[0]?.values.some((row) => row[0] === opts.database));
    const policies = await influxQuery(
      influx.url,
      opts.database,
      `SHOW RETENTION POLICIES ON "${opts.database}"`,
    );
    const columns = policies[0]?.columns ?? [];
    const policy = policies[0]?.values.find((row) => row[columns.indexOf('name')] === 'tsad_short');
    assert.ok(policy, 'retention policy created');
    assert.equal(policy[columns.indexOf('duration')], '48h0m0s');
    assert.equal(policy[columns.indexOf('default')], true);
    await sink.close();
  });

  it('flush writes windows, alerts and readings with their tags and fields', async () => {
    const opts = options(influx.url, { batchSize: 1_000, flushIntervalMs: 60_000 });
    const sink = createInfluxSink(opts);
    await sink.start();
    const at = Date.now();
    assert.equal(sink.writeWindow(scoredWindow('s-1', at, 0.25)), true);
    assert.equal(
      sink.writeReading({ sensor: 's-1', ts: at, values: { temp: 21.5, hum: 0.4 } }),
      true,
    );
    assert.equal(
      sink.writeAlert({
        id: 'abc',
        sensor: 's-1',
        state: 'firing',
        score: 0.9,
        peakScore: 0.95,
        threshold: 0.4,
        modelVersion: 'v1',
        window: { start: new Date(at - 1_000).toISOString(), end: new Date(at).toISOString() },
      }),
      true,
    );
    // Nothing is sent before the flush: the batch is not full and the timer is far away.
    assert.equal(sink.stats().queued, 3);
    assert.deepEqual(await sink.flush(), { written: 3, pending: 0 });

    const [window] = await influxQuery(
      influx.url,
      opts.database,
      `SELECT * FROM "${MEASUREMENTS.window}"`,
    );
    assert.ok(window);
    const row = Object.fromEntries(window.columns.map((c, i) => [c, window.values[0]?.[i]]));
    assert.deepEqual(row, {
      time: at,
      sensor: 's-1',
      model_version: 'v1',
      score: 0.25,
      calibrated_score: 0.5,
      threshold: 0.4,
      alert_state: 'normal',
      firing: 0,
    });
    const [reading] = await influxQuery(
      influx.url,
      opts.database,
      `SELECT "temp", "hum" FROM "${MEASUREMENTS.reading}"`,
    );
    assert.deepEqual(reading?.values, [[at, 21.5, 0.4]]);
    const [alert] = await influxQuery(
      influx.url,
      opts.database,
      `SELECT "state", "text", "peak_score" FROM "${MEASUREMENTS.alert}"`,
    );
    assert.equal(alert?.values[0]?.[1], 'firing');
    assert.match(String(alert?.values[0]?.[2]), /^s-1 firing: score 0\.9000/);
    assert.equal(sink.stats().written, 3);
    await sink.close();
  });

  it('sends a full batch at once and a partial one on the flush timer', async () => {
    const opts = options(influx.url, { batchSize: 10, flushIntervalMs: 150 });
    const sink = createInfluxSink(opts);
    await sink.start();
    const at = Date.now();
    for (let i = 0; i < 10; i++) sink.writeWindow(scoredWindow('batch', at + i));
    await waitFor(() => (sink.stats().written === 10 ? true : undefined), {
      what: 'the full batch',
      timeoutMs: 5_000,
    });
    sink.writeWindow(scoredWindow('batch', at + 10));
    await waitFor(() => (sink.stats().written === 11 ? true : undefined), {
      what: 'the timer flush',
      timeoutMs: 5_000,
    });
    assert.equal(await count(influx.url, opts.database, MEASUREMENTS.window), 11);
    await sink.close();
  });

  it('leaves out non-finite fields and refuses a point with nothing left, counting it', async () => {
    const opts = options(influx.url);
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    const sink = createInfluxSink(opts, { observer: metrics.influx });
    await sink.start();
    const bad = scoredWindow('nan', Date.now(), Number.NaN);
    assert.equal(sink.writeWindow(bad), true);
    assert.equal(
      sink.writeReading({ sensor: 'nan', ts: Date.now(), values: { x: Number.NaN } }),
      false,
    );
    assert.equal(sink.writeWindow(scoredWindow('nan', Number.NaN)), false);
    await sink.flush();
    assert.equal(sink.stats().written, 1);
    assert.equal(sink.stats().dropped.rejected, 1);
    assert.match(
      await metrics.registry.metrics(),
      /^tsad_influx_points_dropped_total\{reason="rejected"\} 1$/m,
    );
    await sink.close();
  });

  it('writes a batch mixing odd sensor ids with normal ones in full, the odd ids in their documented form', async () => {
    const opts = options(influx.url, { batchSize: 1_000, flushIntervalMs: 60_000 });
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    const sink = createInfluxSink(opts, { observer: metrics.influx });
    await sink.start();
    const at = Date.now();
    const normal = Array.from({ length: 10 }, (_, i) => `normal-${i}`);
    // Odd ids between normal ones, so a broken line would sit in the middle of the batch.
    const sensors = normal.flatMap((id, i) => [id, ...(ODD_SENSORS[i] ? [ODD_SENSORS[i][0]] : [])]);
    for (const sensor of sensors) {
      assert.equal(sink.writeWindow(scoredWindow(sensor, at)), true);
      assert.equal(sink.writeReading({ sensor, ts: at, values: { temp: 20 } }), true);
    }
    assert.deepEqual(await sink.flush(), { written: 2 * sensors.length, pending: 0 });

    const expected = new Map([
      ...normal.map((id) => [id, 1] as const),
      ...ODD_SENSORS.map(([, stored]) => [stored, 1] as const),
    ]);
    assert.deepEqual(
      await countBySensor(influx.url, opts.database, MEASUREMENTS.window, 'score'),
      expected,
    );
    assert.deepEqual(
      await countBySensor(influx.url, opts.database, MEASUREMENTS.reading, 'temp'),
      expected,
    );
    // No stray measurement from the part of an id after a newline.
    assert.deepEqual(await measurements(influx.url, opts.database), [
      MEASUREMENTS.reading,
      MEASUREMENTS.window,
    ]);
    const stats = sink.stats();
    assert.equal(stats.written, 2 * sensors.length);
    assert.equal(stats.dropped.rejected, 0);
    assert.equal(stats.writeErrors.rejected, 0);
    assert.match(
      await metrics.registry.metrics(),
      new RegExp(`^tsad_influx_points_written_total ${2 * sensors.length}$`, 'm'),
    );
    await sink.close();
  });

  it('names an alert by the sensor tag it is stored under', async () => {
    const opts = options(influx.url, { flushIntervalMs: 60_000 });
    const sink = createInfluxSink(opts);
    await sink.start();
    const at = Date.now();
    sink.writeAlert({
      id: 'odd',
      sensor: 'pump\n7',
      state: 'firing',
      score: 0.9,
      peakScore: 0.95,
      threshold: 0.4,
      modelVersion: 'v1',
      window: { start: new Date(at - 1_000).toISOString(), end: new Date(at).toISOString() },
    });
    assert.deepEqual(await sink.flush(), { written: 1, pending: 0 });
    const [alert] = await influxQuery(
      influx.url,
      opts.database,
      `SELECT "sensor", "text" FROM "${MEASUREMENTS.alert}"`,
    );
    assert.equal(alert?.values[0]?.[1], 'pump\\u000a7');
    assert.match(String(alert?.values[0]?.[2]), /^pump\\u000a7 firing: score 0\.9000/);
    await sink.close();
  });

  it('writes channel names that are no valid field key in their documented form', async () => {
    const opts = options(influx.url, { flushIntervalMs: 60_000 });
    const sink = createInfluxSink(opts);
    await sink.start();
    const at = Date.now();
    // Built from entries: a literal's __proto__ key would set the prototype, not make a channel.
    const values = Object.fromEntries([
      ['ok', 1],
      ['a\nb', 2],
      ['ends\\', 3],
      ['time', 4],
      ['', 5],
      ['x,y z=w', 6],
      ['__proto__', 7],
    ]);
    assert.equal(sink.writeReading({ sensor: 'channels', ts: at, values }), true);
    assert.equal(sink.writeWindow(scoredWindow('channels', at)), true);
    assert.deepEqual(await sink.flush(), { written: 2, pending: 0 });
    const [reading] = await influxQuery(
      influx.url,
      opts.database,
      `SELECT * FROM "${MEASUREMENTS.reading}"`,
    );
    assert.ok(reading);
    const row = Object.fromEntries(reading.columns.map((c, i) => [c, reading.values[0]?.[i]]));
    // The empty name cannot be a field key at all: that one value is left out.
    assert.deepEqual(row, {
      time: at,
      sensor: 'channels',
      ok: 1,
      'a\\u000ab': 2,
      'ends\\u005c': 3,
      '\\u0074ime': 4,
      'x,y z=w': 6,
      ['__proto__']: 7,
    });
    assert.equal(sink.stats().dropped.rejected, 0);
    await sink.close();
  });

  it('counts only the points InfluxDB refused in a partial write as dropped, the rest as written', async () => {
    const opts = options(influx.url, { batchSize: 1_000, flushIntervalMs: 60_000 });
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    const sink = createInfluxSink(opts, { observer: metrics.influx });
    await sink.start();
    const at = Date.now();
    // "mode" is a string field in this shard already: a reading with a number
    // under that name is a field type conflict, which InfluxDB refuses alone.
    await writeLines(
      influx.url,
      opts.database,
      `${MEASUREMENTS.reading},sensor=setup mode="auto" ${at}`,
    );
    for (let i = 0; i < 5; i++) sink.writeWindow(scoredWindow(`p-${i}`, at));
    sink.writeReading({ sensor: 'p-0', ts: at, values: { mode: 1 } });
    sink.writeReading({ sensor: 'p-1', ts: at, values: { temp: 20 } });
    assert.deepEqual(await sink.flush(), { written: 6, pending: 0 });
    assert.equal(await count(influx.url, opts.database, MEASUREMENTS.window), 5);
    const stats = sink.stats();
    assert.equal(stats.written, 6);
    assert.equal(stats.dropped.rejected, 1);
    assert.equal(stats.writeErrors.rejected, 1);
    const text = await metrics.registry.metrics();
    assert.match(text, /^tsad_influx_points_written_total 6$/m);
    assert.match(text, /^tsad_influx_points_dropped_total\{reason="rejected"\} 1$/m);
    await sink.close();
  });

  it('refuses a timestamp beyond the year 2262 (outside InfluxDB 1.x) at once, counting it, and writes the rest', async () => {
    const opts = options(influx.url, { flushIntervalMs: 60_000 });
    const sink = createInfluxSink(opts);
    await sink.start();
    const at = Date.now();
    const year3000 = Date.UTC(3000, 0, 1);
    assert.equal(sink.writeWindow(scoredWindow('future', year3000)), false);
    assert.equal(sink.writeReading({ sensor: 'future', ts: year3000, values: { v: 1 } }), false);
    assert.equal(sink.writeWindow(scoredWindow('now', at)), true);
    assert.deepEqual(await sink.flush(), { written: 1, pending: 0 });
    assert.equal(sink.stats().dropped.rejected, 2);
    assert.equal(sink.stats().writeErrors.rejected, 0);
    await sink.close();
  });

  it('close flushes what is queued, and a write after close is a counted no-op', async () => {
    const opts = options(influx.url, { flushIntervalMs: 60_000 });
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    const sink = createInfluxSink(opts, { observer: metrics.influx });
    await sink.start();
    const at = Date.now();
    for (let i = 0; i < 5; i++) sink.writeWindow(scoredWindow('close', at + i));
    await Promise.all([sink.close(), sink.close()]);
    await sink.close();
    assert.equal(await count(influx.url, opts.database, MEASUREMENTS.window), 5);
    assert.equal(sink.writeWindow(scoredWindow('close', at + 99)), false);
    assert.equal(sink.writeReading({ sensor: 'close', ts: at, values: { v: 1 } }), false);
    assert.deepEqual(await sink.flush(), { written: 0, pending: 0 });
    assert.equal(sink.stats().dropped.closed, 2);
    assert.match(
      await metrics.registry.metrics(),
      /^tsad_influx_points_dropped_total\{reason="closed"\} 2$/m,
    );
    assert.equal(await count(influx.url, opts.database, MEASUREMENTS.window), 5);
  });

  it('counts what it cannot deliver at close as shutdown drops, without waiting for InfluxDB', async () => {
    // A port nothing listens on: the stopped-server case without stopping ours.
    const sink = createInfluxSink(options('http://127.0.0.1:9', { flushIntervalMs: 60_000 }));
    await sink.start();
    for (let i = 0; i < 7; i++) sink.writeWindow(scoredWindow('gone', Date.now()));
    const began = Date.now();
    await sink.close();
    assert.ok(Date.now() - began < 3_000, 'close does not wait out the backoff');
    assert.equal(sink.stats().dropped.shutdown, 7);
    assert.ok(sink.stats().writeErrors.unreachable >= 1);
  });

  it('with InfluxDB stopped mid-run: scoring continues, the oldest points are dropped and counted, writes resume when it returns', async () => {
    const opts = options(influx.url, { maxQueue: 200, batchSize: 50, flushIntervalMs: 100 });
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    const sink = createInfluxSink(opts, { observer: metrics.influx });
    await sink.start();
    // 4 sensors × (window + reading) every 25 ms ≈ 320 points/s: the 200-point queue overflows within a second.
    const feed = startFeed({ metrics, sink, sensors: ['a', 'b', 'c', 'd'], tickMs: 25 });
    try {
      await waitFor(() => (sink.stats().written > 100 ? true : undefined), {
        what: 'first writes',
        timeoutMs: 10_000,
      });

      await influx.stop();
      const outageStart = Date.now();
      const ticksAtStop = feed.ticks;
      await waitFor(() => (sink.stats().dropped.queue_full > 200 ? true : undefined), {
        what: 'queue overflow during the outage',
        timeoutMs: 15_000,
      });
      const during = sink.stats();
      // Scoring went on: the feed kept ticking and no tick was held up by the sink.
      assert.ok(
        feed.ticks - ticksAtStop >= 10,
        `feed ticked ${feed.ticks - ticksAtStop} times during the outage`,
      );
      assert.ok(feed.slowestTickMs < 50, `slowest tick ${feed.slowestTickMs.toFixed(1)} ms`);
      assert.ok(during.queued <= 200, `queue bounded (${during.queued})`);
      assert.ok(during.writeErrors.unreachable >= 1, 'write errors counted as unreachable');
      assert.ok(during.backingOff);
      const text = await metrics.registry.metrics();
      const dropped = Number(
        /^tsad_influx_points_dropped_total\{reason="queue_full"\} (\d+)$/m.exec(text)?.[1],
      );
      assert.ok(
        dropped > 200,
        `tsad_influx_points_dropped_total{reason="queue_full"} = ${dropped}`,
      );
      assert.match(text, /^tsad_influx_write_errors_total\{kind="unreachable"\} [1-9]\d*$/m);
      assert.match(text, /^tsad_influx_queue_points (1\d\d|200)$/m);

      await influx.start();
      const returnedAt = Date.now();
      const writtenBefore = sink.stats().written;
      await waitFor(
        () =>
          sink.stats().written > writtenBefore + 200 && !sink.stats().backingOff ? true : undefined,
        {
          what: 'writes to resume',
          timeoutMs: 15_000,
        },
      );
      // Points stamped after InfluxDB returned are stored, and so are the
      // newest points queued during the outage (the oldest made room for them).
      await sink.flush();
      const afterReturn = await influxQuery(
        influx.url,
        opts.database,
        `SELECT count("score") FROM "${MEASUREMENTS.window}" WHERE time > ${returnedAt}ms`,
      );
      assert.ok(Number(afterReturn[0]?.values[0]?.[1]) > 0, 'points after the outage are stored');
      const fromOutage = await influxQuery(
        influx.url,
        opts.database,
        `SELECT count("score") FROM "${MEASUREMENTS.window}" WHERE time >= ${outageStart}ms AND time <= ${returnedAt}ms`,
      );
      assert.ok(
        Number(fromOutage[0]?.values[0]?.[1]) > 0,
        'the newest points queued during the outage are stored',
      );
    } finally {
      await feed.stop();
      await sink.close();
      await influx.start();
    }
  });
});
