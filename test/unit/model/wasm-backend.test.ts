import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend.ts';
import { loadAutoencoder } from '../../../src/model/load-autoencoder.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { periodicSeries } from './fixtures.ts';

// The backend is chosen once per process, so the WASM path has its own file.
test('the autoencoder trains, scores, saves and loads on the WASM fallback backend', async () => {
  const info = await initBackend({ prefer: 'wasm', warn: () => {} });
  assert.equal(info.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  const W = 12;
  const windows = windowsFromSeries(periodicSeries(80, { channels: 2, seed: 1 }), 2, W);
  const before = tf.memory().numTensors;
  const model = await trainAutoencoder(
    windows,
    { windowSize: W, hiddenUnits: [8], codeSize: 4, maxEpochs: 2, batchSize: 64 },
    { channels: ['a', 'b'] },
  );
  assert.equal(model.metadata.training.backend, 'wasm');
  const scores = await model.scoreData(windows.slice(0, 5), { reconstruction: true });
  assert.ok(scores.every((s) => Number.isFinite(s.score) && s.perChannel.length === 2));
  const dir = tempDir('tsad-wasm-');
  try {
    await model.save(path.join(dir, 'model'));
    const loaded = await loadAutoencoder(path.join(dir, 'model'));
    assert.deepEqual(await loaded.scoreData(windows.slice(0, 5), { reconstruction: true }), scores);
    loaded.dispose();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  for (let i = 0; i < 200; i++) await model.scoreData(windows.slice(0, 3));
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});
