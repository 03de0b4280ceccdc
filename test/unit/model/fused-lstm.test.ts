import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend.ts';
import { FusedLstm, referenceLstm } from '../../../src/model/fused-lstm.ts';

const TOLERANCE = 1e-4;

interface Case {
  batch: number;
  time: number;
  features: number;
  units: number;
  returnSequences: boolean;
}

const CASES: Case[] = [
  { batch: 3, time: 5, features: 2, units: 4, returnSequences: true },
  { batch: 3, time: 5, features: 2, units: 4, returnSequences: false },
  { batch: 7, time: 12, features: 1, units: 8, returnSequences: false },
  { batch: 2, time: 9, features: 6, units: 16, returnSequences: true },
  { batch: 1, time: 2, features: 3, units: 5, returnSequences: false },
];

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Output and gradients (x, kernel, recurrentKernel, bias) of a weighted sum of the layer's output. */
function outputAndGrads(layer: tf.layers.Layer, x: tf.Tensor3D, seed: number) {
  const xVar = tf.variable(x);
  const output = layer.apply(xVar) as tf.Tensor;
  const weights = tf.randomNormal(output.shape, 0, 1, 'float32', seed);
  const vars = [xVar, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)];
  const { grads } = tf.variableGrads(
    () => tf.sum(tf.mul(layer.apply(xVar) as tf.Tensor, weights)),
    vars,
  );
  return { output, grads: vars.map((v) => grads[v.name] as tf.Tensor) };
}

function pair(c: Case) {
  const inputShape = [c.time, c.features];
  const reference = tf.layers.lstm({
    units: c.units,
    returnSequences: c.returnSequences,
    recurrentActivation: 'sigmoid',
    inputShape,
  });
  const fused = new FusedLstm({ units: c.units, returnSequences: c.returnSequences, inputShape });
  // Applying a layer once builds its weights.
  tf.tidy(() => {
    reference.apply(tf.zeros([1, c.time, c.features]));
    fused.apply(tf.zeros([1, c.time, c.features]));
  });
  // Non-zero biases so the bias gradient and gate order are exercised.
  const weights = reference
    .getWeights()
    .map((w, i) => tf.randomNormal(w.shape, 0, 0.5, 'float32', 10 + i));
  reference.setWeights(weights);
  fused.setWeights(weights);
  return { reference, fused };
}

describe('FusedLstm on the native backend', () => {
  before(async () => {
    const info = await initBackend();
    assert.equal(info.backend, 'tensorflow', `fell back: ${info.fallbackReason}`);
  });

  for (const c of CASES) {
    test(`matches tfjs-layers LSTM outputs and gradients (${JSON.stringify(c)})`, () => {
      const { reference, fused } = pair(c);
      const x = tf.randomNormal([c.batch, c.time, c.features], 0, 1, 'float32', 3) as tf.Tensor3D;
      const ref = outputAndGrads(reference, x, 7);
      const got = outputAndGrads(fused, x, 7);
      assert.ok(maxAbsDiff(got.output, ref.output) < TOLERANCE, 'output differs');
      ['x', 'kernel', 'recurrentKernel', 'bias'].forEach((name, i) => {
        const diff = maxAbsDiff(got.grads[i] as tf.Tensor, ref.grads[i] as tf.Tensor);
        assert.ok(diff < TOLERANCE, `gradient of ${name} differs by ${diff}`);
      });
      // The gradients must not be trivially zero for the comparison to mean anything.
      for (const g of got.grads) assert.ok(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]! > 1e-3));
    });
  }

  test('keeps the weight layout of tf.layers.lstm', () => {
    const { reference, fused } = pair(CASES[0]!);
    assert.deepEqual(
      fused.getWeights().map((w) => w.shape),
      reference.getWeights().map((w) => w.shape),
    );
    assert.deepEqual(
      fused.weights.map((w) => w.originalName.split('/').pop()),
      ['kernel', 'recurrent_kernel', 'bias'],
    );
  });

  test('the plain-ops reference path computes the same as the fused kernel', () => {
    const { fused } = pair(CASES[3]!);
    const [k, rk, b] = fused.getWeights() as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    const x = tf.randomNormal([2, 9, 6], 0, 1, 'float32', 5) as tf.Tensor3D;
    const diff = maxAbsDiff(referenceLstm(x, k, rk, b, true), fused.apply(x) as tf.Tensor);
    assert.ok(diff < TOLERANCE, `differs by ${diff}`);
  });

  test('trains inside a model and round-trips through save and load', async () => {
    const model = tf.sequential({
      layers: [new FusedLstm({ units: 8, inputShape: [6, 1] }), tf.layers.dense({ units: 1 })],
    });
    model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const xs = tf.randomUniform([32, 6, 1], 0, 1, 'float32', 1);
    const ys = tf.sum(xs, 1);
    const history = await model.fit(xs, ys, { epochs: 15, batchSize: 16, verbose: 0 });
    const losses = history.history['loss'] as number[];
    assert.ok(
      losses.at(-1)! < losses[0]! / 2,
      `loss did not fall enough: ${losses[0]} -> ${losses.at(-1)}`,
    );

    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    assert.ok(saved);
    assert.match(JSON.stringify(saved.modelTopology), /"FusedLstm"/);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
    const diff = maxAbsDiff(loaded.predict(xs) as tf.Tensor, model.predict(xs) as tf.Tensor);
    assert.ok(diff < 1e-6, `loaded model predicts differently by ${diff}`);
  });
});
