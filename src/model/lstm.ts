/**
 * The single place where the autoencoder's LSTM layers are made. Keeping every
 * LSTM behind this factory lets a faster implementation (a fused native LSTM
 * layer) replace the stock tfjs layer without touching the architecture,
 * training or persistence code.
 */
import * as tf from '@tensorflow/tfjs';
import { FusedLstm } from './fused-lstm.ts';

/**
 * `fused`: one TensorFlow kernel per sequence (BlockLSTMV2, see fused-lstm.ts),
 * many times faster on the native backend. `layers`: the stock tfjs-layers
 * LSTM, the reference implementation and the one the WASM/CPU backends run.
 */
export type LstmImplementation = 'fused' | 'layers';

/** What the autoencoder asks of an LSTM layer. */
export interface LstmOptions {
  units: number;
  /** True for a `[batch, steps, units]` output, false for the last step only. */
  returnSequences: boolean;
  /** Seeds the weight initialisers, so a given config always starts from the same weights. */
  seed: number;
  /** Layer name; unique within the model (it keys the saved weights). */
  name: string;
  /** Defaults to defaultLstmImplementation() for the backend in use. */
  implementation?: LstmImplementation;
}

/** `fused` on the native TensorFlow backend, `layers` on WASM and CPU. */
export function defaultLstmImplementation(): LstmImplementation {
  return tf.getBackend() === 'tensorflow' ? 'fused' : 'layers';
}

/**
 * Creates one LSTM layer. Both kernels use a seeded Glorot-uniform initialiser:
 * tfjs's orthogonal initialiser (the Keras default for the recurrent kernel)
 * runs a slow JS QR decomposition and warns on stderr above 2000 elements,
 * which a 32-unit layer already exceeds. Both implementations use the sigmoid
 * recurrent activation (Keras's default; tfjs-layers' own default is hard
 * sigmoid, which the fused kernel does not offer), so their weights are
 * interchangeable and a model trained on one backend scores the same on another.
 */
export function createLstm(options: LstmOptions): tf.layers.Layer {
  const common = {
    units: options.units,
    returnSequences: options.returnSequences,
    kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed }),
    recurrentInitializer: tf.initializers.glorotUniform({ seed: options.seed + 1 }),
    name: options.name,
  };
  if ((options.implementation ?? defaultLstmImplementation()) === 'fused') {
    return new FusedLstm(common);
  }
  return tf.layers.lstm({ ...common, recurrentActivation: 'sigmoid' });
}
