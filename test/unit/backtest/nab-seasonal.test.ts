import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_NAB_CONFIG } from '../../../src/cli/backtest/backtest-config.ts';
import { rankScores } from '../../../src/cli/backtest/nab.ts';
import { dominantPeriod, seasonalResidual } from '../../../src/cli/backtest/nab-seasonal.ts';
import { seededRandom } from '../detector/noise.ts';

/** A daily-like pattern of `period` rows with a little seeded noise. */
function seasonal(n: number, period: number, seed: number, noise = 0.05): number[] {
  const random = seededRandom(seed);
  return Array.from(
    { length: n },
    (_, i) => Math.sin((2 * Math.PI * i) / period) + noise * (random() - 0.5),
  );
}

test('dominantPeriod finds the period of a noisy seasonal series from its first rows', () => {
  assert.equal(dominantPeriod(seasonal(600, 24, 1), 0.5, 0.02), 24);
  // A smooth sine's autocorrelation is flat around a long period: within a few rows.
  const long = dominantPeriod(seasonal(600, 288, 2), 0.5, 0.02);
  assert.ok(Math.abs(long - 288) <= 8, `period ${long}`);
});

test('dominantPeriod without slack may pick a multiple of the period, as high up to noise', () => {
  const period = dominantPeriod(seasonal(600, 24, 1), 0.5, 0);
  assert.equal(period % 24, 0);
});

test('dominantPeriod reports no period for white noise, a constant or too few rows', () => {
  const random = seededRandom(3);
  assert.equal(
    dominantPeriod(
      Array.from({ length: 600 }, () => random()),
      0.5,
    ),
    0,
  );
  assert.equal(dominantPeriod(new Array(600).fill(4), 0.5), 0);
  assert.equal(dominantPeriod([1, 2, 1, 2], 0.5), 0);
});

test('seasonalResidual is near zero on a periodic series and large where a period goes flat', () => {
  const values = seasonal(1000, 50, 4);
  for (let i = 700; i < 750; i++) values[i] = 0;
  const r = seasonalResidual(values, 50, 3);
  for (let i = 0; i < 52; i++) assert.ok(Number.isNaN(r[i]!), `row ${i} has no earlier period`);
  const before = Math.max(...r.subarray(52, 700));
  const flat = Math.max(...r.subarray(700, 750));
  assert.ok(before < 0.1, `periodic rows ${before}`);
  assert.ok(flat > 0.5, `flat period ${flat}`);
  assert.ok(seasonalResidual(values, 0, 3).every(Number.isNaN));
});

test('rankScores reports a flattened period that the model score misses only with the seasonal part', () => {
  const values = seasonal(1200, 48, 5);
  for (let i = 900; i < 948; i++) values[i] = 0;
  const random = seededRandom(6);
  // A model score that sees nothing unusual anywhere.
  const raw = Float64Array.from({ length: 1200 }, () => 1 + 0.1 * random());
  const base = { ...DEFAULT_NAB_CONFIG, likelihood: null };
  const withSeason = rankScores(raw, values, 180, base);
  const without = rankScores(raw, values, 180, { ...base, seasonal: null });
  const peak = (xs: Float64Array) => Math.max(...xs.subarray(900, 948));
  assert.ok(peak(withSeason) > 0.7, `with the seasonal part ${peak(withSeason)}`);
  assert.ok(peak(without) < 0.5, `model score alone ${peak(without)}`);
});

test('rankScores is causal: changing rows from k on (after the fitting rows) leaves earlier rows unchanged', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 200, max: 599 }),
      fc.integer({ min: 1, max: 1000 }),
      (k, seed) => {
        const values = seasonal(600, 24, seed);
        const random = seededRandom(seed);
        const raw = Float64Array.from({ length: 600 }, () => random());
        const changedValues = values.slice();
        const changedRaw = raw.slice();
        for (let i = k; i < 600; i++) {
          changedValues[i] = changedValues[i]! * 3 + 1;
          changedRaw[i] = changedRaw[i]! * 5;
        }
        const a = rankScores(raw, values, 150, DEFAULT_NAB_CONFIG);
        const b = rankScores(changedRaw, changedValues, 150, DEFAULT_NAB_CONFIG);
        assert.deepEqual(b.subarray(0, k), a.subarray(0, k));
      },
    ),
    { numRuns: 30 },
  );
});
