import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createDriftDetector, ksDistance } from '../../../src/detector/drift-detector.ts';
import { createTrainingReservoir } from '../../../src/detector/training-reservoir.ts';
import type { SensorWindow } from '../../../src/detector/types.ts';

function windowAt(i: number, sensor = `s${i % 7}`): SensorWindow {
  return {
    sensor,
    channels: ['value'],
    size: 4,
    data: new Float32Array([i, i, i, i]),
    startTs: i * 1000,
    endTs: i * 1000 + 3000,
    timestamps: new Float64Array([0, 1, 2, 3].map((k) => i * 1000 + k * 1000)),
  };
}

function normalNoise(seed: number): () => number {
  let s = seed;
  return () => {
    // Box-Muller over a small LCG: enough for distribution tests.
    s = (s * 1103515245 + 12345) % 2147483648;
    const u = (s + 1) / 2147483649;
    s = (s * 1103515245 + 12345) % 2147483648;
    const v = (s + 1) / 2147483649;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

test('the reservoir never holds more windows than its capacities, whatever is offered', () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { maxLength: 3000 }), (flags) => {
      const reservoir = createTrainingReservoir({
        capacity: 50,
        holdoutCapacity: 10,
        flaggedCapacity: 5,
        recentCapacity: 20,
      });
      flags.forEach((flagged, i) => {
        reservoir.offer(windowAt(i), flagged);
      });
      const snap = reservoir.snapshot();
      assert.ok(snap.training.length <= 50 && snap.holdout.length <= 10);
      assert.ok(snap.flagged.length <= 5 && snap.recent.length <= 20);
      assert.equal(
        reservoir.size(),
        snap.training.length + snap.holdout.length + snap.flagged.length + snap.recent.length,
      );
      assert.equal(snap.normalSeen, flags.filter((f) => !f).length);
    }),
  );
});

test('flagged windows never enter the training or held-out sample', () => {
  const reservoir = createTrainingReservoir({ capacity: 100, holdoutCapacity: 30 });
  for (let i = 0; i < 1000; i += 1) reservoir.offer(windowAt(i), i % 3 === 0);
  const snap = reservoir.snapshot();
  for (const w of [...snap.training, ...snap.holdout]) assert.notEqual((w.startTs / 1000) % 3, 0);
  assert.ok(snap.flagged.every((w) => (w.startTs / 1000) % 3 === 0));
  // The flagged ring keeps the newest ones, oldest first.
  const ids = snap.flagged.map((w) => w.startTs / 1000);
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
  );
  assert.equal(ids.at(-1), 999);
});

test('the reservoir samples uniformly over the whole stream, not just its start', () => {
  const reservoir = createTrainingReservoir({ capacity: 500, holdoutFraction: 0, seed: 7 });
  for (let i = 0; i < 20000; i += 1) reservoir.offer(windowAt(i), false);
  const ids = reservoir.snapshot().training.map((w) => w.startTs / 1000);
  const secondHalf = ids.filter((id) => id >= 10000).length / ids.length;
  assert.ok(secondHalf > 0.4 && secondHalf < 0.6, `share from the second half: ${secondHalf}`);
});

test('resetNormal replaces the normal sample but keeps flagged and recent windows', () => {
  const reservoir = createTrainingReservoir({ capacity: 10, recentCapacity: 100 });
  for (let i = 0; i < 50; i += 1) reservoir.offer(windowAt(i), i === 3);
  reservoir.resetNormal([windowAt(1000), windowAt(1001)]);
  const snap = reservoir.snapshot();
  const normal = [...snap.training, ...snap.holdout].map((w) => w.startTs / 1000).sort();
  assert.deepEqual(normal, [1000, 1001]);
  assert.equal(reservoir.normalSeen(), 2);
  assert.equal(snap.flagged.length, 1);
  assert.equal(snap.recent.length, 50, 'the reset windows are not added to the recent ring again');
});

test('ksDistance is 0 for identical samples and 1 for disjoint ones', () => {
  const a = Float64Array.from([1, 2, 3, 4]);
  assert.equal(ksDistance(a, a.slice()), 0);
  assert.equal(ksDistance(a, Float64Array.from([10, 11])), 1);
  assert.equal(ksDistance(Float64Array.from([1, 2]), Float64Array.from([2, 3])), 0.5);
});

test('no drift is declared while scores come from the reference distribution', () => {
  const noise = normalNoise(3);
  const drift = createDriftDetector();
  drift.setReference(Array.from({ length: 1000 }, () => Math.abs(noise())));
  let declared = 0;
  for (let i = 0; i < 20000; i += 1) if (drift.observe(Math.abs(noise()))) declared += 1;
  assert.equal(declared, 0);
  assert.ok(drift.status().distance < 0.2, `distance ${drift.status().distance}`);
});

test('a lasting shift of the scores is declared drift once, after the patience', () => {
  const noise = normalNoise(5);
  const drift = createDriftDetector({ recentSize: 256, checkEvery: 64, patience: 3 });
  drift.setReference(Array.from({ length: 1000 }, () => Math.abs(noise())));
  for (let i = 0; i < 1000; i += 1) assert.equal(drift.observe(Math.abs(noise())), false);
  const declaredAt: number[] = [];
  for (let i = 0; i < 3000; i += 1) if (drift.observe(5 + Math.abs(noise()))) declaredAt.push(i);
  assert.equal(declaredAt.length, 1);
  // Needs most of the recent sample shifted, then `patience` checks.
  assert.ok(declaredAt[0]! >= 128 && declaredAt[0]! < 256 + 3 * 64, `declared at ${declaredAt[0]}`);
  assert.ok(drift.status().drifted);
});

test('a short fault episode is not drift', () => {
  const noise = normalNoise(9);
  const drift = createDriftDetector({ recentSize: 256, checkEvery: 32, patience: 3 });
  drift.setReference(Array.from({ length: 1000 }, () => Math.abs(noise())));
  let declared = false;
  for (let i = 0; i < 4000; i += 1) {
    const fault = i >= 2000 && i < 2080; // 80 high scores of 256
    declared ||= drift.observe(fault ? 50 : Math.abs(noise()));
  }
  assert.equal(declared, false);
});

test('without a reference the first recent sample becomes it, and a later shift is drift', () => {
  const noise = normalNoise(11);
  const drift = createDriftDetector({ recentSize: 128, checkEvery: 32, patience: 2 });
  for (let i = 0; i < 2000; i += 1) assert.equal(drift.observe(Math.abs(noise())), false);
  let declared = false;
  for (let i = 0; i < 400; i += 1) declared ||= drift.observe(4 + Math.abs(noise()));
  assert.ok(declared);
});
