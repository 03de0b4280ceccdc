import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend.ts';

test('native TensorFlow backend builds, fits and predicts a tiny model', async () => {
  const info = await initBackend();
  assert.equal(info.backend, 'tensorflow', `fell back: ${info.fallbackReason}`);
  assert.match(info.tensorflowVersion ?? '', /^2\.\d+/);

  const model = tf.sequential();
  // Zero weights, not a random draw: one draw started at a loss of 0.025, which Adam's first
  // steps of 0.1 overshot (0.037 after 20 epochs), so the test failed now and then.
  model.add(tf.layers.dense({ units: 1, inputShape: [2], kernelInitializer: 'zeros' }));
  model.compile({ optimizer: tf.train.adam(0.1), loss: 'meanSquaredError' });
  const xs = tf.tensor2d([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  const ys = tf.tensor2d([[3], [7], [11]]);
  const before = model.evaluate(xs, ys) as tf.Scalar;
  const lossBefore = (await before.data())[0]!;
  await model.fit(xs, ys, { epochs: 20, verbose: 0 });
  const after = model.evaluate(xs, ys) as tf.Scalar;
  const lossAfter = (await after.data())[0]!;
  assert.ok(lossAfter < lossBefore, `loss did not fall: ${lossBefore} -> ${lossAfter}`);

  const prediction = model.predict(tf.tensor2d([[7, 8]])) as tf.Tensor;
  assert.deepEqual(prediction.shape, [1, 1]);
  assert.ok(Number.isFinite((await prediction.data())[0]));
  tf.dispose([xs, ys, before, after, prediction]);
  model.dispose();
});
