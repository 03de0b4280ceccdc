import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ANOMALY_KINDS,
  type AnomalyLabel,
  createSimulator,
  type SimulatorOptions,
} from '../../../src/adapters/simulator/simulator.ts';
import type { Reading } from '../../../src/detector/types.ts';
import { isTsadError } from '../../../src/errors.ts';

function run(options: SimulatorOptions): { readings: Reading[]; labels: AnomalyLabel[] } {
  const simulator = createSimulator(options);
  const readings = [...simulator];
  return { readings, labels: [...simulator.labels()] };
}

function key(reading: Reading): string {
  return `${reading.sensor}@${reading.ts}`;
}

const base: SimulatorOptions = { sensors: 3, points: 600, anomalies: 12, seed: 11 };

describe('createSimulator', () => {
  it('gives the same readings and labels for the same seed', () => {
    assert.deepEqual(run(base), run(base));
  });

  it('gives different data for a different seed', () => {
    assert.notDeepEqual(
      run(base).readings.slice(0, 10),
      run({ ...base, seed: 12 }).readings.slice(0, 10),
    );
  });

  it('emits points × sensors readings in strictly increasing timestamp order with every channel', () => {
    const { readings } = run({ ...base, channels: ['temp', 'current', 'x'] });
    assert.equal(readings.length, 600 * 3);
    for (let i = 1; i < readings.length; i++) {
      assert.ok((readings[i]?.ts ?? 0) > (readings[i - 1]?.ts ?? 0));
    }
    for (const r of readings) {
      assert.deepEqual(Object.keys(r.values), ['temp', 'current', 'x']);
      assert.ok(Object.values(r.values).every(Number.isFinite));
    }
    assert.deepEqual(
      [...new Set(readings.map((r) => r.sensor))],
      ['pump-1', 'compressor-2', 'turbine-3'],
    );
  });

  it('injects exactly the requested anomalies, every kind, after the clean start and within the run', () => {
    const simulator = createSimulator({ ...base, cleanStart: 100 });
    const planned = simulator.plannedLabels() ?? [];
    assert.equal(planned.length, 12);
    assert.deepEqual(new Set(planned.map((l) => l.kind)), new Set(ANOMALY_KINDS));
    const readings = [...simulator];
    const firstTs = readings[0]?.ts ?? 0;
    const lastTs = readings.at(-1)?.ts ?? 0;
    for (const label of planned) {
      assert.ok(label.startTs >= firstTs + 100 * 1000, 'after the clean start');
      assert.ok(label.endTs <= lastTs && label.endTs >= label.startTs);
    }
    assert.deepEqual(simulator.labels(), planned, 'labels as they begin equal the plan');
  });

  it('never overlaps two anomalies of one sensor', () => {
    const { labels } = run({ sensors: 2, points: 2000, anomalies: 30, seed: 3 });
    for (const sensor of ['pump-1', 'compressor-2']) {
      const mine = labels.filter((l) => l.sensor === sensor).sort((a, b) => a.startTs - b.startTs);
      for (let i = 1; i < mine.length; i++) {
        assert.ok((mine[i]?.startTs ?? 0) > (mine[i - 1]?.endTs ?? 0));
      }
    }
  });

  it('changes the data exactly where the labels say and nowhere else', () => {
    const clean = new Map(run({ ...base, anomalies: 0 }).readings.map((r) => [key(r), r]));
    const { readings, labels } = run(base);
    assert.equal(labels.length, 12);
    const inside = (r: Reading, channel: string) =>
      labels.find(
        (l) =>
          l.sensor === r.sensor && l.channel === channel && l.startTs <= r.ts && r.ts <= l.endTs,
      );
    const diffs = new Map<AnomalyLabel, number[]>();
    const values = new Map<AnomalyLabel, number[]>();
    for (const reading of readings) {
      const twin = clean.get(key(reading));
      assert.ok(twin);
      for (const [channel, value] of Object.entries(reading.values)) {
        const label: AnomalyLabel | undefined = inside(reading, channel);
        const diff: number = value - (twin.values[channel] ?? Number.NaN);
        if (label === undefined) {
          assert.equal(
            diff,
            0,
            `${reading.sensor} ${channel} at ${reading.ts} changed outside any label`,
          );
          continue;
        }
        diffs.set(label, [...(diffs.get(label) ?? []), diff]);
        values.set(label, [...(values.get(label) ?? []), value]);
      }
    }
    for (const label of labels) {
      const d = diffs.get(label) ?? [];
      const v = values.get(label) ?? [];
      assert.equal(
        d.length,
        Math.round((label.endTs - label.startTs) / 1000) + 1,
        `${label.kind} length`,
      );
      const changed = d.filter((x) => Math.abs(x) > 1e-3).length;
      switch (label.kind) {
        case 'spike':
        case 'level_shift': {
          assert.equal(changed, d.length, `${label.kind}: every step offset`);
          assert.ok(d.every((x) => Math.sign(x) === Math.sign(label.magnitude)));
          assert.ok(Math.max(...d) - Math.min(...d) < 1e-3, `${label.kind}: constant offset`);
          break;
        }
        case 'drift': {
          const abs = d.map(Math.abs);
          for (let i = 1; i < abs.length; i++)
            assert.ok((abs[i] ?? 0) > (abs[i - 1] ?? 0), 'drift grows');
          break;
        }
        case 'stuck':
          assert.ok(
            v.every((x) => x === v[0]),
            'stuck: the value freezes',
          );
          assert.ok(changed >= d.length - 2);
          break;
        case 'noise_burst':
        case 'frequency_change':
          assert.ok(
            changed >= d.length * 0.5,
            `${label.kind}: ${changed}/${d.length} steps changed`,
          );
          break;
      }
    }
  });

  it('keeps normal channels correlated through the shared load', () => {
    const { readings } = run({
      sensors: 1,
      points: 3000,
      anomalies: 0,
      intervalMs: 60_000,
      channels: ['temp', 'current'],
    });
    const a = readings.map((r) => r.values['temp'] as number);
    const b = readings.map((r) => r.values['current'] as number);
    assert.ok(correlation(a, b) > 0.5, `correlation ${correlation(a, b)}`);
  });

  it('plans anomalies endlessly at about the requested spacing when no count is given', () => {
    const simulator = createSimulator({ sensors: 2, anomalyEvery: 200, cleanStart: 50, seed: 5 });
    assert.equal(simulator.plannedLabels(), undefined);
    for (let i = 0; i < 2 * 20_000; i++) simulator.next();
    const fresh = simulator.takeNewLabels();
    assert.deepEqual(simulator.takeNewLabels(), [], 'labels are handed out once');
    // 20 000 readings per sensor, one anomaly per ~200 + its length + 50 quiet readings.
    assert.ok(fresh.length > 2 * 40 && fresh.length < 2 * 120, `${fresh.length} anomalies`);
    assert.deepEqual(new Set(fresh.map((l) => l.kind)), new Set(ANOMALY_KINDS));
  });

  it('rejects impossible options with TSAD_ERR_CONFIG_INVALID', () => {
    for (const options of [
      { sensors: 0 },
      { sensors: 1, anomalies: 3 },
      { sensors: 1, points: 40, anomalies: 10 },
      { sensors: ['a', 'a'] },
      { sensors: 1, kinds: ['melt' as never] },
    ] satisfies SimulatorOptions[]) {
      assert.throws(
        () => createSimulator(options),
        (e) => isTsadError(e, 'TSAD_ERR_CONFIG_INVALID'),
      );
    }
  });

  it('fits any feasible anomaly count inside the run (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 100, max: 400 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer(),
        (sensors, points, wanted, seed) => {
          const room = points - Math.floor(points / 4);
          const anomalies = Math.min(wanted, sensors * Math.floor(room / 8));
          const simulator = createSimulator({ sensors, points, anomalies, seed });
          const labels = simulator.plannedLabels() ?? [];
          assert.equal(labels.length, anomalies);
          const readings = [...simulator];
          const last = readings.at(-1)?.ts ?? 0;
          assert.ok(labels.every((l) => l.startTs <= l.endTs && l.endTs <= last));
        },
      ),
      { numRuns: 40 },
    );
  });
});

function correlation(a: number[], b: number[]): number {
  const mean = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = mean(a);
  const mb = mean(b);
  let num = 0;
  let da = 0;
  let db = 0;
  a.forEach((x, i) => {
    const y = b[i] as number;
    num += (x - ma) * (y - mb);
    da += (x - ma) ** 2;
    db += (y - mb) ** 2;
  });
  return num / Math.sqrt(da * db);
}
