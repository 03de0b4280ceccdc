import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../../harness/temp-dir.ts';
import { periodicSeries } from '../model/fixtures.ts';
import { tsad, tsadStoppedBySigterm } from './run-tsad.ts';

let dir: string;
let csv: string;
let model: string;
const W = 12;
const ROWS = 120;

/** A CSV with ISO timestamps, two channels and a third column to ignore. */
async function writeSeries(file: string, rows: number, spikeRow?: number): Promise<void> {
  const values = periodicSeries(rows, { channels: 2, seed: 1 });
  const lines = ['timestamp,temp,pressure,note'];
  for (let r = 0; r < rows; r++) {
    const temp = values[2 * r]! + (r === spikeRow ? 5 : 0);
    lines.push(
      `${new Date(Date.UTC(2026, 0, 1) + r * 60_000).toISOString()},${temp},${values[2 * r + 1]},7`,
    );
  }
  await fs.writeFile(file, `${lines.join('\n')}\n`);
}

before(async () => {
  dir = tempDir('tsad-cli-');
  csv = path.join(dir, 'train.csv');
  model = path.join(dir, 'model');
  await writeSeries(csv, ROWS);
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('tsad train and tsad score', () => {
  test('train writes a model directory and reports progress per epoch', async () => {
    const r = await tsad(
      'train',
      '--input',
      csv,
      '--window',
      String(W),
      '--out',
      model,
      '--columns',
      'temp,pressure',
      '--epochs',
      '3',
      '--hidden',
      '8',
      '--code-size',
      '4',
      '--seed',
      '3',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /training on 109 windows of 12 steps × 2 channel\(s\) \[temp, pressure\]/,
    );
    assert.match(r.stderr, /training: 3\/3 \(100%\) loss=[\d.e-]+ val=[\d.e-]+/);
    assert.match(r.stdout, /^model \d{8}T\d{6}Z-[0-9a-f]{8} written to /);
    const metadata = JSON.parse(await fs.readFile(path.join(model, 'metadata.json'), 'utf8'));
    assert.deepEqual(metadata.channels, ['temp', 'pressure']);
    assert.deepEqual(metadata.config.hiddenUnits, [8]);
  });

  test('score writes timestamp,score for every row, empty for the first window-1 rows', async () => {
    const input = path.join(dir, 'score.csv');
    const out = path.join(dir, 'scores.csv');
    await writeSeries(input, 60, 40);
    const r = await tsad('score', '--model', model, '--input', input, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const lines = (await fs.readFile(out, 'utf8')).trimEnd().split('\n');
    assert.equal(lines[0], 'timestamp,score');
    assert.equal(lines.length, 61);
    for (let row = 0; row < 60; row++) {
      const [ts, score] = lines[row + 1]!.split(',');
      assert.equal(ts, new Date(Date.UTC(2026, 0, 1) + row * 60_000).toISOString());
      if (row < W - 1) assert.equal(score, '', `row ${row}`);
      else assert.ok(Number.isFinite(Number(score)) && score !== '', `row ${row}: ${score}`);
    }
    const scoreAt = (row: number): number => Number(lines[row + 1]!.split(',')[1]);
    // Windows that contain the spike at row 40 (rows 40..51) score above those that do not.
    assert.ok(scoreAt(45) > scoreAt(30), `${scoreAt(45)} vs ${scoreAt(30)}`);
  });

  test('score refuses an --out that is its --input, leaving the input', async () => {
    const input = path.join(dir, 'same.csv');
    await writeSeries(input, 30);
    const before = await fs.readFile(input, 'utf8');
    const link = path.join(dir, 'same-link.csv');
    await fs.symlink(input, link);
    for (const out of [input, path.join(dir, '.', 'same.csv'), link]) {
      const r = await tsad('score', '--model', model, '--input', input, '--out', out);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /refusing to write scores to .*: it is the input .*same\.csv/);
    }
    assert.equal(await fs.readFile(input, 'utf8'), before);
  });

  test('a score write that fails part way leaves the previous results whole', async () => {
    const input = path.join(dir, 'long.csv');
    const out = path.join(dir, 'long-scores.csv');
    await writeSeries(input, 200);
    await fs.writeFile(out, 'previous results\n');
    const bin = fileURLToPath(new URL('../../../bin/tsad.mjs', import.meta.url));
    // 200 rows of scores pass a 4-block file size limit, so the write fails with EFBIG.
    const child = spawnSync(
      'sh',
      [
        '-c',
        'ulimit -f 4 && exec "$@"',
        'sh',
        process.execPath,
        bin,
        'score',
        '--model',
        model,
      ].concat(['--input', input, '--out', out]),
      { encoding: 'utf8' },
    );
    assert.notEqual(child.status, 0);
    assert.match(child.stderr, /cannot write .*long-scores\.csv: .*file too large/);
    assert.equal(await fs.readFile(out, 'utf8'), 'previous results\n');
    assert.deepEqual(
      (await fs.readdir(dir)).filter((f) => f.includes('.tmp-')),
      [],
    );
  });

  test('score refuses an --out that is a folder before loading the model or scoring', async () => {
    const input = path.join(dir, 'to-folder.csv');
    await writeSeries(input, 30);
    const folder = path.join(dir, 'a-folder');
    await fs.mkdir(folder);
    // A model that does not exist: the folder is found first.
    const missing = path.join(dir, 'no-such-model');
    const r = await tsad('score', '--model', missing, '--input', input, '--out', folder);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `tsad: cannot write ${folder}: it is a folder\n`);
    assert.deepEqual(await fs.readdir(folder), []);
  });

  test('score reports an --out below a file as a write failure naming the path and the file in the way', async () => {
    const input = path.join(dir, 'below-file.csv');
    const plain = path.join(dir, 'plain.txt');
    await writeSeries(input, 30);
    await fs.writeFile(plain, 'kept\n');
    const out = path.join(plain, 'scores.csv');
    const r = await tsad('score', '--model', model, '--input', input, '--out', out);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `tsad: cannot write ${out}: EEXIST: file already exists, mkdir '${plain}'\n`,
    );
    assert.equal(await fs.readFile(plain, 'utf8'), 'kept\n');
  });

  test('score stopped by SIGTERM writes nothing, keeps the previous scores and exits 1', async () => {
    const input = path.join(dir, 'stopped.csv');
    const out = path.join(dir, 'stopped-scores.csv');
    await writeSeries(input, 60);
    await fs.writeFile(out, 'previous results\n');
    const r = await tsadStoppedBySigterm('score', '--model', model, '--input', input, '--out', out);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'tsad: stopped by SIGTERM before finishing\n');
    assert.equal(r.stdout, '');
    assert.equal(await fs.readFile(out, 'utf8'), 'previous results\n');
    assert.deepEqual(
      (await fs.readdir(dir)).filter((f) => f.includes('.tmp-')),
      [],
    );
  });

  test('score accepts epoch-millisecond timestamps', async () => {
    const input = path.join(dir, 'epoch.csv');
    const out = path.join(dir, 'epoch-scores.csv');
    const rows = ['timestamp,pressure,temp'];
    const values = periodicSeries(20, { channels: 2, seed: 2 });
    for (let r = 0; r < 20; r++)
      rows.push(`${1_700_000_000_000 + r * 1000},${values[2 * r + 1]},${values[2 * r]}`);
    await fs.writeFile(input, `${rows.join('\n')}\n`);
    const r = await tsad('score', '--model', model, '--input', input, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const lines = (await fs.readFile(out, 'utf8')).trimEnd().split('\n');
    assert.equal(lines[20], `1700000019000,${lines[20]!.split(',')[1]}`);
    assert.notEqual(lines[20]!.split(',')[1], '');
  });
});

