import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  listNabResults,
  readNabLabels,
  readNabResultsCsv,
} from '../../../src/cli/benchmark-files.ts';
import {
  bestNabThreshold,
  evaluateNab,
  labelNabRows,
  NAB_PROFILE_NAMES,
  NAB_PROFILES,
  type NabCostMatrix,
  type NabFile,
  nabProbationaryLength,
  nabScaledSigmoid,
  prepareNabCorpus,
  scoreNabFiles,
  sweepNabThresholds,
} from '../../../src/detector/evaluation/evaluate-nab.ts';
import { isTsadError } from '../../../src/errors.ts';
import { BENCHMARKS_DIR, skipWithoutBenchmarks } from './benchmarks-dir.ts';
import { throughPandasCsv } from './pandas-float.ts';

const STEP = 5 * 60_000;
const T0 = Date.UTC(2020, 0, 1);
const standard = NAB_PROFILES.standard;

/** A file of `rows` rows, 5 minutes apart, with score 1 at `detections` and windows by row index. */
function file(
  rows: number,
  detections: number[],
  windows: Array<[number, number]>,
  name = 'cat/file.csv',
): NabFile {
  const timestamps = Array.from({ length: rows }, (_, i) => T0 + i * STEP);
  const scores = Array.from({ length: rows }, (_, i) => (detections.includes(i) ? 1 : 0));
  return {
    name,
    timestamps,
    scores,
    windows: windows.map(([a, b]) => [T0 + a * STEP, T0 + b * STEP] as [number, number]),
  };
}

function scoreAt(files: NabFile[], threshold = 0.5, cost: NabCostMatrix = standard) {
  return scoreNabFiles(prepareNabCorpus(files), cost, threshold);
}

test('the probationary period is 15 % of the rows, at most 750', () => {
  assert.equal(nabProbationaryLength(1000), 150);
  assert.equal(nabProbationaryLength(4032), 604);
  assert.equal(nabProbationaryLength(22695), 750);
});

test('the scaled sigmoid is about +0.987 at -1, 0 at 0, and -1 beyond 3', () => {
  assert.ok(Math.abs(nabScaledSigmoid(-1) - 0.98661) < 1e-5);
  assert.equal(nabScaledSigmoid(0), 0);
  assert.equal(nabScaledSigmoid(3.0001), -1);
  assert.ok(nabScaledSigmoid(3) > -1);
});

test('a detection on the first row of a window earns exactly tpWeight', () => {
  const [result] = scoreAt([file(1000, [500], [[500, 599]])]);
  assert.equal(result?.score, 1);
  assert.deepEqual([result?.tp, result?.fn, result?.fp], [1, 99, 0]);
});

test('a detection on the last row of a wide window earns almost nothing', () => {
  const [result] = scoreAt([file(1000, [599], [[500, 599]])]);
  assert.ok(result !== undefined && result.score > 0 && result.score < 0.03, `${result?.score}`);
});

test('only the earliest detection in a window counts', () => {
  const [both] = scoreAt([file(1000, [520, 590], [[500, 599]])]);
  const [first] = scoreAt([file(1000, [520], [[500, 599]])]);
  assert.equal(both?.score, first?.score);
  assert.equal(both?.tp, 2);
});

test('a missed window costs fnWeight in every profile', () => {
  for (const name of NAB_PROFILE_NAMES) {
    const [result] = scoreAt([file(1000, [], [[500, 599]])], 0.5, NAB_PROFILES[name]);
    assert.equal(result?.score, -NAB_PROFILES[name].fnWeight);
  }
});

test('a false positive before the first window costs exactly fpWeight', () => {
  const [result] = scoreAt([file(1000, [300, 500], [[500, 599]])]);
  assert.equal(result?.score, 1 - 0.11);
  assert.equal(result?.fp, 1);
});

test('a false positive just after a window costs little, one far after it the full fpWeight', () => {
  const [near] = scoreAt([file(1000, [500, 600], [[500, 599]])]);
  const [far] = scoreAt([file(1000, [500, 999], [[500, 599]])]);
  const nearPenalty = 0.11 * nabScaledSigmoid(1 / 99);
  assert.equal(near?.score, 1 + nearPenalty);
  assert.ok(nearPenalty < 0 && nearPenalty > -0.01);
  assert.equal(far?.score, 1 - 0.11);
});

