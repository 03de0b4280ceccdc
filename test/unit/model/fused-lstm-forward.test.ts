import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildAutoencoderNetwork } from '../../../src/model/architecture.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { type ModelConfig, resolveModelConfig } from '../../../src/model/config.ts';
import { FlatAdam } from '../../../src/model/flat-adam.ts';
import {
  compileFusedForward,
  fitEpoch,
  reconstructionErrors,
  reconstructionLoss,
} from '../../../src/model/fused-lstm-forward.ts';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** The same autoencoder twice, reference (tfjs-layers LSTM) and fused, with equal weights. */
function twins(config: Partial<ModelConfig>, channels: number) {
  const cfg = resolveModelConfig(config);
  const reference = buildAutoencoderNetwork(cfg, channels, 'layers');
  const fused = buildAutoencoderNetwork(cfg, channels, 'fused');
  const weights = reference
    .getWeights()
    .map((w, i) => tf.randomNormal(w.shape, 0, 0.3, 'float32', i + 1));
  reference.setWeights(weights);
  fused.setWeights(weights);
  tf.dispose(weights);
  return { cfg, reference, fused };
}

describe('fused forward of the autoencoder', () => {
  before(async () => {
    const info = await initBackend();
    assert.equal(info.backend, 'tensorflow', `fell back: ${info.fallbackReason}`);
  });

  for (const hiddenUnits of [[8], [10, 6]]) {
    test(`reconstructs as the reference network does (hiddenUnits ${hiddenUnits})`, () => {
      const { reference, fused } = twins({ windowSize: 12, hiddenUnits, codeSize: 4 }, 3);
      const forward = compileFusedForward(fused);
      assert.ok(forward, 'a fused network compiles');
      const x = tf.randomNormal([9, 12, 3], 0, 1, 'float32', 5) as tf.Tensor3D;
      const expected = reference.predict(x) as tf.Tensor;
      assert.ok(maxAbsDiff(forward(x), expected) < 1e-4);
      assert.ok(maxAbsDiff(fused.predict(x) as tf.Tensor, expected) < 1e-4);
    });
  }

  test('scores a large batch in chunks with the same result as in one call', () => {
    const { fused } = twins({ windowSize: 12, hiddenUnits: [8], codeSize: 4 }, 2);
    const whole = compileFusedForward(fused, { inferenceChunk: 100 })!;
    const chunked = compileFusedForward(fused, { inferenceChunk: 4 })!;
    const x = tf.randomNormal([9, 12, 2], 0, 1, 'float32', 3) as tf.Tensor3D;
    assert.ok(maxAbsDiff(chunked(x), whole(x)) < 1e-6);
  });

  test('errors equal the error table of the reconstruction, chunked or not', () => {
    const { fused } = twins({ windowSize: 12, hiddenUnits: [8], codeSize: 4 }, 3);
    const x = tf.randomNormal([9, 12, 3], 0, 1, 'float32', 4) as tf.Tensor3D;
    const whole = compileFusedForward(fused, { inferenceChunk: 100 })!;
    const expected = reconstructionErrors(x, whole(x));
    assert.deepEqual(expected.shape, [9, 1 + 3 + 12]);
    const squared = tf.squaredDifference(whole(x), x);
    assert.ok(
      maxAbsDiff(
        tf.slice(expected, [0, 0], [9, 1]),
        tf.mean(squared, [1, 2], true).reshape([9, 1]),
      ) < 1e-6,
    );
    assert.ok(maxAbsDiff(tf.slice(expected, [0, 1], [9, 3]), tf.mean(squared, 1)) < 1e-6);
    assert.ok(maxAbsDiff(tf.slice(expected, [0, 4], [9, 12]), tf.mean(squared, 2)) < 1e-6);
    assert.ok(maxAbsDiff(whole.errors(x), expected) < 1e-6);
    const chunked = compileFusedForward(fused, { inferenceChunk: 4 })!;
    assert.ok(maxAbsDiff(chunked.errors(x), expected) < 1e-6);
  });

  test('gradients of the reconstruction loss match the reference network within 1e-4', () => {
    const { reference, fused } = twins({ windowSize: 10, hiddenUnits: [8], codeSize: 4 }, 2);
    const forward = compileFusedForward(fused)!;
    const x = tf.randomNormal([6, 10, 2], 0, 1, 'float32', 9) as tf.Tensor3D;
    const loss = (y: tf.Tensor) => tf.mean(tf.squaredDifference(y, x)) as tf.Scalar;
    const refVars = reference.trainableWeights.map((w) => w.read() as tf.Variable);
    const ref = tf.variableGrads(() => loss(reference.apply(x) as tf.Tensor), refVars);
    const got = tf.variableGrads(() => loss(forward(x, { training: true })), forward.variables);
    assert.equal(forward.variables.length, refVars.length);
    assert.ok(Math.abs(ref.value.dataSync()[0]! - got.value.dataSync()[0]!) < 1e-6);
    refVars.forEach((v, i) => {
      const g = got.grads[forward.variables[i]!.name]!;
      const diff = maxAbsDiff(g, ref.grads[v.name]!);
      assert.ok(diff < 1e-4, `gradient of ${v.name} differs by ${diff}`);
    });
  });

  for (const optimizerName of ['tf.train.adam', 'FlatAdam'] as const) {
    test(`trains with the same loss curve as fit on the reference network (${optimizerName})`, async () => {
      const { cfg, reference, fused } = twins(
        { windowSize: 16, hiddenUnits: [8], codeSize: 4, batchSize: 8, learningRate: 0.05 },
        1,
      );
      const t = tf.linspace(0, 12, 16);
      const x = tf.tidy(() =>
        tf.stack(Array.from({ length: 16 }, (_, i) => tf.sin(tf.add(t, i * 0.3)).reshape([16, 1]))),
      ) as tf.Tensor3D;
      const refOptimizer = tf.train.adam(cfg.learningRate);
      reference.compile({ optimizer: refOptimizer, loss: 'meanSquaredError' });
      const forward = compileFusedForward(fused)!;
      const optimizer =
        optimizerName === 'FlatAdam'
          ? new FlatAdam(forward.variables, { learningRate: cfg.learningRate })
          : tf.train.adam(cfg.learningRate);
      const refLosses: number[] = [];
      const losses: number[] = [];
      for (let epoch = 0; epoch < 5; epoch++) {
        const h = await reference.fit(x, x, {
          epochs: 1,
          batchSize: 8,
          shuffle: false,
          verbose: 0,
        });
        refLosses.push(Number(h.history['loss']?.[0]));
        losses.push(await fitEpoch(forward, optimizer, x, 8));
      }
      assert.ok(losses.at(-1)! < losses[0]! * 0.95, `loss did not fall: ${losses}`);
      losses.forEach((loss, i) => {
        const rel = Math.abs(loss - refLosses[i]!) / refLosses[i]!;
        assert.ok(rel < 1e-3, `epoch ${i}: fused ${loss} vs reference ${refLosses[i]}`);
      });
      const evaluated = await reconstructionLoss(forward, x, 10);
      const expected = tf.tidy(
        () => tf.mean(tf.squaredDifference(fused.predict(x) as tf.Tensor, x)).dataSync()[0]!,
      );
      assert.ok(Math.abs(evaluated - expected) < 1e-6);
    });
  }

  test('is null for a network of tfjs-layers LSTMs (those run through predict and fit)', () => {
    const cfg = resolveModelConfig({ windowSize: 8, hiddenUnits: [4], codeSize: 2 });
    assert.equal(compileFusedForward(buildAutoencoderNetwork(cfg, 1, 'layers')), null);
  });
});
