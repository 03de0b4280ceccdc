import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_NAB_CONFIG,
  DEFAULT_SKAB_CONFIG,
  mergeConfig,
} from '../../../src/cli/backtest/backtest-config.ts';
import {
  type NabBacktestConfig,
  nabProbationaryRows,
  rankCalibrate,
  reportedScores,
  runNabBacktest,
} from '../../../src/cli/backtest/nab.ts';
import { replaySeries } from '../../../src/cli/backtest/replay.ts';
import {
  differenced,
  holdPredictions,
  runSkabBacktest,
  type SkabBacktestConfig,
  smoothChannels,
} from '../../../src/cli/backtest/skab.ts';
import {
  formatBenchmarkTimestamp,
  readNabResultsCsv,
  readSkabResultsCsv,
  SKAB_CHANNELS,
} from '../../../src/cli/benchmark-files.ts';
import { evaluateSkabResults } from '../../../src/cli/commands/evaluate.ts';
import { isTsadError } from '../../../src/errors.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { mulberry32 } from '../../../src/model/train.ts';
import { tempDir } from '../../harness/temp-dir.ts';

const tiny = {
  windowSize: 8,
  hiddenUnits: [4],
  codeSize: 2,
  maxEpochs: 2,
  patience: 1,
  batchSize: 32,
};

const nabConfig: NabBacktestConfig = mergeConfig(DEFAULT_NAB_CONFIG, {
  model: tiny,
  threshold: { method: 'spot', q: 1e-2, initQuantile: 0.9 },
});

const skabConfig: SkabBacktestConfig = {
  ...nabConfig,
  reduction: 'window',
  useAnomalyFree: true,
  anomalyFreeStride: 4,
  holdRows: 3,
  differenceAbove: 0.8,
  changepoints: DEFAULT_SKAB_CONFIG.changepoints,
};

const START = Date.UTC(2024, 0, 1);

/** A noisy sine with a spike at `spikeAt`. */
function series(rows: number, seed: number, spikeAt = -1): number[] {
  const random = mulberry32(seed);
  return Array.from(
    { length: rows },
    (_, t) => 10 + Math.sin((2 * Math.PI * t) / 20) + 0.1 * random() + (t === spikeAt ? 8 : 0),
  );
}

