import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { periodicSeries } from './fixtures.ts';

test('training and thousands of scoring calls leave the tfjs tensor count unchanged', async () => {
  await initBackend();
  const W = 8;
  const before = tf.memory().numTensors;
  const model = await trainAutoencoder(windowsFromSeries(periodicSeries(40, { seed: 1 }), 1, W), {
    windowSize: W,
    hiddenUnits: [4],
    codeSize: 2,
    maxEpochs: 2,
  });
  const windows = windowsFromSeries(periodicSeries(W + 3, { seed: 8 }), 1, W);
  await model.scoreData(windows, { reconstruction: true });
  const afterTraining = tf.memory().numTensors;
  for (let i = 0; i < 2000; i++) {
    const scores = await model.scoreData(windows.slice(0, 1 + (i % 4)), {
      reconstruction: i % 2 === 0,
    });
    assert.equal(scores.length, 1 + (i % 4));
  }
  assert.equal(tf.memory().numTensors, afterTraining);
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});
