/**
 * The single place where the autoencoder's LSTM layers are made. Keeping every
 * LSTM behind this factory lets a faster implementation (a fused native LSTM
 * layer) replace the stock tfjs layer without touching the architecture,
 * training or persistence code.
 */
import * as tf from '@tensorflow/tfjs';

/** What the autoencoder asks of an LSTM layer. */
export interface LstmOptions {
  units: number;
  /** True for a `[batch, steps, units]` output, false for the last step only. */
  returnSequences: boolean;
  /** Seeds the weight initialisers, so a given config always starts from the same weights. */
  seed: number;
  /** Layer name; unique within the model (it keys the saved weights). */
  name: string;
}

/**
 * Creates one LSTM layer. Both kernels use a seeded Glorot-uniform initialiser:
 * tfjs's orthogonal initialiser (the Keras default for the recurrent kernel)
 * runs a slow JS QR decomposition and warns on stderr above 2000 elements,
 * which a 32-unit layer already exceeds.
 */
export function createLstm(options: LstmOptions): tf.layers.Layer {
  return tf.layers.lstm({
    units: options.units,
    returnSequences: options.returnSequences,
    kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed }),
    recurrentInitializer: tf.initializers.glorotUniform({ seed: options.seed + 1 }),
    name: options.name,
  });
}
