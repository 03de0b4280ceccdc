/**
 * The network of the autoencoder: LSTM encoder → dense code → repeated over
 * the window → LSTM decoder (mirror of the encoder) → time-distributed linear
 * dense layer back to the channels.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.ts';
import { createLstm, type LstmImplementation } from './lstm.ts';

/**
 * Builds the (uncompiled) network for windows of `[config.windowSize, channels]`.
 * Layer seeds derive from `config.seed`, so one config always starts from the
 * same weights. `lstm` picks the LSTM implementation (default: the fastest
 * for the backend in use; benchmarks and parity tests compare both).
 */
export function buildAutoencoderNetwork(
  config: ModelConfig,
  channels: number,
  lstm?: LstmImplementation,
): tf.LayersModel {
  const implementation = lstm === undefined ? {} : { implementation: lstm };
  const input = tf.input({ shape: [config.windowSize, channels], name: 'window' });
  const layers = config.hiddenUnits;
  let seed = config.seed * 100;
  const nextSeed = (): number => {
    seed += 7;
    return seed;
  };
  let x: tf.SymbolicTensor = input;
  layers.forEach((units, i) => {
    const lstm = createLstm({
      units,
      returnSequences: i < layers.length - 1,
      seed: nextSeed(),
      name: `encoder_lstm_${i}`,
      ...implementation,
    });
    x = withDropout(lstm.apply(x) as tf.SymbolicTensor, config.dropout, `encoder_dropout_${i}`);
  });
  const code = tf.layers
    .dense({
      units: config.codeSize,
      activation: 'tanh',
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
      name: 'code',
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .repeatVector({ n: config.windowSize, name: 'repeat' })
    .apply(code) as tf.SymbolicTensor;
  [...layers].reverse().forEach((units, i) => {
    const lstm = createLstm({
      units,
      returnSequences: true,
      seed: nextSeed(),
      name: `decoder_lstm_${i}`,
      ...implementation,
    });
    x = withDropout(lstm.apply(x) as tf.SymbolicTensor, config.dropout, `decoder_dropout_${i}`);
  });
  const output = tf.layers
    .timeDistributed({
      layer: tf.layers.dense({
        units: channels,
        activation: 'linear',
        kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
      }),
      name: 'reconstruction',
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'lstm_autoencoder' });
}

/**
 * Dropout as its own layer (not the LSTM's `dropout` option) so a replacement
 * LSTM layer need not implement it. Unseeded on purpose: tfjs reuses a seeded
 * dropout mask on every batch, which would defeat dropout.
 */
function withDropout(x: tf.SymbolicTensor, rate: number, name: string): tf.SymbolicTensor {
  if (rate <= 0) return x;
  return tf.layers.dropout({ rate, name }).apply(x) as tf.SymbolicTensor;
}
