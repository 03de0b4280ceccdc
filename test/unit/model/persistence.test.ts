import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { type ErrorCode, isTsadError } from '../../../src/errors.ts';
import type { Autoencoder } from '../../../src/model/autoencoder.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { loadAutoencoder } from '../../../src/model/load-autoencoder.ts';
import { checkModelDirectoryTarget, sha256 } from '../../../src/model/persistence.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { periodicSeries } from './fixtures.ts';

const PERSISTENCE = fileURLToPath(new URL('../../../src/model/persistence.ts', import.meta.url));
const W = 12;
const CHANNELS = ['temperature', 'pressure'];
let model: Autoencoder;
let root: string;
let saved: string;
let probe: Float32Array[];

before(async () => {
  await initBackend();
  root = tempDir('tsad-persist-');
  const series = periodicSeries(120, { channels: 2, seed: 1 });
  model = await trainAutoencoder(
    windowsFromSeries(series, 2, W),
    { windowSize: W, hiddenUnits: [8], codeSize: 4, maxEpochs: 2, batchSize: 64, seed: 3 },
    { channels: CHANNELS },
  );
  saved = path.join(root, 'model');
  await model.save(saved);
  probe = windowsFromSeries(periodicSeries(40, { channels: 2, seed: 9 }), 2, W);
});

after(async () => {
  model.dispose();
  await fs.rm(root, { recursive: true, force: true });
});

/** Copies the saved model to a fresh directory the test may spoil. */
async function copyOfModel(name: string): Promise<string> {
  const dir = path.join(root, name);
  await fs.cp(saved, dir, { recursive: true });
  return dir;
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  text: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isTsadError(error, code), `expected ${code}, got ${String(error)}`);
    assert.match(error.message, text);
    return true;
  });
}