test('detections in the probationary period are not scored', () => {
  const [result] = scoreAt([file(1000, [10, 100, 149], [])]);
  assert.deepEqual(
    { score: result?.score, fp: result?.fp, tn: result?.tn },
    { score: 0, fp: 0, tn: 850 },
  );
});

test('a score equal to the threshold is a detection', () => {
  const f = file(1000, [], [[500, 599]]);
  const scores = [...(f.scores as number[])];
  scores[500] = 0.7;
  const [result] = scoreAt([{ ...f, scores }], 0.7);
  assert.equal(result?.score, 1);
});

test('a window bound that is not a row timestamp is rejected', () => {
  const f = file(1000, [], [[500, 599]]);
  const shifted = { ...f, windows: [[T0 + 500 * STEP + 1, T0 + 599 * STEP] as [number, number]] };
  assert.throws(
    () => prepareNabCorpus([shifted]),
    (e) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID'),
  );
});

test('row labels follow the windows and are probationary at the start', () => {
  const f = file(1000, [], [[500, 599]]);
  const labels = labelNabRows(f.name, f.timestamps, f.windows);
  assert.equal(labels.probationaryLength, 150);
  assert.deepEqual(
    [labels.window[499], labels.window[500], labels.window[599], labels.window[600]],
    [-1, 0, 0, -1],
  );
  assert.equal(labels.unweighted[499], -1);
});

test('the sweep starts with nothing detected and lists every distinct score, highest first', () => {
  const f = file(1000, [], [[500, 599]]);
  const scores = [...(f.scores as number[])];
  scores[300] = 0.95;
  scores[500] = 0.9;
  const sweep = sweepNabThresholds(prepareNabCorpus([{ ...f, scores }]), standard);
  assert.deepEqual(
    sweep.map((row) => row.threshold),
    [1.1, 0.95, 0.9, 0],
  );
  assert.equal(sweep[0]?.score, -1);
  assert.equal(sweep[1]?.score, -1 - 0.11);
  assert.equal(sweep[2]?.score, 1 - 0.11);
  assert.equal(bestNabThreshold(sweep).threshold, 0.9);
});

test('among thresholds with the same score the highest is chosen', () => {
  const f = file(1000, [], [[500, 599]]);
  const scores = [...(f.scores as number[])];
  scores[500] = 0.9;
  scores[510] = 0.8;
  const sweep = sweepNabThresholds(prepareNabCorpus([{ ...f, scores }]), standard);
  assert.equal(sweep[1]?.score, sweep[2]?.score);
  assert.equal(bestNabThreshold(sweep).threshold, 0.9);
});

test('a perfect detector scores 100 and one that detects nothing 0', () => {
  const files = [
    file(1000, [500], [[500, 599]], 'a/one.csv'),
    file(
      2000,
      [400, 1200],
      [
        [400, 450],
        [1200, 1300],
      ],
      'a/two.csv',
    ),
    file(1000, [], [], 'b/none.csv'),
  ];
  const perfect = evaluateNab(files);
  for (const name of NAB_PROFILE_NAMES) assert.equal(perfect.profiles[name].score, 100);
  const silent = evaluateNab(
    files.map((f) => ({ ...f, scores: new Array<number>(f.timestamps.length).fill(0) })),
  );
  for (const name of NAB_PROFILE_NAMES) {
    assert.equal(silent.profiles[name].score, 0);
    assert.equal(silent.profiles[name].threshold, 1.1);
  }
});

