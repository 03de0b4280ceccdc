import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_NAB_CONFIG } from '../../../src/cli/backtest/backtest-config.ts';
import { rankCalibrateLow, rankScores } from '../../../src/cli/backtest/nab.ts';
import { trailingRange } from '../../../src/cli/backtest/nab-quiet.ts';
import { seededRandom } from '../detector/noise.ts';

test('trailingRange is the spread of the last rows, NaN before the first full window', () => {
  const out = trailingRange([1, 3, 2, 5, 5, 5, 4], 3);
  assert.ok(Number.isNaN(out[0]!) && Number.isNaN(out[1]!));
  assert.deepEqual(Array.from(out.subarray(2)), [2, 3, 3, 0, 1]);
});

test('trailingRange equals the maximum minus the minimum of each window', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 80 }),
      fc.integer({ min: 1, max: 20 }),
      (values, window) => {
        const out = trailingRange(values, window);
        for (let i = window - 1; i < values.length; i++) {
          const slice = values.slice(i - window + 1, i + 1);
          assert.equal(out[i], Math.max(...slice) - Math.min(...slice));
        }
      },
    ),
  );
});

test('trailingRange is exactly 0 on a constant stretch at any level', () => {
  const out = trailingRange([0.1, 0.1, 0.1, 0.1, 1e9 + 0.3, 1e9 + 0.3, 1e9 + 0.3], 3);
  assert.equal(out[3], 0);
  assert.equal(out[6], 0);
});

test('rankCalibrateLow scores how far below all earlier scores a score is', () => {
  const decades = 4;
  const out = rankCalibrateLow([5, 4, 1, 0.5]);
  const expected = [0, Math.log10(2), Math.log10(3), Math.log10(4)].map((x) => x / decades);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(out[i]! - expected[i]!) < 1e-12, `row ${i}`);
  // With margin 0.5 an earlier score up to twice as large counts against it: 1 ≤ 0.5 / 0.5.
  const wide = rankCalibrateLow([5, 4, 1, 0.5], 0.5);
  assert.ok(Math.abs(wide[3]! - Math.log10(2) / decades) < 1e-12, `${wide[3]}`);
});

test('rankCalibrateLow counts only earlier zeros against a zero, and skips NaN rows', () => {
  const out = rankCalibrateLow([3, Number.NaN, 2, 0, 0, 0], 0.8);
  assert.equal(out[1], 0);
  // 0 / 0.2 = 0: the positive earlier scores never count, the earlier zeros do.
  assert.ok(Math.abs(out[3]! - Math.log10(3) / 4) < 1e-12);
  assert.ok(Math.abs(out[4]! - Math.log10(4 / 2) / 4) < 1e-12);
  assert.ok(Math.abs(out[5]! - Math.log10(5 / 3) / 4) < 1e-12);
});

/** A bursty series: noise near 0 with a burst of 50 every 100 rows. */
function bursty(n: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => (i % 100 < 5 ? 50 : 0) + random());
}

/** The quiet part as the third round measured it (off by default, see docs/evaluation.md). */
const QUIET = { fraction: 0.5, margin: 0.8 };

test('rankScores reports a bursty series that goes quiet for longer than ever before only with the quiet part', () => {
  const values = bursty(4000, 5);
  // Stuck at 0 for 600 rows after the burst at 2900: every earlier 300-row stretch (half the
  // fitting rows) held a burst, the one ending at row 3204 is the first without.
  for (let i = 3000; i < 3600; i++) values[i] = 0;
  // The model finds a flat window easy: its error stays ordinary.
  const random = seededRandom(6);
  const raw = Float64Array.from({ length: 4000 }, () => 1 + 0.1 * random());
  const base = { ...DEFAULT_NAB_CONFIG, seasonal: null, sustained: null, likelihood: null };
  const withQuiet = rankScores(raw, values, 600, { ...base, quiet: QUIET });
  const without = rankScores(raw, values, 600, { ...base, quiet: null });
  const peak = (xs: Float64Array, from: number, to: number) => Math.max(...xs.subarray(from, to));
  assert.ok(peak(withQuiet, 3204, 3206) > 0.8, `quiet for 300 rows ${peak(withQuiet, 3204, 3206)}`);
  assert.ok(peak(withQuiet, 600, 3204) < 0.5, `before ${peak(withQuiet, 600, 3204)}`);
  assert.ok(peak(without, 3000, 3600) < 0.5, `without the quiet part ${peak(without, 3000, 3600)}`);
});

test('the quiet part keeps rankScores causal', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 150, max: 599 }),
      fc.integer({ min: 1, max: 1000 }),
      (k, seed) => {
        const values = bursty(600, seed);
        const changed = values.slice();
        for (let i = k; i < 600; i++) changed[i] = 0;
        const raw = Float64Array.from(values, (x) => 1 + x / 100);
        const config = {
          ...DEFAULT_NAB_CONFIG,
          seasonal: null,
          sustained: null,
          likelihood: null,
          quiet: QUIET,
        };
        const a = rankScores(raw, values, 150, config);
        const b = rankScores(raw, changed, 150, config);
        assert.deepEqual(b.subarray(0, k), a.subarray(0, k));
      },
    ),
    { numRuns: 30 },
  );
});

test('trailingRange gives no range for a window that holds a NaN', () => {
  const out = Array.from(trailingRange([5, Number.NaN, 1, 10, 1, 1, 1], 3));
  assert.deepEqual(out.slice(0, 4).map(Number.isNaN), [true, true, true, true]);
  // Rows 2-4 are the first NaN-free window: range 9; rows 4-6 are flat.
  assert.deepEqual(out.slice(4), [9, 9, 0]);
});
