import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  keptForQuantile,
  WarmUpSummary,
} from '../../../src/detector/thresholds/warm-up-summary.ts';
import { chiSquareNoise, seededRandom } from './noise.ts';

/** The type-7 quantile of the whole batch, written out independently of the module. */
function wholeBatchQuantile(values: readonly number[], level: number): number {
  const sorted = Float64Array.from(values).sort();
  const position = (sorted.length - 1) * level;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! * (1 - (position - below)) + sorted[above]! * (position - below);
}

function summarise(values: readonly number[], level: number): WarmUpSummary {
  const summary = WarmUpSummary.forQuantile(values.length, level);
  for (const value of values) summary.add(value);
  return summary;
}

// Few distinct values as well as many, so ties at and around t come up.
const batches = fc.oneof(
  fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 10, maxLength: 400 }),
  fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 10, maxLength: 400 }),
);
const levels = fc.constantFrom(0, 0.5, 0.9, 0.98, 0.999, 1);

test('the quantile and the values above it are exactly the whole batch’s, in arrival order', () => {
  fc.assert(
    fc.property(batches, levels, (values, level) => {
      const summary = summarise(values, level);
      const t = wholeBatchQuantile(values, level);
      assert.equal(summary.quantile(level), t);
      assert.deepEqual(
        summary.valuesAbove(t),
        values.filter((value) => value > t),
      );
    }),
    { numRuns: 300, seed: 20261128 },
  );
});

test('the median is exact up to five values and a close estimate beyond', () => {
  for (const values of [[3], [2, 1], [5, 1, 4], [2, 2, 9, 1], [7, 3, 5, 1, 9]]) {
    assert.equal(summarise(values, 0.98).median(), wholeBatchQuantile(values, 0.5), `${values}`);
  }
  const next = chiSquareNoise(seededRandom(7));
  const values = Array.from({ length: 1000 }, next);
  const estimate = summarise(values, 0.98).median();
  const exact = wholeBatchQuantile(values, 0.5);
  assert.ok(Math.abs(estimate - exact) / exact < 0.03, `${estimate} vs ${exact}`);
  // A constant batch has its constant as the median.
  assert.equal(summarise(new Array(50).fill(0.25), 0.98).median(), 0.25);
});

test('rescaling scales the quantile, the peaks and the median; a copy is independent', () => {
  const next = chiSquareNoise(seededRandom(3));
  const values = Array.from({ length: 500 }, next);
  const summary = summarise(values.slice(0, 300), 0.98);
  const copy = summary.copy();
  summary.rescale(2);
  for (const value of values.slice(300)) {
    summary.add(2 * value);
    copy.add(value);
  }
  assert.equal(summary.quantile(0.98), 2 * copy.quantile(0.98));
  assert.ok(Math.abs(summary.median() - 2 * copy.median()) < 1e-9 * copy.median());
  const t = copy.quantile(0.98);
  assert.deepEqual(
    summary.valuesAbove(2 * t),
    copy.valuesAbove(t).map((value) => 2 * value),
  );
});

test('it holds 10 marker doubles and the kept values with their arrival indices', () => {
  assert.equal(keptForQuantile(1000, 0.98), 21);
  assert.equal(keptForQuantile(500, 0.98), 11);
  assert.equal(keptForQuantile(1000, 1), 1);
  assert.equal(WarmUpSummary.forQuantile(1000, 0.98).memoryBytes(), 8 * (10 + 2 * 21));
});
