import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { SKAB_CHANNELS } from '../../../src/cli/benchmark-files.ts';
import { runCli } from '../../../src/cli/cli.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { tsadStoppedBySigterm } from '../cli/run-tsad.ts';
import { BENCHMARKS_DIR, skipWithoutBenchmarks } from './benchmarks-dir.ts';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _encoding, done) {
        append(String(chunk));
        done();
      },
    });
  const code = await runCli(args, {
    stdout: sink((s) => {
      stdout += s;
    }),
    stderr: sink((s) => {
      stderr += s;
    }),
  });
  return { code, stdout, stderr };
}

/** A tiny NAB corpus: one file with one window, detector "demo" flags the window start. */
function tinyNab(): { results: string; labels: string } {
  const dir = tempDir('tsad-evaluate-');
  const stamp = (i: number) =>
    new Date(Date.UTC(2020, 0, 1) + i * 300_000).toISOString().slice(0, 19).replace('T', ' ');
  const rows = Array.from({ length: 1000 }, (_, i) => `${stamp(i)},${i},${i === 500 ? 1 : 0}`);
  const file = path.join(dir, 'demo', 'cat', 'demo_one.csv');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `timestamp,value,anomaly_score\n${rows.join('\n')}\n`);
  const labels = path.join(dir, 'labels.json');
  fs.writeFileSync(
    labels,
    JSON.stringify({ 'cat/one.csv': [[stamp(500), stamp(599)]], 'cat/other.csv': [] }),
  );
  return { results: path.join(dir, 'demo'), labels };
}

test('evaluate --benchmark nab prints per-profile scores, thresholds and per-file counts', async () => {
  const { results, labels } = tinyNab();
  const { code, stdout } = await run([
    'evaluate',
    '--benchmark',
    'nab',
    '--results',
    results,
    '--labels',
    labels,
  ]);
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.equal(report.detector, 'demo');
  assert.equal(report.filesScored, 1);
  assert.deepEqual(report.filesNotScored, ['cat/other.csv']);
  for (const name of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) {
    assert.equal(report.profiles[name].score, 100);
    assert.equal(report.profiles[name].threshold, 1);
    assert.deepEqual(report.profiles[name].files['cat/one.csv'], {
      tp: 1,
      fp: 0,
      fn: 99,
      tn: 750,
      score: 1,
    });
  }
});

test('evaluate refuses NAB results for a file the labels do not know', async () => {
  const { results } = tinyNab();
  const labels = path.join(path.dirname(results), 'empty.json');
  fs.writeFileSync(labels, '{}');
  const { code, stderr } = await run([
    'evaluate',
    '--benchmark',
    'nab',
    '--results',
    results,
    '--labels',
    labels,
  ]);
  assert.equal(code, 1);
  assert.match(stderr, /does not label: cat\/one\.csv/);
});

test('evaluate names the system error when a file or folder cannot be read', async () => {
  const { results } = tinyNab();
  const missing = path.join(path.dirname(results), 'missing.json');
  const labels = await run([
    'evaluate',
    '--benchmark',
    'nab',
    '--results',
    results,
    '--labels',
    missing,
  ]);
  assert.equal(labels.code, 1);
  assert.equal(labels.stderr, `tsad: cannot read ${missing} (ENOENT: no such file or directory)\n`);
  const folder = path.join(path.dirname(results), 'no-such-folder');
  const skab = await run([
    'evaluate',
    '--benchmark',
    'skab',
    '--results',
    folder,
    '--input',
    folder,
  ]);
  assert.equal(skab.code, 1);
  assert.match(
    skab.stderr,
    /^tsad: cannot read folder .*no-such-folder \(ENOENT: no such file or directory\)\n$/,
  );
});

/** A tiny SKAB layout: data `valve1/1.csv` (410 rows) and results for its 10 test rows. */
function tinySkab(): { results: string; data: string } {
  const dir = tempDir('tsad-evaluate-');
  const stamp = (i: number) =>
    new Date(Date.UTC(2020, 0, 1) + i * 1000).toISOString().slice(0, 19).replace('T', ' ');
  const data = path.join(dir, 'data');
  const results = path.join(dir, 'results');
  fs.mkdirSync(path.join(data, 'valve1'), { recursive: true });
  fs.mkdirSync(path.join(results, 'valve1'), { recursive: true });
  const header = ['datetime', ...SKAB_CHANNELS, 'anomaly', 'changepoint'].join(';');
  const rows = Array.from({ length: 410 }, (_, i) =>
    [stamp(i), ...SKAB_CHANNELS.map(() => '1'), '0.0', '0.0'].join(';'),
  );
  fs.writeFileSync(path.join(data, 'valve1', '1.csv'), `${[header, ...rows].join('\n')}\n`);
  const predicted = Array.from({ length: 10 }, (_, i) => `${stamp(400 + i)};0;0`);
  fs.writeFileSync(
    path.join(results, 'valve1', '1.csv'),
    `${['datetime;anomaly;changepoint', ...predicted].join('\n')}\n`,
  );
  return { results, data };
}

