import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  fitGpd,
  fitTail,
  gpdLogTail,
  gpdQuantile,
  MIN_PEAKS_FOR_SHAPE,
} from '../../../src/detector/thresholds/gpd.ts';

/** Exact quantiles of a GPD at evenly spaced levels: a sample without sampling noise. */
function gpdQuantiles(xi: number, sigma: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - (i + 0.5) / n; // survival probability
    out[i] = xi === 0 ? -sigma * Math.log(u) : (sigma / xi) * (u ** -xi - 1);
  }
  return out;
}

test('fitGpd recovers an exponential tail (ξ ≈ 0, σ ≈ 1)', () => {
  const fit = fitGpd(gpdQuantiles(0, 1, 2000), 2000)!;
  assert.ok(Math.abs(fit.xi) < 0.02, `xi ${fit.xi}`);
  assert.ok(Math.abs(fit.sigma - 1) < 0.03, `sigma ${fit.sigma}`);
});

test('fitGpd recovers a heavy tail (ξ = 0.3, σ = 2) and a bounded one (ξ = −0.3, σ = 1)', () => {
  const heavy = fitGpd(gpdQuantiles(0.3, 2, 2000), 2000)!;
  assert.ok(Math.abs(heavy.xi - 0.3) < 0.03, `xi ${heavy.xi}`);
  assert.ok(Math.abs(heavy.sigma - 2) < 0.1, `sigma ${heavy.sigma}`);
  const bounded = fitGpd(gpdQuantiles(-0.3, 1, 2000), 2000)!;
  assert.ok(Math.abs(bounded.xi + 0.3) < 0.03, `xi ${bounded.xi}`);
  assert.ok(Math.abs(bounded.sigma - 1) < 0.05, `sigma ${bounded.sigma}`);
});

test('fitGpd falls back to the exponential tail with few or identical peaks, and null with none', () => {
  assert.equal(fitGpd(new Float64Array(0), 0), null);
  assert.equal(fitGpd(new Float64Array([0, 0, 0]), 3), null);
  const few = fitGpd(new Float64Array([1, 2, 3]), 3)!;
  assert.deepEqual(few, { xi: 0, sigma: 2 });
  assert.ok(MIN_PEAKS_FOR_SHAPE > 3);
  const flat = fitGpd(new Float64Array(50).fill(0.5), 50)!;
  assert.deepEqual(flat, { xi: 0, sigma: 0.5 });
});

test('gpdQuantile gives the SPOT threshold for known values (exponential and ξ = 0.5)', () => {
  // t = 1, q = 1e-3, n = 1000, N_t = 20: q·n/N_t = 0.05.
  assert.ok(Math.abs(gpdQuantile({ xi: 0, sigma: 2 }, 1, 1e-3, 1000, 20) - 6.991464547) < 1e-6);
  assert.ok(Math.abs(gpdQuantile({ xi: 0.5, sigma: 1 }, 1, 1e-3, 1000, 20) - 7.94427191) < 1e-6);
  // A risk above the peak rate puts the threshold at the peak level, not below it.
  assert.equal(gpdQuantile({ xi: 0, sigma: 2 }, 1, 0.5, 1000, 20), 1);
});

test('the tail probability at the threshold is q (quantile and tail agree)', () => {
  for (const fit of [
    { xi: 0, sigma: 2 },
    { xi: 0.4, sigma: 1.5 },
    { xi: -0.2, sigma: 1 },
  ]) {
    const z = gpdQuantile(fit, 3, 1e-3, 5000, 100);
    assert.ok(Math.abs(gpdLogTail(fit, 3, z, 5000, 100) - Math.log(1e-3)) < 1e-9);
  }
  // Beyond the end point of a bounded tail the probability is 0.
  assert.equal(gpdLogTail({ xi: -0.5, sigma: 1 }, 0, 3, 100, 10), Number.NEGATIVE_INFINITY);
});

test('fitTail keeps the exponential tail on exponential peaks and frees ξ on a clearly heavy tail', () => {
  const none = new Float64Array(2000).fill(Number.POSITIVE_INFINITY);
  assert.equal(fitTail(gpdQuantiles(0, 1, 2000), none, 2000)!.xi, 0);
  assert.ok(fitTail(gpdQuantiles(0.4, 1, 2000), none, 2000)!.xi > 0.3);
});

test('fitTail corrects for peaks truncated at the threshold (no downward bias)', () => {
  // Exponential excesses kept only below 3: a plain fit reads a lighter tail.
  const all = gpdQuantiles(0, 1, 4000);
  const kept = all.filter((y) => y <= 3);
  const limits = new Float64Array(kept.length).fill(3);
  // The excess exceeded by 1 peak in 20 is ln 20 ≈ 3.0 for the true tail.
  const excessAtOneIn20 = (fit: { xi: number; sigma: number }) => gpdQuantile(fit, 0, 0.05, 1, 1);
  const plain = excessAtOneIn20(fitGpd(kept, kept.length)!);
  const corrected = excessAtOneIn20(fitTail(kept, limits, kept.length)!);
  assert.ok(plain < 2.6, `plain fit is biased low: ${plain}`);
  assert.ok(Math.abs(corrected - Math.log(20)) < 0.1, `corrected: ${corrected}`);
});
