import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  listSkabFiles,
  readSkabCsv,
  readSkabResultsCsv,
  SKAB_FIT_ROWS,
} from '../../../src/cli/benchmark-files.ts';
import {
  evaluateSkab,
  predictedChangepoints,
  SKAB_PROFILES,
  type SkabPart,
  skabBinaryMetrics,
  skabChangepointMetrics,
  skabChangepointWindows,
  skabRampCredit,
} from '../../../src/detector/evaluation/evaluate-skab.ts';
import { roundHalfEven } from '../../../src/detector/evaluation/round-half-even.ts';
import { BENCHMARKS_DIR, skipWithoutBenchmarks } from './benchmarks-dir.ts';

const T0 = Date.UTC(2020, 2, 9, 10, 0, 0);

/** A part of `rows` rows one second apart with changepoints and detections by row index. */
function part(
  rows: number,
  trueCps: number[],
  detections: number[],
  anomaly: { truth?: number[]; predicted?: number[] } = {},
): SkabPart {
  const flags = (at: number[]) => Array.from({ length: rows }, (_, i) => (at.includes(i) ? 1 : 0));
  return {
    name: 'valve1/0.csv',
    timestamps: Array.from({ length: rows }, (_, i) => T0 + i * 1000),
    trueAnomaly: anomaly.truth ?? flags([]),
    trueChangepoint: flags(trueCps),
    predictedAnomaly: anomaly.predicted ?? flags([]),
    predictedChangepoint: flags(detections),
  };
}

test('changepoints of a prediction are its changes, the first row its own value', () => {
  assert.deepEqual([...predictedChangepoints([1, 1, 0, 0, 1])], [1, 0, 1, 0, 1]);
  assert.deepEqual([...predictedChangepoints([0, 0, 1])], [0, 0, 1]);
});

test('point-wise F1, FAR and MAR follow their formulas over all parts', () => {
  const truth = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
  const predicted = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0];
  const metrics = skabBinaryMetrics([part(10, [], [], { truth, predicted })]);
  assert.deepEqual(
    { TP: metrics.TP, TN: metrics.TN, FP: metrics.FP, FN: metrics.FN },
    { TP: 3, TN: 5, FP: 1, FN: 1 },
  );
  assert.equal(metrics.F1, 0.75);
  assert.equal(metrics.FAR, roundHalfEven((100 * 1) / 6, 2));
  assert.equal(metrics.MAR, 25);
});

test('a window that reaches into the next makes the next start where it ends', () => {
  const p = part(200, [10, 40, 150], []);
  assert.deepEqual(skabChangepointWindows(p.timestamps, p.trueChangepoint), [
    [T0 + 10_000, T0 + 70_000],
    [T0 + 70_000, T0 + 100_000],
    [T0 + 150_000, T0 + 210_000],
  ]);
});

test('the ramp credits A_tp at the window start and A_fp at its end', () => {
  for (const cost of Object.values(SKAB_PROFILES)) {
    assert.ok(Math.abs(skabRampCredit(0, cost) - cost.aTp) < 1e-12);
    assert.ok(Math.abs(skabRampCredit(1, cost) - cost.aFp) < 1e-12);
    const middle = skabRampCredit(0.5, cost);
    assert.ok(Math.abs(middle - (cost.aTp + cost.aFp) / 2) < 0.01);
  }
});

test('detecting every changepoint at once scores 100, detecting none 0', () => {
  const perfect = skabChangepointMetrics([part(300, [20, 150], [20, 150])]);
  assert.deepEqual([perfect.Standard, perfect.LowFP, perfect.LowFN], [100, 100, 100]);
  const none = skabChangepointMetrics([part(300, [20, 150], [])]);
  assert.deepEqual([none.Standard, none.LowFP, none.LowFN], [0, 0, 0]);
  assert.equal(none.missedChangepoints, 2);
});

test('a changepoint outside every window costs A_fp, one inside does not', () => {
  const metrics = skabChangepointMetrics([part(300, [20], [20, 50, 81, 200])]);
  // 50 lies in [20, 80]; 81 and 200 do not.
  assert.equal(metrics.falsePositives, 2);
  const expected = (100 * (1 + 2 * -0.11 - -1)) / (1 - -1);
  assert.equal(metrics.Standard, roundHalfEven(expected, 2));
});

test('rounding matches Python round(): ties go to the even digit', () => {
  assert.equal(roundHalfEven(0.125, 2), 0.12);
  assert.equal(roundHalfEven(0.375, 2), 0.38);
  assert.equal(roundHalfEven(-0.125, 2), -0.12);
  assert.equal(roundHalfEven(2.675, 2), 2.67);
  assert.equal(roundHalfEven(22.399999, 2), 22.4);
});

test("reproduces the SKAB leaderboard code's metrics for the T-squared test vector", {
  skip: skipWithoutBenchmarks,
}, () => {
  const skab = path.join(BENCHMARKS_DIR, 'skab');
  const expected = JSON.parse(fs.readFileSync(path.join(skab, 'vectors/t2/expected.json'), 'utf8'));
  const names = listSkabFiles(path.join(skab, 'vectors/t2'));
  assert.equal(names.length, 16);
  const parts = names.map((name) => {
    const data = readSkabCsv(path.join(skab, 'data', name));
    const results = readSkabResultsCsv(path.join(skab, 'vectors/t2', name));
    assert.deepEqual([...predictedChangepoints(results.anomaly)], [...results.changepoint]);
    return {
      name,
      timestamps: results.timestamps,
      trueAnomaly: data.anomaly.subarray(SKAB_FIT_ROWS),
      trueChangepoint: data.changepoint.subarray(SKAB_FIT_ROWS),
      predictedAnomaly: results.anomaly,
      predictedChangepoint: results.changepoint,
    };
  });
  const evaluation = evaluateSkab(parts);
  const { binary, nab } = expected;
  assert.deepEqual(
    {
      F1: evaluation.F1,
      FAR: evaluation.FAR,
      MAR: evaluation.MAR,
      TP: evaluation.TP,
      TN: evaluation.TN,
      FP: evaluation.FP,
      FN: evaluation.FN,
    },
    binary,
  );
  assert.deepEqual(
    {
      Standard: evaluation.changepoint.Standard,
      LowFP: evaluation.changepoint.LowFP,
      LowFN: evaluation.changepoint.LowFN,
      missed_CPs: evaluation.changepoint.missedChangepoints,
      FPs: evaluation.changepoint.falsePositives,
      n_true_CPs: evaluation.changepoint.trueChangepoints,
    },
    nab,
  );
});
