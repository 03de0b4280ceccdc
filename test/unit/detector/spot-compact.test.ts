import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createThreshold, resolveThresholdConfig } from '../../../src/detector/index.ts';
import type {
  AdaptiveThreshold,
  DspotConfig,
  SpotConfig,
  ThresholdOptions,
} from '../../../src/detector/thresholds/threshold.ts';
import { chiSquareNoise, exponentialNoise, seededRandom } from './noise.ts';
import { createReferenceDspot, createReferenceSpot } from './spot-reference.ts';

/** The compact SPOT/DSPOT and the float64 reference built from the same options. */
function pair(options: ThresholdOptions): [AdaptiveThreshold, AdaptiveThreshold] {
  const config = resolveThresholdConfig(options);
  const reference =
    config.method === 'spot'
      ? createReferenceSpot(config as SpotConfig)
      : createReferenceDspot(config as DspotConfig);
  return [createThreshold(config), reference];
}

/** Scores as the model gives them (float32), with a fault burst now and then. */
function modelScores(seed: number, float32: boolean): () => number {
  const random = seededRandom(seed);
  const noise = seed % 2 === 0 ? chiSquareNoise(random) : exponentialNoise(random);
  let i = 0;
  return () => {
    const fault = i++ % 1499 < 4;
    const score = fault ? 30 + noise() : noise();
    return float32 ? Math.fround(score) : score;
  };
}

function relativeGap(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Feeds both the same stream; returns the largest relative gap of threshold
 * and calibrated score. Checks on the way that the warm-up and the learnt
 * baseline (the batch's median) agree exactly, and that a verdict differs
 * only for a score lying between the two thresholds: the tail fit's optimiser
 * stops at its own tolerance, so float32 peaks move z by up to about 1e-4 of
 * its value, and only a score in that sliver can be judged differently.
 */
function compare(
  options: ThresholdOptions,
  next: () => number,
  count: number,
  rescaleAt = -1,
): { flips: number; thresholdGap: number; calibratedGap: number; judged: number } {
  const [compact, reference] = pair(options);
  let flips = 0;
  let judged = 0;
  let thresholdGap = 0;
  let calibratedGap = 0;
  for (let i = 0; i < count; i++) {
    if (i === rescaleAt) {
      compact.recalibrate(1.7);
      reference.recalibrate(1.7);
    }
    const score = next();
    const a = compact.update(score);
    const b = reference.update(score);
    assert.equal(a.warmingUp, b.warmingUp, `warm-up differs at ${i}`);
    if (a.warmingUp) continue;
    judged++;
    if (a.anomalous !== b.anomalous) {
      flips++;
      const [low, high] = [Math.min(a.threshold, b.threshold), Math.max(a.threshold, b.threshold)];
      assert.ok(score > low && score <= high, `verdicts differ at ${i} outside the threshold gap`);
    }
    if (options.method === 'spot' && i < rescaleAt) assert.equal(a.baseline, b.baseline);
    thresholdGap = Math.max(thresholdGap, relativeGap(a.threshold, b.threshold));
    calibratedGap = Math.max(calibratedGap, relativeGap(a.calibratedScore, b.calibratedScore));
  }
  return { flips, thresholdGap, calibratedGap, judged };
}

test('SPOT with float32 buffers judges random streams as the float64 version does, thresholds within 1e-3', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 30 }), fc.boolean(), (seed, float32) => {
      const result = compare({ method: 'spot' }, modelScores(seed, float32), 12_000, 9_000);
      assert.equal(result.judged, 11_000);
      assert.ok(result.flips <= 1, `${result.flips} verdicts differ`);
      assert.ok(result.thresholdGap < 1e-3, `threshold gap ${result.thresholdGap}`);
      assert.ok(result.calibratedGap < 1e-3, `calibrated gap ${result.calibratedGap}`);
    }),
    { numRuns: 12, seed: 20261128 },
  );
});

test('DSPOT with float32 peaks judges random streams as the float64 version does', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 30 }), (seed) => {
      const options: ThresholdOptions = { method: 'dspot', depth: 20 };
      const result = compare(options, modelScores(seed, true), 8_000, 6_000);
      assert.ok(result.flips <= 1, `${result.flips} verdicts differ`);
      assert.ok(result.thresholdGap < 1e-3, `threshold gap ${result.thresholdGap}`);
    }),
    { numRuns: 6, seed: 20261128 },
  );
});

test('SPOT’s warm-up keeps float32 scores exactly and its baseline is the float64 median', () => {
  // A stream whose values are not all float32 (the batch turns float64
  // half-way) and one whose values all are: both must give the exact median.
  for (const float32 of [true, false]) {
    const [compact, reference] = pair({ method: 'spot', nInit: 200 });
    const next = modelScores(11, float32);
    for (let i = 0; i < 201; i++) {
      const score = i === 100 ? 0.1 : next();
      const a = compact.update(score);
      const b = reference.update(score);
      if (!a.warmingUp) assert.equal(a.baseline, b.baseline);
    }
    assert.ok(compact.ready);
  }
  // Float32 scores take 4 bytes each while warming up, others 8.
  const [spot] = pair({ method: 'spot', nInit: 1000 });
  const next = modelScores(5, true);
  for (let i = 0; i < 999; i++) spot.update(next());
  assert.equal(spot.memoryBytes(), 4 * 1000);
  const [wide] = pair({ method: 'spot', nInit: 1000 });
  for (let i = 0; i < 999; i++) wide.update(0.1 + i * 1e-9);
  assert.equal(wide.memoryBytes(), 8 * 1000);
});

test('a cloned SPOT continues exactly as the original, and neither affects the other', () => {
  for (const method of ['spot', 'dspot'] as const) {
    const original = createThreshold(resolveThresholdConfig({ method, depth: 10 }));
    const next = modelScores(21, true);
    for (let i = 0; i < 3000; i++) original.update(next());
    const copy = original.clone!();
    assert.equal(copy.memoryBytes(), original.memoryBytes());
    const rest = Array.from({ length: 3000 }, next);
    const fromOriginal = rest.map((score) => original.update(score));
    // The original has moved on; the copy still starts from the cloned state.
    const fromCopy = rest.map((score) => copy.update(score));
    assert.deepEqual(fromCopy, fromOriginal, method);
  }
});
