import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  formatBenchmarkTimestamp,
  listNabResults,
  listSkabFiles,
  nabResultsPath,
  parseBenchmarkTimestamp,
  readNabDataCsv,
  readNabLabels,
  readNabResultsCsv,
  readSkabCsv,
  readSkabResultsCsv,
  SKAB_CHANNELS,
  writeNabResultsCsv,
  writeSkabResultsCsv,
} from '../../../src/cli/benchmark-files.ts';
import { isTsadError } from '../../../src/errors.ts';

const BENCHMARK_FILES = fileURLToPath(
  new URL('../../../src/cli/benchmark-files.ts', import.meta.url),
);

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A new directory under the system's temporary one, removed when the file's tests end. */
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsad-bench-files-'));
  tempDirs.push(dir);
  return dir;
}

test('benchmark timestamps parse as UTC with or without a fraction, and format back', () => {
  const t = parseBenchmarkTimestamp('2014-04-10 07:15:00');
  assert.equal(t, Date.UTC(2014, 3, 10, 7, 15, 0));
  assert.equal(parseBenchmarkTimestamp('2014-04-10 07:15:00.000000'), t);
  assert.equal(formatBenchmarkTimestamp(t), '2014-04-10 07:15:00');
  assert.ok(Number.isNaN(parseBenchmarkTimestamp('10/04/2014')));
});

test('a NAB data file with CRLF or lone-CR line ends reads without stray carriage returns', () => {
  const dir = tempDir();
  const file = path.join(dir, 'x.csv');
  for (const end of ['\r\n', '\r']) {
    fs.writeFileSync(
      file,
      ['timestamp,value', '2014-07-01 00:00:00,10844', '2014-07-01 00:30:00,8127.5', ''].join(end),
    );
    const series = readNabDataCsv(file);
    assert.deepEqual(series.timestampText, ['2014-07-01 00:00:00', '2014-07-01 00:30:00']);
    assert.deepEqual(series.values, [10844, 8127.5]);
  }
});

test('quoted cells read as in any CSV, in NAB and SKAB files alike', () => {
  const dir = tempDir();
  const nab = path.join(dir, 'nab.csv');
  fs.writeFileSync(
    nab,
    '"timestamp","value"\n"2014-07-01 00:00:00","10844"\n"2014-07-01 00:30:00",8127.5\n',
  );
  const series = readNabDataCsv(nab);
  assert.deepEqual(series.timestampText, ['2014-07-01 00:00:00', '2014-07-01 00:30:00']);
  assert.deepEqual(series.values, [10844, 8127.5]);
  const skab = path.join(dir, 'skab.csv');
  fs.writeFileSync(skab, '"datetime";"anomaly";"changepoint"\n"2020-01-01 00:00:00";"1";0\n');
  assert.deepEqual([...readSkabResultsCsv(skab).anomaly], [1]);
});

test('a non-numeric value is reported with its line', () => {
  const dir = tempDir();
  const file = path.join(dir, 'x.csv');
  fs.writeFileSync(file, 'timestamp,value\n2014-07-01 00:00:00,abc\n');
  assert.throws(
    () => readNabDataCsv(file),
    (e) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID') && /line 2/.test(e.message),
  );
});

test('a row with fewer cells than the header is reported with its line and cell count', () => {
  const dir = tempDir();
  const nab = path.join(dir, 'nab.csv');
  fs.writeFileSync(nab, 'timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:05:00\n');
  const nabResults = path.join(dir, 'nab-results.csv');
  fs.writeFileSync(nabResults, 'timestamp,anomaly_score\n2014-07-01 00:00:00\n');
  const skabResults = path.join(dir, 'skab-results.csv');
  fs.writeFileSync(skabResults, 'datetime;anomaly;changepoint\n2020-01-01 00:00:00;0\n');
  for (const [read, file, message] of [
    [readNabDataCsv, nab, `${nab}: line 3: 1 cells, the header has 2`],
    [readNabResultsCsv, nabResults, `${nabResults}: line 2: 1 cells, the header has 2`],
    [readSkabResultsCsv, skabResults, `${skabResults}: line 2: 2 cells, the header has 3`],
  ] as const) {
    assert.throws(
      () => read(file),
      (e) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID') && e.message === message,
    );
  }
});

test('NAB results are written in NAB layout and read back, with or without a value column', () => {
  const dir = tempDir();
  const file = nabResultsPath(dir, 'tsad', 'realKnownCause/nyc_taxi.csv');
  assert.equal(file, path.join(dir, 'tsad', 'realKnownCause', 'tsad_nyc_taxi.csv'));
  writeNabResultsCsv(file, {
    timestampText: ['2014-07-01 00:00:00', '2014-07-01 00:30:00'],
    values: [1, 2.5],
    scores: [0, 0.75],
  });
  assert.equal(
    fs.readFileSync(file, 'utf8'),
    'timestamp,value,anomaly_score\n2014-07-01 00:00:00,1,0\n2014-07-01 00:30:00,2.5,0.75\n',
  );
  const read = readNabResultsCsv(file);
  assert.deepEqual(read.scores, [0, 0.75]);
  assert.deepEqual(read.values, [1, 2.5]);
  assert.deepEqual(
    [...listNabResults(path.join(dir, 'tsad'))],
    [['realKnownCause/nyc_taxi.csv', file]],
  );

  const reduced = path.join(dir, 'numenta', 'c', 'numenta_f.csv');
  fs.mkdirSync(path.dirname(reduced), { recursive: true });
  fs.writeFileSync(reduced, 'timestamp,anomaly_score\n2014-07-01 00:00:00,0.5\n');
  assert.deepEqual(readNabResultsCsv(reduced).scores, [0.5]);
  assert.equal(readNabResultsCsv(reduced).values, undefined);
});