describe('saving and loading a model directory', () => {
  test('writes model.json, weights.bin and metadata.json with their checksums', async () => {
    assert.deepEqual((await fs.readdir(saved)).sort(), [
      'metadata.json',
      'model.json',
      'weights.bin',
    ]);
    const metadata = JSON.parse(await fs.readFile(path.join(saved, 'metadata.json'), 'utf8'));
    assert.equal(metadata.formatVersion, 1);
    assert.equal(metadata.version, model.version);
    assert.deepEqual(metadata.channels, CHANNELS);
    assert.equal(metadata.config.windowSize, W);
    assert.equal(metadata.normalisation.center.length, 2);
    assert.equal(metadata.training.channelStats.length, 2);
    assert.equal(metadata.lossHistory.length, 2);
    for (const file of ['model.json', 'weights.bin']) {
      assert.equal(metadata.files[file], sha256(await fs.readFile(path.join(saved, file))));
    }
    assert.match(model.version, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
  });

  test('a loaded model gives exactly the scores of the saved one', async () => {
    const loaded = await loadAutoencoder(saved);
    try {
      assert.equal(loaded.version, model.version);
      assert.deepEqual(loaded.channels, CHANNELS);
      const a = await model.scoreData(probe, { reconstruction: true });
      const b = await loaded.scoreData(probe, { reconstruction: true });
      assert.equal(a.length, probe.length);
      assert.deepEqual(b, a);
    } finally {
      loaded.dispose();
    }
  });

  test('scoring in small chunks gives the scores of one big batch (to float rounding)', async () => {
    const loaded = await loadAutoencoder(saved, { scoreChunk: 7 });
    try {
      const a = await model.scoreData(probe);
      const b = await loaded.scoreData(probe);
      assert.equal(b.length, a.length);
      b.forEach((s, i) => {
        assert.ok(Math.abs(s.score - a[i]!.score) <= 1e-5 * a[i]!.score, `window ${i}`);
      });
    } finally {
      loaded.dispose();
    }
  });

  test('saving again replaces the model in place', async () => {
    const dir = await copyOfModel('resave');
    await model.save(dir);
    const loaded = await loadAutoencoder(dir);
    loaded.dispose();
    assert.deepEqual(
      (await fs.readdir(root)).filter((f) => f.includes('.tmp-') || f.includes('.old-')),
      [],
    );
  });

  test('refuses to write over a non-empty directory that holds no model', async () => {
    const dir = path.join(root, 'foreign');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'notes.txt'), 'keep me');
    await rejectsWith(model.save(dir), 'TSAD_ERR_INPUT_INVALID', /holds no model/);
    assert.equal(await fs.readFile(path.join(dir, 'notes.txt'), 'utf8'), 'keep me');
  });

  test('refuses to write over a file, leaving it as it was', async () => {
    const file = path.join(root, 'series.csv');
    await fs.writeFile(file, 'timestamp,a\n1000,1\n');
    await rejectsWith(
      model.save(file),
      'TSAD_ERR_INPUT_INVALID',
      /refusing to write a model to .*series\.csv: it exists and is not a directory/,
    );
    assert.equal(await fs.readFile(file, 'utf8'), 'timestamp,a\n1000,1\n');
  });

  test('a metadata.json that is not model metadata does not make a directory a model', async () => {
    const dir = path.join(root, 'not-a-model');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'metadata.json'), '{"name":"x"}');
    await fs.writeFile(path.join(dir, 'notes.txt'), 'keep me');
    await rejectsWith(model.save(dir), 'TSAD_ERR_INPUT_INVALID', /not-a-model: .*holds no model/);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['metadata.json', 'notes.txt']);
  });

  test('refuses to replace a model directory that also holds other files', async () => {
    const dir = await copyOfModel('model-and-notes');
    await fs.writeFile(path.join(dir, 'notes.txt'), 'keep me');
    await rejectsWith(
      model.save(dir),
      'TSAD_ERR_INPUT_INVALID',
      /model-and-notes: it holds a model and other files \(notes\.txt\)/,
    );
    assert.equal(await fs.readFile(path.join(dir, 'notes.txt'), 'utf8'), 'keep me');
  });

  test('a save that fails part way is TSAD_ERR_OUTPUT_WRITE naming the directory, and keeps the model there', async () => {
    const dir = await copyOfModel('size-limit');
    const weights = await fs.readFile(path.join(dir, 'weights.bin'));
    // 100 kB of weights pass a 4-block file size limit, so the save fails with EFBIG.
    const script = `
      import { writeModelDirectory } from ${JSON.stringify(PERSISTENCE)};
      const files = { modelJson: Buffer.from('{}'), weights: Buffer.alloc(100_000) };
      try { await writeModelDirectory(${JSON.stringify(dir)}, files, {}); }
      catch (error) { console.log(error.code, error.message); }`;
    const child = spawnSync(
      'sh',
      ['-c', 'ulimit -f 4 && exec "$@"', 'sh', process.execPath, '--import', 'tsx'],
      { input: script, encoding: 'utf8' },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.equal(
      child.stdout.trim(),
      `TSAD_ERR_OUTPUT_WRITE cannot write model directory ${dir}: EFBIG: file too large`,
    );
    assert.deepEqual(await fs.readFile(path.join(dir, 'weights.bin')), weights);
    assert.deepEqual(
      (await fs.readdir(root)).filter((f) => f.startsWith('size-limit.')),
      [],
    );
  });

  test('checkModelDirectoryTarget refuses a path below a file and accepts a new one', async () => {
    const file = path.join(root, 'plain.txt');
    await fs.writeFile(file, 'x');
    await rejectsWith(
      checkModelDirectoryTarget(path.join(file, 'model')),
      'TSAD_ERR_INPUT_INVALID',
      /plain\.txt is not a directory/,
    );
    await checkModelDirectoryTarget(path.join(root, 'new', 'nested', 'model'));
    await checkModelDirectoryTarget(saved);
  });
});