test('every sweep row equals scoring the files directly at its threshold', () => {
  const arbitraryFile = fc
    .record({
      rows: fc.integer({ min: 40, max: 120 }),
      levels: fc.array(fc.constantFrom(0, 0.25, 0.5, 0.75, 1), { minLength: 120, maxLength: 120 }),
      windowStarts: fc.uniqueArray(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
    })

    .map(({ rows, levels, windowStarts }): NabFile => {
      const starts = windowStarts
        .sort((a, b) => a - b)
        .map((k) => 10 + k * Math.floor((rows - 12) / 10));
      const width = Math.max(2, Math.floor((rows - 12) / 20));
      return {
        name: 'x/y.csv',
        timestamps: Array.from({ length: rows }, (_, i) => T0 + i * STEP),
        scores: levels.slice(0, rows),
        windows: starts.map(
          (s) => [T0 + s * STEP, T0 + (s + width - 1) * STEP] as [number, number],
        ),
      };
    });
  fc.assert(
    fc.property(fc.array(arbitraryFile, { minLength: 1, maxLength: 3 }), (raw) => {
      const files = raw.map((f, i) => ({ ...f, name: `c/f${i}.csv` }));
      const corpus = prepareNabCorpus(files);
      for (const name of NAB_PROFILE_NAMES) {
        const sweep = sweepNabThresholds(corpus, NAB_PROFILES[name]);
        const best = bestNabThreshold(sweep);
        for (const row of sweep) {
          assert.ok(row.score <= best.score);
          const perFile = scoreNabFiles(corpus, NAB_PROFILES[name], row.threshold);
          const total = perFile.reduce((sum, f) => sum + f.score, 0);
          assert.ok(Math.abs(total - row.score) < 1e-9, `${total} vs ${row.score}`);
          assert.equal(
            perFile.reduce((sum, f) => sum + f.tp, 0),
            row.tp,
          );
          assert.equal(
            perFile.reduce((sum, f) => sum + f.fp, 0),
            row.fp,
          );
          assert.equal(
            perFile.reduce((sum, f) => sum + f.fn, 0),
            row.fn,
          );
          assert.equal(
            perFile.reduce((sum, f) => sum + f.tn, 0),
            row.tn,
          );
        }
      }
    }),
    { numRuns: 60 },
  );
});

interface ExpectedFile {
  TP: number;
  FP: number;
  FN: number;
  TN: number;
  score: number;
}

test("reproduces NAB's per-file scores and counts of the Numenta HTM test vector", {
  skip: skipWithoutBenchmarks,
}, () => {
  const nab = path.join(BENCHMARKS_DIR, 'nab');
  const expected = JSON.parse(
    fs.readFileSync(path.join(nab, 'vectors/numenta/expected.json'), 'utf8'),
  ) as { profiles: Record<string, { threshold: number; files: Record<string, ExpectedFile> }> };
  const labels = readNabLabels(path.join(nab, 'labels/combined_windows.json'));
  const files = [...listNabResults(path.join(nab, 'vectors/numenta'))].map(([name, p]) => {
    const read = readNabResultsCsv(p);
    return { name, timestamps: read.timestamps, scores: read.scores, windows: labels[name] ?? [] };
  });
  assert.equal(files.length, 35);
  const corpus = prepareNabCorpus(files);
  let compared = 0;
  for (const name of NAB_PROFILE_NAMES) {
    const profile = expected.profiles[name];
    assert.ok(profile !== undefined, name);
    const perFile = scoreNabFiles(corpus, NAB_PROFILES[name], profile.threshold);
    assert.equal(perFile.length, Object.keys(profile.files).length);
    for (const f of perFile) {
      const want: ExpectedFile | undefined = profile.files[f.name];
      assert.ok(want !== undefined, f.name);
      assert.deepEqual(
        { TP: f.tp, FP: f.fp, FN: f.fn, TN: f.tn },
        { TP: want.TP, FP: want.FP, FN: want.FN, TN: want.TN },
        `${name} ${f.name}`,
      );
      // Exact to the last digit once the value takes the same CSV round trip
      // through pandas that the vector's numbers took (see pandas-float.ts).
      assert.equal(throughPandasCsv(f.score), want.score, `${name} ${f.name}: ${f.score}`);
      assert.ok(Math.abs(f.score - want.score) <= 4.5e-16, `${name} ${f.name}`);
      compared += 1;
    }
  }
  assert.equal(compared, 105);
});