test('the tsad executable trains in a worker thread with --worker', async () => {
  const bin = fileURLToPath(new URL('../../../bin/tsad.mjs', import.meta.url));
  const out = path.join(dir, 'worker-model');
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [
    bin,
    'train',
    '--input',
    csv,
    '--window',
    String(W),
    '--out',
    out,
    '--epochs',
    '2',
    '--hidden',
    '8',
    '--worker',
  ]);
  assert.match(stderr, /training: 2\/2 \(100%\) loss=/);
  const version = /^model (\S+) written to /.exec(stdout)?.[1];
  const metadata = JSON.parse(await fs.readFile(path.join(out, 'metadata.json'), 'utf8'));
  assert.equal(metadata.version, version);
  assert.equal(metadata.lossHistory.length, 2);
});

describe('tsad train and tsad score refuse bad input with a clear message', () => {
  const cases: [string, () => Promise<string[]>, RegExp][] = [
    [
      'an unknown column',
      async () => [
        'train',
        '--input',
        csv,
        '--window',
        '12',
        '--out',
        path.join(dir, 'x'),
        '--columns',
        'temp,nope',
      ],
      /unknown column 'nope'/,
    ],
    [
      'a column named twice in the header',
      async () => {
        const file = path.join(dir, 'twice.csv');
        await fs.writeFile(file, 'timestamp,a,a\n1000,1,2\n2000,1,2\n');
        return ['train', '--input', file, '--window', '2', '--out', path.join(dir, 'x')];
      },
      /twice\.csv: the header names column 'a' more than once/,
    ],
    [
      'a column picked twice with --columns',
      async () => [
        'train',
        '--input',
        csv,
        '--window',
        '12',
        '--out',
        path.join(dir, 'x'),
        '--columns',
        'temp,temp',
      ],
      /train\.csv: column 'temp' is asked for twice/,
    ],
    [
      'a non-numeric value',
      async () => {
        const file = path.join(dir, 'bad.csv');
        await fs.writeFile(file, 'timestamp,temp\n1000,1\n2000,warm\n');
        return ['train', '--input', file, '--window', '2', '--out', path.join(dir, 'x')];
      },
      /line 3: column 'temp' holds 'warm', not a finite number/,
    ],
    [
      'a hexadecimal value (Number would read 0x1F as 31)',
      async () => {
        const file = path.join(dir, 'hex.csv');
        await fs.writeFile(file, 'timestamp,temp\n1000,1.5e2\n2000,-.5\n3000,0x1F\n');
        return ['train', '--input', file, '--window', '2', '--out', path.join(dir, 'x')];
      },
      /line 4: column 'temp' holds '0x1F', not a finite number/,
    ],
    [
      'a bad timestamp',
      async () => {
        const file = path.join(dir, 'bad-ts.csv');
        await fs.writeFile(file, 'timestamp,temp\nyesterday,1\n');
        return ['train', '--input', file, '--window', '2', '--out', path.join(dir, 'x')];
      },
      /timestamp 'yesterday' is neither ISO 8601 nor epoch milliseconds/,
    ],
    [
      'too few rows for one window',
      async () => ['train', '--input', csv, '--window', '500', '--out', path.join(dir, 'x')],
      /has 120 rows; a window of 500 needs at least 500/,
    ],
    [
      'too few rows to score one window',
      async () => {
        const file = path.join(dir, 'short.csv');
        await fs.writeFile(file, 'timestamp,temp,pressure\n1000,1,2\n2000,1,2\n');
        return ['score', '--model', model, '--input', file, '--out', path.join(dir, 'x.csv')];
      },
      /has 2 rows; model .* needs at least 12/,
    ],
    [
      'a missing model column in the input',
      async () => {
        const file = path.join(dir, 'one-col.csv');
        await fs.writeFile(file, 'timestamp,temp\n1000,1\n');
        return ['score', '--model', model, '--input', file, '--out', path.join(dir, 'x.csv')];
      },
      /unknown column 'pressure'/,
    ],
    [
      'an unreadable model',
      async () => [
        'score',
        '--model',
        path.join(dir, 'no-model'),
        '--input',
        csv,
        '--out',
        path.join(dir, 'x.csv'),
      ],
      /no model at .*no-model/,
    ],
    [
      'a corrupt model',
      async () => {
        const broken = path.join(dir, 'broken');
        await fs.cp(model, broken, { recursive: true });
        await fs.appendFile(path.join(broken, 'weights.bin'), 'x');
        return ['score', '--model', broken, '--input', csv, '--out', path.join(dir, 'x.csv')];
      },
      /checksum mismatch/,
    ],
    [
      'a missing input file',
      async () => [
        'train',
        '--input',
        path.join(dir, 'nope.csv'),
        '--window',
        '4',
        '--out',
        path.join(dir, 'x'),
      ],
      /cannot read .*nope\.csv/,
    ],
  ];
  for (const [name, argv, message] of cases) {
    test(`exits non-zero on ${name}`, async () => {
      const r = await tsad(...(await argv()));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
    });
  }

  test('train refuses --out naming an existing file before training, leaving the file', async () => {
    const before = await fs.readFile(csv, 'utf8');
    const r = await tsad('train', '--input', csv, '--window', '4', '--out', csv, '--epochs', '1');
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /refusing to write a model to .*train\.csv: it exists and is not a directory/,
    );
    assert.doesNotMatch(r.stderr, /training on/);
    assert.equal(await fs.readFile(csv, 'utf8'), before);
  });

  test('train refuses --out in a non-empty directory that holds no model before training', async () => {
    const foreign = path.join(dir, 'foreign');
    await fs.mkdir(foreign, { recursive: true });
    await fs.writeFile(path.join(foreign, 'metadata.json'), '{"name":"x"}');
    await fs.writeFile(path.join(foreign, 'notes.txt'), 'keep me');
    const r = await tsad('train', '--input', csv, '--window', '4', '--out', foreign);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /foreign: it is a non-empty directory that holds no model/);
    assert.doesNotMatch(r.stderr, /training on/);
    assert.deepEqual((await fs.readdir(foreign)).sort(), ['metadata.json', 'notes.txt']);
  });

  test('a non-numeric option is a usage error (exit 2)', async () => {
    const r = await tsad('train', '--input', csv, '--window', 'wide', '--out', path.join(dir, 'x'));
    assert.equal(r.code, 2);
  });
});
