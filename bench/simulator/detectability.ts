/**
 * How detectable are the simulator's anomalies? Trains a small autoencoder
 * on each sensor's clean start (as the cold start would), scores every
 * window, and prints per anomaly kind the peak score inside the labelled
 * interval (windows ending in [startTs, endTs + window]) relative to the
 * 99.9th percentile of scores outside any label. JSON on stdout.
 *
 *   node --import tsx bench/simulator/detectability.ts [--seed 21] [--points 3000]
 */
import { parseArgs } from 'node:util';
import { createSimulator } from '../../src/adapters/simulator/simulator.ts';
import type { SensorWindow } from '../../src/detector/types.ts';
import { initBackend } from '../../src/model/backend.ts';
import { trainAutoencoder } from '../../src/model/train.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '21' },
    points: { type: 'string', default: '3000' },
    sensors: { type: 'string', default: '3' },
    anomalies: { type: 'string', default: '18' },
    interval: { type: 'string', default: '10' },
  },
});
const W = 32;
await initBackend({ warn: () => {} });
const sim = createSimulator({
  sensors: Number(values.sensors),
  points: Number(values.points),
  anomalies: Number(values.anomalies),
  seed: Number(values.seed),
  intervalMs: Number(values.interval),
});
const labels = sim.plannedLabels() ?? [];
const channels = [...sim.channels];
const bySensor = new Map<string, { ts: number; values: Record<string, number> }[]>();
for (const r of sim) bySensor.set(r.sensor, [...(bySensor.get(r.sensor) ?? []), r]);
const windowsOf = (sensor: string) => {
  const rows = bySensor.get(sensor) ?? [];
  const out: SensorWindow[] = [];
  for (let end = W; end <= rows.length; end++) {
    const data = new Float32Array(W * channels.length);
    const timestamps = new Float64Array(W);
    for (let s = 0; s < W; s++) {
      const row = rows[end - W + s]!;
      timestamps[s] = row.ts;
      channels.forEach((c, j) => {
        data[s * channels.length + j] = row.values[c]!;
      });
    }
    out.push({
      sensor,
      channels,
      size: W,
      data,
      startTs: timestamps[0]!,
      endTs: timestamps[W - 1]!,
      timestamps,
    });
  }
  return out;
};
const all = [...bySensor.keys()].map((s) => ({ sensor: s, windows: windowsOf(s) }));
const train = all.flatMap((s) => s.windows.slice(0, 150));
const t0 = Date.now();
const model = await trainAutoencoder(train, {
  windowSize: W,
  hiddenUnits: [16],
  codeSize: 8,
  maxEpochs: 15,
});
const trainSeconds = (Date.now() - t0) / 1000;
const normal: number[] = [];
const peaks = new Map<(typeof labels)[number], number>();
for (const { sensor, windows } of all) {
  const scores = await model.scoreBatch(windows);
  windows.forEach((w, i) => {
    const score = scores[i]!.score;
    const hit = labels.filter(
      (l) => l.sensor === sensor && w.endTs >= l.startTs && w.startTs <= l.endTs,
    );
    if (hit.length === 0) normal.push(score);
    for (const l of hit) peaks.set(l, Math.max(peaks.get(l) ?? 0, score));
  });
}
normal.sort((a, b) => a - b);
const q = (p: number) => normal[Math.min(normal.length - 1, Math.floor(p * normal.length))]!;
const ref = q(0.999);
const byKind: Record<string, number[]> = {};
for (const [label, peak] of peaks) {
  byKind[label.kind] = [...(byKind[label.kind] ?? []), Number((peak / ref).toFixed(2))];
}
console.log(
  JSON.stringify(
    {
      seed: Number(values.seed),
      trainSeconds,
      normalScore: { p50: q(0.5), p99: q(0.99), p999: ref, max: normal.at(-1) },
      peakOverP999ByKind: byKind,
      detectableShare: [...peaks.values()].filter((p) => p > ref).length / peaks.size,
    },
    null,
    2,
  ),
);