describe('refusing a bad model directory', () => {
  test('a missing directory is TSAD_ERR_MODEL_NOT_FOUND', async () => {
    await rejectsWith(
      loadAutoencoder(path.join(root, 'nothing-here')),
      'TSAD_ERR_MODEL_NOT_FOUND',
      /nothing-here/,
    );
  });

  test('a flipped byte in the weights is TSAD_ERR_MODEL_CORRUPT naming the file', async () => {
    const dir = await copyOfModel('flipped');
    const file = path.join(dir, 'weights.bin');
    const bytes = await fs.readFile(file);
    bytes[10] = bytes[10]! ^ 0xff;
    await fs.writeFile(file, bytes);
    await rejectsWith(
      loadAutoencoder(dir),
      'TSAD_ERR_MODEL_CORRUPT',
      /checksum mismatch for .*weights\.bin/,
    );
  });

  test('truncated weights whose checksum was updated are still refused as corrupt', async () => {
    const dir = await copyOfModel('truncated');
    const file = path.join(dir, 'weights.bin');
    const bytes = (await fs.readFile(file)).subarray(0, 100);
    await fs.writeFile(file, bytes);
    const metaFile = path.join(dir, 'metadata.json');
    const metadata = JSON.parse(await fs.readFile(metaFile, 'utf8'));
    metadata.files['weights.bin'] = sha256(bytes);
    await fs.writeFile(metaFile, JSON.stringify(metadata));
    await rejectsWith(loadAutoencoder(dir), 'TSAD_ERR_MODEL_CORRUPT', /cannot build the network/);
  });

  test('a missing weight file is TSAD_ERR_MODEL_CORRUPT', async () => {
    const dir = await copyOfModel('no-weights');
    await fs.rm(path.join(dir, 'weights.bin'));
    await rejectsWith(loadAutoencoder(dir), 'TSAD_ERR_MODEL_CORRUPT', /weights\.bin is missing/);
  });

  test('unparseable or invalid metadata is TSAD_ERR_MODEL_CORRUPT', async () => {
    const dir = await copyOfModel('bad-meta');
    const metaFile = path.join(dir, 'metadata.json');
    const metadata = JSON.parse(await fs.readFile(metaFile, 'utf8'));
    await fs.writeFile(metaFile, '{"formatVersion": 1, ');
    await rejectsWith(loadAutoencoder(dir), 'TSAD_ERR_MODEL_CORRUPT', /not valid JSON/);
    metadata.normalisation.scale = [1];
    await fs.writeFile(metaFile, JSON.stringify(metadata));
    await rejectsWith(
      loadAutoencoder(dir),
      'TSAD_ERR_MODEL_CORRUPT',
      /one centre and scale per channel/,
    );
  });

  test('another format version is TSAD_ERR_MODEL_INCOMPATIBLE', async () => {
    const dir = await copyOfModel('format');
    const metaFile = path.join(dir, 'metadata.json');
    const metadata = JSON.parse(await fs.readFile(metaFile, 'utf8'));
    metadata.formatVersion = 99;
    await fs.writeFile(metaFile, JSON.stringify(metadata));
    await rejectsWith(loadAutoencoder(dir), 'TSAD_ERR_MODEL_INCOMPATIBLE', /format version 99/);
  });

  test('metadata that disagrees with the network input shape is TSAD_ERR_MODEL_INCOMPATIBLE', async () => {
    const dir = await copyOfModel('shape');
    const metaFile = path.join(dir, 'metadata.json');
    const metadata = JSON.parse(await fs.readFile(metaFile, 'utf8'));
    metadata.config.windowSize = 20;
    await fs.writeFile(metaFile, JSON.stringify(metadata));
    await rejectsWith(loadAutoencoder(dir), 'TSAD_ERR_MODEL_INCOMPATIBLE', /\[null,20,2\]/);
  });

  test('a model for other channels or another window size is TSAD_ERR_MODEL_INCOMPATIBLE', async () => {
    await rejectsWith(
      loadAutoencoder(saved, { channels: ['pressure', 'temperature'] }),
      'TSAD_ERR_MODEL_INCOMPATIBLE',
      /channels are \[temperature, pressure\]/,
    );
    await rejectsWith(
      loadAutoencoder(saved, { windowSize: 32 }),
      'TSAD_ERR_MODEL_INCOMPATIBLE',
      /window size is 12/,
    );
  });

  test('a refused load leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    await assert.rejects(loadAutoencoder(saved, { windowSize: 32 }));
    assert.equal(tf.memory().numTensors, before);
  });
});