function writeNabCsv(file: string, values: number[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lines = values.map((v, i) => `${formatBenchmarkTimestamp(START + i * 300_000)},${v}`);
  fs.writeFileSync(file, `timestamp,value\r\n${lines.join('\r\n')}\r\n`);
}

function writeSkabCsv(file: string, rows: number, seed: number, labelled: boolean): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const random = mulberry32(seed);
  const header = ['datetime', ...SKAB_CHANNELS, ...(labelled ? ['anomaly', 'changepoint'] : [])];
  const lines = [header.join(';')];
  for (let t = 0; t < rows; t++) {
    const fault = labelled && t >= 450 && t < 480;
    const values = SKAB_CHANNELS.map(
      (_, c) => c + Math.sin(t / 7 + c) + 0.05 * random() + (fault ? 3 : 0),
    );
    const labels = labelled ? [fault ? '1.0' : '0.0', t === 450 ? '1.0' : '0.0'] : [];
    lines.push(
      [formatBenchmarkTimestamp(START + t * 1000), ...values.map(String), ...labels].join(';'),
    );
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

describe('backtest', () => {
  let dir: string;
  before(async () => {
    await initBackend();
    dir = tempDir('tsad-backtest-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes one NAB results row per input row, scores in [0, 1], zero before the first window', async () => {
    const input = path.join(dir, 'nab', 'data');
    writeNabCsv(path.join(input, 'synthetic', 'spike.csv'), series(300, 1, 250));
    writeNabCsv(path.join(input, 'other', 'flat.csv'), series(200, 2));
    const out = path.join(dir, 'nab-out');
    const reports = await runNabBacktest({ input, out, config: nabConfig });
    assert.deepEqual(reports.map((r) => r.file).sort(), ['other/flat.csv', 'synthetic/spike.csv']);
    for (const [file, rows] of [
      ['synthetic/tsad_spike.csv', 300],
      ['other/tsad_flat.csv', 200],
    ] as const) {
      const resultsFile = path.join(out, 'tsad', file);
      const header = fs.readFileSync(resultsFile, 'utf8').split('\n')[0];
      assert.equal(header, 'timestamp,value,anomaly_score');
      const results = readNabResultsCsv(resultsFile);
      assert.equal(results.scores.length, rows);
      assert.equal(results.timestamps[0], START);
      for (const s of results.scores) assert.ok(s >= 0 && s <= 1, `score ${s}`);
      for (let i = 0; i < tiny.windowSize - 1; i++) assert.equal(results.scores[i], 0);
    }
  });

  it('writes a PNG per file with --plot', async () => {
    const input = path.join(dir, 'plot', 'data');
    writeNabCsv(path.join(input, 'synthetic', 'spike.csv'), series(200, 3, 180));
    const out = path.join(dir, 'plot-out');
    await runNabBacktest({ input, out, config: nabConfig, plot: true });
    const png = fs.readFileSync(path.join(out, 'tsad', 'synthetic', 'tsad_spike.png'));
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  });

  it('does not look ahead: changing rows from k on leaves the scores before k unchanged', async () => {
    const rows = 400;
    const fitRows = nabProbationaryRows(rows);
    const base = series(rows, 4);
    const k = 300;
    const changed = base.map((v, i) => (i >= k ? v + 50 * Math.sin(i) : v));
    const timestamps = base.map((_, i) => START + i * 60_000);
    const run = (values: number[]) =>
      replaySeries(
        { values: Float32Array.from(values), timestamps, channels: ['value'], fitRows },
        nabConfig,
      );
    const a = await run(base);
    const b = await run(changed);
    for (let i = 0; i < k; i++) {
      assert.equal(a.calibrated[i], b.calibrated[i], `calibrated score of row ${i}`);
      assert.ok(Object.is(a.raw[i], b.raw[i]), `raw score of row ${i}`);
    }
    // The change is visible from k on, so the comparison above could fail.
    let differs = false;
    for (let i = k; i < rows; i++) if (a.raw[i] !== b.raw[i]) differs = true;
    assert.ok(differs);
  });

  it('reports a flagged event once and keeps probationary rows at zero', () => {
    const calibrated = [0.9, 0.9, 0.2, 0.7, 0.8, 0.6, 0.1, 0.1, 0.9];
    const out = reportedScores(calibrated, 2, 3, 0, 0.5);
    assert.deepEqual(Array.from(out), [0, 0, 0.2, 0.7, 0, 0, 0, 0.1, 0.9]);
  });

  it('rank-calibrates each score against earlier scores only, higher for rarer scores', () => {
    const raw = [Number.NaN, 1, 2, 3, 2, 0.5, 10];
    const out = rankCalibrate(raw);
    // A new maximum after n earlier scores has tail probability 1 / (n + 1).
    assert.equal(out[0], 0);
    assert.equal(out[1], 0);
    assert.ok(Math.abs(out[3]! - Math.log10(3) / 4) < 1e-12);
    assert.ok(Math.abs(out[6]! - Math.log10(6) / 4) < 1e-12);
    // 2 after {1, 2, 3}: two earlier scores ≥ 2, p = 3 / 4.
    assert.ok(Math.abs(out[4]! + Math.log10(3 / 4) / 4) < 1e-12);
    assert.ok(out[5]! < out[4]!);
    // Later rows do not change earlier scores.
    const changed = rankCalibrate([...raw.slice(0, 4), 100, 100, 100]);
    assert.deepEqual(Array.from(changed.subarray(0, 4)), Array.from(out.subarray(0, 4)));
  });

  it('counts a score as rare only when it exceeds earlier scores by the margin', () => {
    const raw = [10, 10, 10, 10, 11, 14];
    const plain = rankCalibrate(raw);
    const withMargin = rankCalibrate(raw, 0.2);
    // 11 is a new maximum, but within 20 % of the earlier 10s: p = 5 / 5 = 1.
    assert.ok(plain[4]! > 0);
    assert.equal(withMargin[4], 0);
    // 0.8 · 14 > 11: a new maximum even with the margin.
    assert.ok(Math.abs(withMargin[5]! - Math.log10(6) / 4) < 1e-12);
  });

  it('holds a SKAB prediction forward only', () => {
    assert.deepEqual(
      Array.from(holdPredictions([0, 1, 0, 0, 0, 0, 1, 0], 2)),
      [0, 1, 1, 1, 0, 0, 1, 1],
    );
  });

  it('calls a channel smooth by the lag-1 autocorrelation of its fitting rows only', () => {
    const random = mulberry32(9);
    const rows = 200;
    // Channels: a slow drift, white noise, a constant; after row 100 the noise channel drifts.
    const values = new Float32Array(rows * 3);
    for (let r = 0; r < rows; r++) {
      values[r * 3] = 20 + r / 10 + 0.01 * random();
      values[r * 3 + 1] = random() + (r >= 100 ? r : 0);
      values[r * 3 + 2] = 7;
    }
    assert.deepEqual(smoothChannels(values, 3, 100, 0.8), [true, false, false]);
    assert.deepEqual(smoothChannels(values, 3, rows, 0.8), [true, true, false]);
  });

  it('gives the chosen channels as first differences, 0 on the first row', () => {
    const values = Float32Array.from([1, 10, 3, 20, 6, 40]);
    assert.deepEqual(Array.from(differenced(values, 2, [true, false])), [0, 10, 2, 20, 3, 40]);
    assert.deepEqual(Array.from(differenced(values, 2, [false, true])), [1, 0, 3, 10, 6, 20]);
    assert.deepEqual(Array.from(values), [1, 10, 3, 20, 6, 40]);
  });

  it('refuses a SKAB --out that is the input folder or would write onto an input file', async () => {
    const input = path.join(dir, 'skab-same', 'data');
    const data = path.join(input, 'valve1', '1.csv');
    writeSkabCsv(data, 460, 8, true);
    const before = fs.readFileSync(data, 'utf8');
    await assert.rejects(
      runSkabBacktest({ input, out: input, config: skabConfig }),
      (e) =>
        isTsadError(e, 'TSAD_ERR_INPUT_INVALID') && /: it is the input folder /.test(e.message),
    );
    // A results folder whose <folder> is a link to the input's own.
    const out = path.join(dir, 'skab-linked-out');
    fs.mkdirSync(out);
    fs.symlinkSync(path.join(input, 'valve1'), path.join(out, 'valve1'));
    await assert.rejects(
      runSkabBacktest({ input, out, config: skabConfig }),
      /valve1\/1\.csv would overwrite an input file/,
    );
    assert.equal(fs.readFileSync(data, 'utf8'), before);
    assert.deepEqual(fs.readdirSync(path.join(input, 'valve1')), ['1.csv']);
  });

  it('names the file when one is too short to fit a window in its probationary rows', async () => {
    const input = path.join(dir, 'nab-short', 'data');
    writeNabCsv(path.join(input, 'synthetic', 'tiny.csv'), series(15, 3));
    await assert.rejects(
      runNabBacktest({ input, out: path.join(dir, 'nab-short-out'), config: nabConfig }),
      (e: unknown) =>
        isTsadError(e, 'TSAD_ERR_INPUT_INVALID') &&
        /^synthetic\/tiny\.csv: only \d+ windows/.test(e.message),
    );
  });

  it('refuses a NAB --out that is the input folder', async () => {
    const input = path.join(dir, 'nab-same', 'data');
    writeNabCsv(path.join(input, 'synthetic', 'spike.csv'), series(200, 4));
    await assert.rejects(
      runNabBacktest({ input, out: input, config: nabConfig }),
      (e) =>
        isTsadError(e, 'TSAD_ERR_INPUT_INVALID') && /: it is the input folder /.test(e.message),
    );
    assert.deepEqual(fs.readdirSync(input), ['synthetic']);
  });

  it('refuses an --out that is a file, or lies below one, before replaying anything', async () => {
    const input = path.join(dir, 'out-file', 'data');
    writeNabCsv(path.join(input, 'synthetic', 'spike.csv'), series(200, 4));
    writeSkabCsv(path.join(input, 'valve1', '1.csv'), 460, 8, true);
    const file = path.join(dir, 'out-file', 'results.txt');
    fs.writeFileSync(file, 'kept\n');
    for (const out of [file, path.join(file, 'deeper')]) {
      const refused = (e: unknown) =>
        isTsadError(e, 'TSAD_ERR_INPUT_INVALID') &&
        e.message === `refusing to write results to ${out}: ${file} is not a folder`;
      await assert.rejects(runNabBacktest({ input, out, config: nabConfig }), refused);
      await assert.rejects(runSkabBacktest({ input, out, config: skabConfig }), refused);
    }
    assert.equal(fs.readFileSync(file, 'utf8'), 'kept\n');
  });

  it('writes SKAB predictions for the test part of every file', async () => {
    const input = path.join(dir, 'skab', 'data');
    writeSkabCsv(path.join(input, 'valve1', '1.csv'), 520, 5, true);
    writeSkabCsv(path.join(input, 'valve1', '2.csv'), 460, 6, true);
    writeSkabCsv(path.join(input, 'anomaly-free', 'anomaly-free.csv'), 300, 7, false);
    const out = path.join(dir, 'skab-out');
    const reports = await runSkabBacktest({ input, out, config: skabConfig });
    assert.deepEqual(
      reports.map((r) => [r.file, r.testRows]),
      [
        ['valve1/1.csv', 120],
        ['valve1/2.csv', 60],
      ],
    );
    const text = fs.readFileSync(path.join(out, 'valve1', '1.csv'), 'utf8');
    assert.equal(text.split('\n')[0], 'datetime;anomaly;changepoint');
    const results = readSkabResultsCsv(path.join(out, 'valve1', '1.csv'));
    assert.equal(results.timestamps.length, 120);
    assert.equal(results.timestamps[0], START + 400 * 1000);
    // The evaluator accepts them (same rows and timestamps as the test parts).
    const report = await evaluateSkabResults({ resultsDir: out, dataDir: input });
    assert.equal(report.filesScored, 2);
    assert.equal(report.rows, 180);
  });

  it('stops a SKAB backtest aborted from a timer (as a signal handler aborts) and writes nothing', async () => {
    const input = path.join(dir, 'skab-abort', 'data');
    writeSkabCsv(path.join(input, 'valve1', '1.csv'), 460, 8, true);
    writeSkabCsv(path.join(input, 'valve1', '2.csv'), 460, 9, true);
    const out = path.join(dir, 'skab-abort-out');
    const controller = new AbortController();
    const reason = new Error('SIGTERM');
    const run = runSkabBacktest({ input, out, config: skabConfig, signal: controller.signal });
    setImmediate(() => controller.abort(reason));
    await assert.rejects(run, (e) => e === reason);
    assert.equal(fs.existsSync(out), false);
  });
});
