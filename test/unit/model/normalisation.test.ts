import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  denormaliseInPlace,
  fitNormalisation,
  NORMALISED_LIMIT,
  normaliseInto,
} from '../../../src/model/normalisation.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';

describe('fitNormalisation', () => {
  test('centres on the median and scales by the IQR of each channel', () => {
    // channel a: 1..100, channel b: 10 × that
    const values = new Float32Array(200);
    for (let i = 0; i < 100; i++) {
      values[2 * i] = i + 1;
      values[2 * i + 1] = 10 * (i + 1);
    }
    const { normalisation, stats } = fitNormalisation([values], ['a', 'b']);
    assert.deepEqual(normalisation.center, [50.5, 505]);
    assert.ok(Math.abs(normalisation.scale[0]! - 49.5 / 1.349) < 1e-9);
    assert.ok(Math.abs(normalisation.scale[1]! - 495 / 1.349) < 1e-6);
    assert.equal(stats[1]!.channel, 'b');
    assert.equal(stats[0]!.min, 1);
    assert.equal(stats[0]!.max, 100);
    assert.equal(stats[0]!.mean, 50.5);
  });

  test('a few huge outliers barely move centre and scale', () => {
    const clean = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i / 10));
    const dirty = clean.slice();
    for (let i = 0; i < 10; i++) dirty[i * 97] = 1e6;
    const a = fitNormalisation([clean], ['x']).normalisation;
    const b = fitNormalisation([dirty], ['x']).normalisation;
    assert.ok(Math.abs(a.center[0]! - b.center[0]!) < 0.05);
    assert.ok(Math.abs(a.scale[0]! / b.scale[0]! - 1) < 0.05);
  });

  test('a constant channel gets scale 1, and a mostly constant one a positive fallback scale', () => {
    const constant = new Float32Array(50).fill(7);
    const n = fitNormalisation([constant], ['c']).normalisation;
    assert.deepEqual(n.center, [7]);
    assert.deepEqual(n.scale, [1]);
    const mostly = new Float32Array(50).fill(7);
    mostly[3] = 9;
    const m = fitNormalisation([mostly], ['c']).normalisation;
    assert.ok(m.scale[0]! > 0 && m.scale[0]! < 1);
  });

  test('normalise then denormalise returns the original values within the limit, the limit beyond', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -1e4, max: 1e4, noNaN: true }), { minLength: 4, maxLength: 40 }),
        (list) => {
          const values = Float32Array.from(list.length % 2 === 0 ? list : list.slice(1));
          const { normalisation } = fitNormalisation([values], ['a', 'b']);
          const normalised = new Float32Array(values.length);
          normaliseInto(values, normalisation, normalised, 0);
          const out = normalised.slice();
          denormaliseInPlace(out, normalisation);
          values.forEach((v, i) => {
            const { center, scale } = normalisation;
            const exact = (v - center[i % 2]!) / scale[i % 2]!;
            if (Math.abs(exact) <= 0.999 * NORMALISED_LIMIT) {
              assert.ok(
                Math.abs(out[i]! - v) <= 1e-3 * Math.max(1, Math.abs(v)),
                `${v} → ${out[i]}`,
              );
            } else if (Math.abs(exact) >= 1.001 * NORMALISED_LIMIT) {
              assert.equal(normalised[i], Math.sign(exact) * NORMALISED_LIMIT, `${v}`);
            }
          });
        },
      ),
    );
  });
});

describe('windowsFromSeries', () => {
  test('cuts overlapping windows of consecutive rows', () => {
    const series = Float32Array.from([1, 10, 2, 20, 3, 30, 4, 40]);
    const windows = windowsFromSeries(series, 2, 3);
    assert.deepEqual(
      windows.map((w) => [...w]),
      [
        [1, 10, 2, 20, 3, 30],
        [2, 20, 3, 30, 4, 40],
      ],
    );
    assert.deepEqual(
      windowsFromSeries(series, 2, 2, 2).map((w) => [...w]),
      [
        [1, 10, 2, 20],
        [3, 30, 4, 40],
      ],
    );
    assert.deepEqual(windowsFromSeries(series, 2, 5), []);
  });

  test('values beyond the limit, Infinity included, are clamped to it, either side', () => {
    const normalisation = { method: 'median-iqr' as const, center: [10], scale: [2] };
    const values = Float32Array.from([
      10,
      12,
      1e20,
      -1e20,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    const out = new Float32Array(values.length);
    normaliseInto(values, normalisation, out, 0);
    assert.deepEqual(
      [...out],
      [0, 1, NORMALISED_LIMIT, -NORMALISED_LIMIT, NORMALISED_LIMIT, -NORMALISED_LIMIT],
    );
  });
});
