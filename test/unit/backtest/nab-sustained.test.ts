import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_NAB_CONFIG } from '../../../src/cli/backtest/backtest-config.ts';
import { rankScores, trailingGeometricMean } from '../../../src/cli/backtest/nab.ts';
import { seededRandom } from '../detector/noise.ts';

test('trailingGeometricMean averages the logs of the last rows and skips NaN rows', () => {
  const out = trailingGeometricMean([1, 4, Number.NaN, 16, 1], 2);
  const expected = [1, 2, Number.NaN, 8, 4];
  for (let i = 0; i < expected.length; i++) {
    if (Number.isNaN(expected[i]!)) assert.ok(Number.isNaN(out[i]!), `row ${i} is NaN`);
    else assert.ok(Math.abs(out[i]! - expected[i]!) < 1e-5, `row ${i}: ${out[i]}`);
  }
});

test('trailingGeometricMean rises little for one huge error among ordinary ones', () => {
  const raw = Array.from({ length: 40 }, (_, i) => (i === 30 ? 1000 : 1));
  const out = trailingGeometricMean(raw, 20);
  // 1000^(1/20) ≈ 1.41: a spike is the per-row rank's job, not this one's.
  assert.ok(out[30]! < 1.5 && out[30]! > 1.3, `after the spike ${out[30]}`);
});

/** A model error near 1 with a spike of 30 every 50 rows, as a bursty file gives. */
function spikyError(n: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from({ length: n }, (_, i) => (i % 50 === 0 ? 30 : 1 + 0.1 * random()));
}

test('rankScores reports a sustained rise of the error that no single row makes rare only with the sustained part', () => {
  // Twenty times the usual error for 60 rows: below the past spikes row by row.
  const raw = spikyError(6000, 3);
  const random = seededRandom(4);
  for (let i = 5701; i < 5760; i++) raw[i] = 20 + random();
  const values = Array.from({ length: 6000 }, () => random());
  const base = { ...DEFAULT_NAB_CONFIG, seasonal: null, likelihood: null };
  const withSustained = rankScores(raw, values, 750, base);
  const without = rankScores(raw, values, 750, { ...base, sustained: null });
  const peak = (xs: Float64Array) => Math.max(...xs.subarray(5701, 5760));
  assert.ok(peak(withSustained) > 0.7, `with the sustained part ${peak(withSustained)}`);
  assert.ok(peak(without) < 0.5, `per-row rank alone ${peak(without)}`);
});

test('the sustained part keeps rankScores causal', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 200, max: 599 }),
      fc.integer({ min: 1, max: 1000 }),
      (k, seed) => {
        const raw = spikyError(600, seed);
        const values = Array.from(raw);
        const changed = raw.slice();
        for (let i = k; i < 600; i++) changed[i] = changed[i]! * 4;
        const config = { ...DEFAULT_NAB_CONFIG, seasonal: null, likelihood: null };
        const a = rankScores(raw, values, 150, config);
        const b = rankScores(changed, values, 150, config);
        assert.deepEqual(b.subarray(0, k), a.subarray(0, k));
      },
    ),
    { numRuns: 30 },
  );
});
