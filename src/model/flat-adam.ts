/**
 * Adam over all of a network's variables at once. tfjs's AdamOptimizer runs
 * about a dozen small kernels per variable and step (130 for the
 * autoencoder's ten variables), and on the native backend each kernel's
 * dispatch costs more than its arithmetic at these sizes. Here the gradients
 * are concatenated into one vector, the moments are one vector each, and the
 * update is split back: about 45 kernels per step, whatever the number of
 * variables. Same update rule and defaults as `tf.train.adam`.
 */
import * as tf from '@tensorflow/tfjs';

/** Hyperparameters of FlatAdam; the defaults are tf.train.adam's. */
export interface FlatAdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  /** tf.train.adam uses the backend's epsilon, 1e-7 for float32. */
  epsilon?: number;
}

/** Adam on one flat vector of every variable; create one per training run, dispose it after. */
export class FlatAdam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly #variables: readonly tf.Variable[];
  readonly #sizes: number[];
  readonly #m: tf.Variable;
  readonly #v: tf.Variable;
  readonly #constants: {
    beta1: tf.Scalar;
    oneMinusBeta1: tf.Scalar;
    beta2: tf.Scalar;
    oneMinusBeta2: tf.Scalar;
    epsilon: tf.Scalar;
  };
  #step = 0;

  /** An optimizer for `variables` (their order is the order of the gradients given to `apply`). */
  constructor(variables: readonly tf.Variable[], options: FlatAdamOptions) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    this.#variables = variables;
    this.#sizes = variables.map((v) => v.size);
    const total = this.#sizes.reduce((a, b) => a + b, 0);
    // tf.variable shares the initial tensor's data; tidy frees the initial tensor itself.
    this.#m = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    this.#v = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    this.#constants = tf.tidy(() => ({
      beta1: tf.keep(tf.scalar(this.beta1)),
      oneMinusBeta1: tf.keep(tf.scalar(1 - this.beta1)),
      beta2: tf.keep(tf.scalar(this.beta2)),
      oneMinusBeta2: tf.keep(tf.scalar(1 - this.beta2)),
      epsilon: tf.keep(tf.scalar(this.epsilon)),
    }));
  }

  /**
   * One Adam step: `grads[i]` is the gradient of the loss with respect to the
   * i-th variable. Updates the variables in place; frees nothing of the caller's.
   */
  apply(grads: readonly tf.Tensor[]): void {
    if (grads.length !== this.#variables.length) {
      throw new Error(
        `FlatAdam: ${grads.length} gradients for ${this.#variables.length} variables`,
      );
    }
    this.#step++;
    // The bias corrections as scalars: -lr / (1 - beta1^t) and 1 / (1 - beta2^t).
    const firstScale = -this.learningRate / (1 - this.beta1 ** this.#step);
    const secondScale = 1 / (1 - this.beta2 ** this.#step);
    tf.tidy(() => {
      const c = this.#constants;
      const g = tf.concat(grads.map((grad) => tf.reshape(grad, [-1])));
      const m = tf.add(tf.mul(this.#m, c.beta1), tf.mul(g, c.oneMinusBeta1));
      const v = tf.add(tf.mul(this.#v, c.beta2), tf.mul(tf.square(g), c.oneMinusBeta2));
      this.#m.assign(m);
      this.#v.assign(v);
      const step = tf.div(
        tf.mul(m, firstScale),
        tf.add(tf.sqrt(tf.mul(v, secondScale)), c.epsilon),
      );
      const parts = tf.split(step, this.#sizes);
      this.#variables.forEach((variable, i) => {
        variable.assign(tf.add(variable, tf.reshape(parts[i]!, variable.shape)));
      });
    });
  }

  /** Frees the moments; the variables stay the caller's. Idempotent. */
  dispose(): void {
    if (this.#m.isDisposed) return;
    tf.dispose([this.#m, this.#v, ...Object.values(this.#constants)]);
  }
}