test('the results writer refuses scores outside [0, 1] and detector names with "_"', () => {
  const dir = tempDir();
  for (const bad of [Number.NaN, 1.5, -0.1]) {
    assert.throws(
      () =>
        writeNabResultsCsv(path.join(dir, 'a.csv'), {
          timestampText: ['2014-07-01 00:00:00'],
          values: [1],
          scores: [bad],
        }),
      (e) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID'),
    );
  }
  assert.throws(
    () => nabResultsPath(dir, 'my_detector', 'a/b.csv'),
    (e) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID'),
  );
});

test('a results write that fails part way leaves the previous file whole', () => {
  const dir = tempDir();
  const nab = path.join(dir, 'nab.csv');
  const skab = path.join(dir, 'skab.csv');
  fs.writeFileSync(nab, 'previous\n');
  fs.writeFileSync(skab, 'previous\n');
  // Rows enough to pass a 4-block file size limit, so the write fails with EFBIG.
  const script = `
    import { writeNabResultsCsv, writeSkabResultsCsv } from ${JSON.stringify(BENCHMARK_FILES)};
    const timestampText = Array(500).fill('2024-01-01 00:00:00');
    const zeros = Array(500).fill(0);
    for (const write of [
      () => writeNabResultsCsv(${JSON.stringify(nab)}, { timestampText, values: zeros, scores: zeros }),
      () => writeSkabResultsCsv(${JSON.stringify(skab)}, { timestampText, anomaly: zeros }),
    ]) {
      try { write(); } catch (error) { console.log(error.message); }
    }`;
  const child = spawnSync(
    'sh',
    ['-c', 'ulimit -f 4 && exec "$@"', 'sh', process.execPath, '--import', 'tsx'],
    { input: script, encoding: 'utf8' },
  );
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /cannot write .*nab\.csv: .*file too large/);
  assert.match(child.stdout, /cannot write .*skab\.csv: .*file too large/);
  assert.equal(fs.readFileSync(nab, 'utf8'), 'previous\n');
  assert.equal(fs.readFileSync(skab, 'utf8'), 'previous\n');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['nab.csv', 'skab.csv']);
  fs.rmSync(dir, { recursive: true });
});

test('NAB labels read as epoch-millisecond windows', () => {
  const dir = tempDir();
  const file = path.join(dir, 'labels.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      'a/b.csv': [['2014-04-10 07:15:00.000000', '2014-04-11 16:45:00.000000']],
      'a/c.csv': [],
    }),
  );
  assert.deepEqual(readNabLabels(file), {
    'a/b.csv': [[Date.UTC(2014, 3, 10, 7, 15), Date.UTC(2014, 3, 11, 16, 45)]],
    'a/c.csv': [],
  });
});

test('NAB labels saved with a UTF-8 BOM read as without one', () => {
  const file = path.join(tempDir(), 'labels.json');
  fs.writeFileSync(file, '\uFEFF{"a/b.csv": [["2014-04-10 07:15:00", "2014-04-11 16:45:00"]]}');
  assert.deepEqual(readNabLabels(file), {
    'a/b.csv': [[Date.UTC(2014, 3, 10, 7, 15), Date.UTC(2014, 3, 11, 16, 45)]],
  });
});

test('a SKAB file reads its 8 channels and float 0/1 labels; results round-trip with derived changepoints', () => {
  const dir = tempDir();
  const data = path.join(dir, 'data', 'valve1', '0.csv');
  fs.mkdirSync(path.dirname(data), { recursive: true });
  const header = ['datetime', ...SKAB_CHANNELS, 'anomaly', 'changepoint'].join(';');
  const row = (t: string, a: string, c: string) => [t, 1, 2, 3, 4, 5, 6, 7, 8, a, c].join(';');
  fs.writeFileSync(
    data,
    `${header}\r\n${row('2020-03-09 10:14:33', '0.0', '0.0')}\r\n${row('2020-03-09 10:14:34', '1.0', '1.0')}\r\n`,
  );
  const series = readSkabCsv(data);
  assert.deepEqual(series.values[1], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...series.anomaly], [0, 1]);
  assert.deepEqual([...series.changepoint], [0, 1]);

  const out = path.join(dir, 'out', 'valve1', '0.csv');
  writeSkabResultsCsv(out, { timestampText: series.timestampText, anomaly: [1, 1] });
  assert.equal(
    fs.readFileSync(out, 'utf8'),
    'datetime;anomaly;changepoint\n2020-03-09 10:14:33;1;1\n2020-03-09 10:14:34;1;0\n',
  );
  const results = readSkabResultsCsv(out);
  assert.deepEqual([...results.anomaly], [1, 1]);
  assert.deepEqual([...results.changepoint], [1, 0]);

  // A changepoint column of its own replaces the one derived from the predictions.
  writeSkabResultsCsv(out, {
    timestampText: series.timestampText,
    anomaly: [1, 1],
    changepoint: [0, 1],
  });
  assert.deepEqual([...readSkabResultsCsv(out).changepoint], [0, 1]);
  assert.throws(
    () =>
      writeSkabResultsCsv(out, {
        timestampText: series.timestampText,
        anomaly: [1, 1],
        changepoint: [0],
      }),
    /disagree in length/,
  );
});

test('SKAB files are listed by folder and numerically, without the anomaly-free file', () => {
  const dir = tempDir();
  for (const f of [
    'valve1/10.csv',
    'valve1/2.csv',
    'valve2/0.csv',
    'anomaly-free/anomaly-free.csv',
  ]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), '');
  }
  assert.deepEqual(listSkabFiles(dir), ['valve1/2.csv', 'valve1/10.csv', 'valve2/0.csv']);
});
