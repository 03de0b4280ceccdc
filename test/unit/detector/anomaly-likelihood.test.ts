import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type AnomalyLikelihoodOptions,
  anomalyLikelihood,
  normalTail,
} from '../../../src/detector/anomaly-likelihood.ts';
import { seededRandom } from './noise.ts';

const OPTIONS: AnomalyLikelihoodOptions = {
  shortWindow: 20,
  longWindow: 8640,
  minStd: 0.05,
  decades: 8,
  minHistory: 50,
};

/** Standard normal noise from a seeded uniform generator (Box-Muller). */
function gaussian(seed: number, n: number): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from(
    { length: n },
    () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()),
  );
}

test('normalTail matches known upper-tail probabilities of the standard normal', () => {
  const known: [number, number][] = [
    [0, 0.5],
    [1, 0.158655253931457],
    [1.959963984540054, 0.025],
    [3, 0.00134989803163009],
    [5, 2.86651571879194e-7],
    [8, 6.22096057427178e-16],
    [-1, 0.841344746068543],
  ];
  for (const [z, q] of known) {
    const got = normalTail(z);
    assert.ok(Math.abs(got - q) / q < 2e-3, `Q(${z}) = ${got}, expected ${q}`);
  }
});

test('a sustained rise of the score is unlikely, a single spike of the same height is not', () => {
  const base = gaussian(1, 1500);
  const spike = base.slice();
  spike[1200] = spike[1200]! + 4;
  const shift = base.slice();
  for (let i = 1200; i < 1230; i++) shift[i] = shift[i]! + 4;
  const fromSpike = anomalyLikelihood(spike, OPTIONS);
  const fromShift = anomalyLikelihood(shift, OPTIONS);
  const peak = (xs: Float64Array) => Math.max(...xs.subarray(1200, 1240));
  assert.ok(peak(fromShift) > 0.7, `shift peak ${peak(fromShift)}`);
  assert.ok(peak(fromSpike) < 0.3, `spike peak ${peak(fromSpike)}`);
});

test('reports 0 until minHistory averages exist and for averages at or below the mean', () => {
  const scores = gaussian(2, 400).map((x) => x - 10);
  const out = anomalyLikelihood(scores, OPTIONS);
  for (let i = 0; i < OPTIONS.minHistory; i++) assert.equal(out[i], 0);
  const falling = Float64Array.from({ length: 300 }, (_, i) => 100 - i);
  assert.ok(anomalyLikelihood(falling, OPTIONS).every((x) => x === 0));
});

test('a new level becomes usual again once the long window has forgotten the old one', () => {
  const scores = gaussian(3, 3000);
  for (let i = 1000; i < 3000; i++) scores[i] = scores[i]! + 3;
  const short = anomalyLikelihood(scores, { ...OPTIONS, longWindow: 500 });
  const long = anomalyLikelihood(scores, { ...OPTIONS, longWindow: Number.POSITIVE_INFINITY });
  assert.ok(short[1030]! > 0.5, 'the shift itself is unlikely');
  // Mean over rows 600-1000 after the shift, when a 500-row window holds only the new level.
  const late = (xs: Float64Array) => xs.subarray(1600, 2000).reduce((a, b) => a + b, 0) / 400;
  assert.ok(late(short) < 0.1, `forgetting: ${late(short)}`);
  assert.ok(
    late(long) > 1.5 * late(short),
    `remembering everything keeps the new level unusual longer: ${late(long)} vs ${late(short)}`,
  );
});

test('is causal and stays in [0, 1]: changing scores from row k on leaves earlier rows unchanged', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 60, maxLength: 200 }),
      fc.nat(),
      fc.double({ min: -50, max: 50, noNaN: true }),
      (xs, kSeed, delta) => {
        const options = { ...OPTIONS, shortWindow: 5, minHistory: 10, longWindow: 40 };
        const k = kSeed % xs.length;
        const changed = xs.slice();
        for (let i = k; i < changed.length; i++) changed[i] = changed[i]! + delta;
        const a = anomalyLikelihood(xs, options);
        const b = anomalyLikelihood(changed, options);
        for (let i = 0; i < k; i++) assert.equal(b[i], a[i]);
        for (const x of b) assert.ok(x >= 0 && x <= 1);
      },
    ),
    { numRuns: 100 },
  );
});
