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
 * Feeds both the same stream; returns the largest relative gaps. Checks on the
 * way that the warm-up agrees exactly and that a verdict differs only for a
 * score lying between the two thresholds: the tail fit's optimiser stops at
 * its own tolerance, so float32 peaks move z by up to about 1e-4 of its value,
 * and only a score in that sliver can be judged differently. The baseline is
 * the compact version's median estimate against the reference's exact median
 * (warm-up-summary.ts), so it and the calibrated score of a score below the
 * threshold (which it anchors) are compared apart from the rest: the
 * baseline's gap as a fraction of the threshold, the calibrated score's as
 * an absolute difference (0.5 at the threshold).
 */
function compare(
  options: ThresholdOptions,
  next: () => number,
  count: number,
  rescaleAt = -1,
): {
  flips: number;
  thresholdGap: number;
  calibratedGap: number;
  calibratedBelowGap: number;
  baselineGap: number;
  judged: number;
} {
  const [compact, reference] = pair(options);
  let flips = 0;
  let judged = 0;
  let thresholdGap = 0;
  let calibratedGap = 0;
  let calibratedBelowGap = 0;
  let baselineGap = 0;
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
    thresholdGap = Math.max(thresholdGap, relativeGap(a.threshold, b.threshold));
    baselineGap = Math.max(baselineGap, Math.abs(a.baseline - b.baseline) / Math.abs(b.threshold));
    const calibrated = relativeGap(a.calibratedScore, b.calibratedScore);
    if (score > Math.max(a.threshold, b.threshold))
      calibratedGap = Math.max(calibratedGap, calibrated);
    else
      calibratedBelowGap = Math.max(
        calibratedBelowGap,
        Math.abs(a.calibratedScore - b.calibratedScore),
      );
  }
  return { flips, thresholdGap, calibratedGap, calibratedBelowGap, baselineGap, judged };
}

test('SPOT with float32 peaks and a warm-up summary judges random streams as the float64 whole-batch version does', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 30 }), fc.boolean(), (seed, float32) => {
      const result = compare({ method: 'spot' }, modelScores(seed, float32), 12_000, 9_000);
      assert.equal(result.judged, 11_000);
      assert.ok(result.flips <= 1, `${result.flips} verdicts differ`);
      assert.ok(result.thresholdGap < 1e-3, `threshold gap ${result.thresholdGap}`);
      assert.ok(result.calibratedGap < 1e-3, `calibrated gap ${result.calibratedGap}`);
      assert.ok(result.baselineGap < 0.01, `baseline gap ${result.baselineGap}`);
      assert.ok(
        result.calibratedBelowGap < 0.02,
        `calibrated gap below ${result.calibratedBelowGap}`,
      );
    }),
    { numRuns: 12, seed: 20261128 },
  );
});

test('DSPOT with float32 peaks and a warm-up summary judges random streams as the float64 whole-batch version does', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 30 }), (seed) => {
      const options: ThresholdOptions = { method: 'dspot', depth: 20 };
      const result = compare(options, modelScores(seed, true), 8_000, 6_000);
      assert.ok(result.flips <= 1, `${result.flips} verdicts differ`);
      assert.ok(result.thresholdGap < 1e-3, `threshold gap ${result.thresholdGap}`);
      assert.ok(result.baselineGap < 0.01, `baseline gap ${result.baselineGap}`);
      assert.ok(
        result.calibratedBelowGap < 0.02,
        `calibrated gap below ${result.calibratedBelowGap}`,
      );
    }),
    { numRuns: 6, seed: 20261128 },
  );
});

test('SPOT’s warm-up keeps a summary: the first t and peaks are the whole batch’s, the median an estimate', () => {
  // P²'s error falls with the batch: at most 1.9 % for 40 seeds at 1,000
  // (the default), 3.3 % at 500, 9 % at 200 (both noises of noise.ts).
  for (const seed of [11, 12, 13, 14]) {
    const [compact, reference] = pair({ method: 'spot', nInit: 1000 });
    const next = modelScores(seed, seed % 2 === 0);
    for (let i = 0; i < 1000; i++) {
      const score = next();
      assert.ok(compact.update(score).warmingUp);
      reference.update(score);
    }
    // The first verdict after the batch: the threshold follows from t and the
    // first peaks alone, so it is the reference's up to the float32 peaks.
    const score = next();
    const a = compact.update(score);
    const b = reference.update(score);
    assert.ok(relativeGap(a.threshold, b.threshold) < 1e-6, `${a.threshold} vs ${b.threshold}`);
    assert.ok(relativeGap(a.baseline, b.baseline) < 0.03, `median ${a.baseline} vs ${b.baseline}`);
  }
  // 10 marker doubles and 21 kept values with their arrival indices at
  // nInit 1,000 and the default initQuantile 0.98, from the first value on.
  const [spot] = pair({ method: 'spot', nInit: 1000 });
  const next = modelScores(5, true);
  spot.update(next());
  assert.equal(spot.memoryBytes(), 8 * (10 + 2 * 21));
  for (let i = 1; i < 999; i++) spot.update(next());
  assert.equal(spot.memoryBytes(), 8 * (10 + 2 * 21));
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
