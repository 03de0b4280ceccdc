import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  changepointFlags,
  changesOf,
  levelShiftScores,
  type SkabChangepointConfig,
} from '../../../src/cli/backtest/skab-changepoints.ts';
import { mulberry32 } from '../../../src/detector/seeded-random.ts';

/** Two channels of noise; from `shiftAt` on the first channel sits `shift` higher. */
function twoChannels(rows: number, shiftAt: number, shift: number, seed: number): Float64Array {
  const random = mulberry32(seed);
  const out = new Float64Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    out[r * 2] = 5 + random() + (r >= shiftAt ? shift : 0);
    out[r * 2 + 1] = 100 + 50 * random();
  }
  return out;
}

const config: SkabChangepointConfig = {
  source: 'level-shift',
  span: 20,
  window: 4,
  threshold: { method: 'dspot', q: 1e-3, initQuantile: 0.98, depth: 50 },
};

describe('SKAB changepoints', () => {
  it('marks where a 0/1 sequence changes and the first element as it is', () => {
    assert.deepEqual(Array.from(changesOf([1, 1, 0, 0, 1])), [1, 0, 1, 0, 1]);
    assert.deepEqual(Array.from(changesOf([0, 0, 1, 1, 1, 0])), [0, 0, 1, 0, 0, 1]);
  });

  it('scores a level shift high for a while after it and then takes it as the new level', () => {
    const values = twoChannels(600, 400, 10, 1);
    const scores = levelShiftScores(values, 2, 300, config);
    assert.ok(Number.isNaN(scores[2]!) && Number.isFinite(scores[3]!));
    const before = Math.max(...scores.slice(300, 400));
    assert.ok(scores[403]! > 20 * before, `${scores[403]} vs ${before}`);
    // Five spans later the shifted level is the moving level: scores are back to normal.
    assert.ok(Math.max(...scores.slice(550, 600)) < 3 * before);
  });

  it('weighs each channel by its own noise, not by its units', () => {
    // A shift of 4 noise widths in the quiet channel must outscore the loud channel's noise.
    const values = twoChannels(500, 400, 4, 2);
    const scores = levelShiftScores(values, 2, 300, config);
    assert.ok(scores[402]! > Math.max(...scores.slice(300, 400)));
  });

  it('is causal: rows after k change nothing up to k', () => {
    const a = twoChannels(500, 450, 10, 3);
    const b = a.slice();
    for (let i = 420 * 2; i < b.length; i++) b[i] = b[i]! * 3 + 7;
    const flagsA = changepointFlags({ values: a, channels: 2, fitRows: 300, flags: [] }, config);
    const flagsB = changepointFlags({ values: b, channels: 2, fitRows: 300, flags: [] }, config);
    assert.deepEqual(Array.from(flagsA.subarray(0, 420)), Array.from(flagsB.subarray(0, 420)));
    assert.deepEqual(
      Array.from(levelShiftScores(a, 2, 300, config).subarray(0, 420)),
      Array.from(levelShiftScores(b, 2, 300, config).subarray(0, 420)),
    );
  });

  it('flags the rows right after a shift and none of the quiet rows before it', () => {
    const values = twoChannels(600, 400, 10, 4);
    const flags = changepointFlags({ values, channels: 2, fitRows: 300, flags: [] }, config);
    assert.equal(flags[401], 1);
    assert.equal(
      flags.subarray(300, 400).reduce((n, f) => n + f, 0),
      0,
    );
  });

  it('passes the outlier flags through when they are the source', () => {
    const flags = changepointFlags(
      { values: new Float64Array(8), channels: 2, fitRows: 2, flags: [0, 1, 1, 0] },
      { ...config, source: 'flags' },
    );
    assert.deepEqual(Array.from(flags), [0, 1, 1, 0]);
  });
});
