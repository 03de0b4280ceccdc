import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend.ts';
import { FlatAdam } from '../../../src/model/flat-adam.ts';

describe('FlatAdam', () => {
  before(async () => {
    await initBackend();
  });

  test('takes the same steps as tf.train.adam on variables of several shapes', () => {
    const shapes = [[3, 4], [4], [2, 2, 2]];
    const init = shapes.map((shape, i) => tf.randomNormal(shape, 0, 1, 'float32', i + 1));
    const ours = init.map((t) => tf.variable(t.clone()));
    const theirs = init.map((t) => tf.variable(t.clone()));
    const flat = new FlatAdam(ours, { learningRate: 0.05 });
    const adam = tf.train.adam(0.05);
    // A loss whose gradients differ in sign and scale between elements and steps.
    const loss = (vars: tf.Variable[]) => () =>
      tf.addN(vars.map((v, i) => tf.sum(tf.mul(tf.sin(tf.mul(v, i + 1)), v)))) as tf.Scalar;
    for (let step = 0; step < 20; step++) {
      const { grads } = tf.variableGrads(loss(ours), ours);
      flat.apply(ours.map((v) => grads[v.name]!));
      tf.dispose(Object.values(grads));
      adam.minimize(loss(theirs), false, theirs);
    }
    ours.forEach((v, i) => {
      const diff = tf.max(tf.abs(tf.sub(v, theirs[i]!))).dataSync()[0]!;
      const moved = tf.max(tf.abs(tf.sub(v, init[i]!))).dataSync()[0]!;
      assert.ok(moved > 0.1, `variable ${i} barely moved (${moved})`);
      assert.ok(diff < 1e-5, `variable ${i} differs from tf.train.adam by ${diff}`);
    });
    flat.dispose();
    adam.dispose();
    tf.dispose([...init, ...ours, ...theirs]);
  });

  test('rejects a gradient list that does not match its variables', () => {
    const v = tf.variable(tf.zeros([2]));
    const flat = new FlatAdam([v], { learningRate: 0.1 });
    assert.throws(() => flat.apply([]), /0 gradients for 1 variables/);
    flat.dispose();
    v.dispose();
  });

  test('frees every tensor of its own on dispose, once', () => {
    const v = tf.variable(tf.ones([5]));
    const before = tf.memory().numTensors;
    const flat = new FlatAdam([v], { learningRate: 0.1 });
    tf.tidy(() => flat.apply([tf.fill([5], 0.5)]));
    assert.ok(v.dataSync()[0]! < 1, 'the step moved the variable');
    flat.dispose();
    flat.dispose();
    assert.equal(tf.memory().numTensors, before);
    v.dispose();
  });
});