test('evaluate stopped by SIGTERM prints no report and exits 1', async () => {
  const nab = tinyNab();
  const skab = tinySkab();
  for (const argv of [
    ['--benchmark', 'nab', '--results', nab.results, '--labels', nab.labels],
    ['--benchmark', 'skab', '--results', skab.results, '--input', skab.data],
  ]) {
    assert.equal((await run(['evaluate', ...argv])).code, 0, argv[1]);
    const stopped = await tsadStoppedBySigterm('evaluate', ...argv);
    assert.equal(stopped.code, 1, argv[1]);
    assert.equal(stopped.stderr, 'tsad: stopped by SIGTERM before finishing\n');
    assert.equal(stopped.stdout, '');
  }
});

test('evaluate refuses NAB results with a score outside [0, 1], naming the line', async () => {
  // (Repeated timestamps are not refused: NAB's own data repeats the hour a clock went back.)
  const { results, labels } = tinyNab();
  const file = path.join(results, 'cat', 'demo_one.csv');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines[11] = lines[11]!.replace(/,0$/, ',1.5');
  fs.writeFileSync(file, lines.join('\n'));
  const { code, stderr } = await run([
    'evaluate',
    '--benchmark',
    'nab',
    '--results',
    results,
    '--labels',
    labels,
  ]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /demo_one\.csv: line 12: anomaly_score 1\.5 is not in \[0, 1\]/);
});

test('evaluate without --labels for NAB is a usage error', async () => {
  const { results } = tinyNab();
  const { code, stderr } = await run(['evaluate', '--benchmark', 'nab', '--results', results]);
  assert.equal(code, 2);
  assert.match(stderr, /--labels/);
});

test('evaluate reproduces the NAB vector at its threshold from the command line', {
  skip: skipWithoutBenchmarks,
}, async () => {
  const nab = path.join(BENCHMARKS_DIR, 'nab');
  const expected = JSON.parse(
    fs.readFileSync(path.join(nab, 'vectors/numenta/expected.json'), 'utf8'),
  );
  const { code, stdout } = await run([
    'evaluate',
    '--benchmark',
    'nab',
    '--results',
    path.join(nab, 'vectors/numenta'),
    '--labels',
    path.join(nab, 'labels/combined_windows.json'),
    '--threshold',
    String(expected.profiles.standard.threshold),
  ]);
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.equal(report.filesScored, 35);
  const mine = report.profiles.standard.files['realKnownCause/nyc_taxi.csv'];
  const theirs = expected.profiles.standard.files['realKnownCause/nyc_taxi.csv'];
  assert.deepEqual(
    { TP: mine.tp, FP: mine.fp, FN: mine.fn, TN: mine.tn },
    { TP: theirs.TP, FP: theirs.FP, FN: theirs.FN, TN: theirs.TN },
  );
  assert.ok(Math.abs(mine.score - theirs.score) < 1e-15);
});

test('evaluate reproduces the SKAB T-squared vector from the command line', {
  skip: skipWithoutBenchmarks,
}, async () => {
  const skab = path.join(BENCHMARKS_DIR, 'skab');
  const { code, stdout } = await run([
    'evaluate',
    '--benchmark',
    'skab',
    '--results',
    path.join(skab, 'vectors/t2'),
    '--input',
    path.join(skab, 'data'),
  ]);
  assert.equal(code, 0);
  const report = JSON.parse(stdout);
  assert.deepEqual(
    [report.F1, report.FAR, report.MAR, report.filesScored],
    [0.65, 19.94, 44.05, 16],
  );
  assert.deepEqual(
    [report.changepoint.Standard, report.changepoint.LowFP, report.changepoint.LowFN],
    [22.4, 13.45, 27.63],
  );
});
