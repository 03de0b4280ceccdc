/**
 * An LSTM layer that runs a whole sequence in one fused TensorFlow kernel.
 *
 * tfjs-layers' LSTM dispatches a dozen small ops per time step, and on the
 * native backend that dispatch, not the arithmetic, is what costs. TensorFlow
 * ships a fused kernel, `BlockLSTMV2` (and `BlockLSTMGradV2` for training),
 * which tfjs-node can execute as a raw op. This layer uses them when the
 * backend is 'tensorflow', under a custom gradient, and falls back to the same
 * math in plain tfjs ops on other backends, so a model saved on one backend
 * loads and runs on any.
 *
 * Weights have the layout of `tf.layers.lstm` (kernel `[inputDim, 4 * units]`,
 * recurrentKernel `[units, 4 * units]`, bias `[4 * units]`, gates i, f, c, o),
 * which is also BlockLSTMV2's: its `w` is the two kernels stacked, and its gate
 * layout is ifco. Activations are fixed to Keras's defaults (tanh, sigmoid
 * recurrent activation); compare with a reference LSTM built with
 * `recurrentActivation: 'sigmoid'` (tfjs-layers defaults to hard sigmoid).
 */
import * as tf from '@tensorflow/tfjs';
import {
  boolAttr,
  float32TypeAttr,
  floatAttr,
  int64Scalar,
  isNativeBackend,
  runNativeOp,
} from './native-ops.ts';

// tfjs-layers exports these types only through deep paths its package.json hides.
type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type LayerVariable = tf.layers.Layer['weights'][number];
type Initializer = ReturnType<typeof tf.initializers.zeros>;

/** Options of the fused LSTM, a subset of `tf.layers.lstm`'s. */
export interface FusedLstmArgs extends LayerArgs {
  units: number;
  /** Output every step `[batch, time, units]` rather than the last `[batch, units]`. */
  returnSequences?: boolean;
  /** Initialise the forget gate's bias to 1 (Keras's default; tfjs-layers' is false). */
  unitForgetBias?: boolean;
  /** Defaults to Glorot uniform, as tf.layers.lstm. */
  kernelInitializer?: Initializer;
  /** Defaults to orthogonal, as tf.layers.lstm. */
  recurrentInitializer?: Initializer;
}

/** The fused LSTM layer; registered for (de)serialisation as `FusedLstm`. */
export class FusedLstm extends tf.layers.Layer {
  static className = 'FusedLstm';
  readonly units: number;
  readonly returnSequences: boolean;
  readonly unitForgetBias: boolean;
  private readonly kernelInitializer: Initializer;
  private readonly recurrentInitializer: Initializer;
  private kernel: LayerVariable | undefined;
  private recurrentKernel: LayerVariable | undefined;
  private bias: LayerVariable | undefined;

  constructor(args: FusedLstmArgs) {
    super(args);
    if (!Number.isInteger(args.units) || args.units <= 0) {
      throw new Error(`FusedLstm: units must be a positive integer, got ${args.units}`);
    }
    this.units = args.units;
    this.returnSequences = args.returnSequences ?? false;
    this.unitForgetBias = args.unitForgetBias ?? false;
    this.kernelInitializer = args.kernelInitializer ?? tf.initializers.glorotUniform({});
    this.recurrentInitializer =
      args.recurrentInitializer ?? tf.initializers.orthogonal({ gain: 1 });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inputDim = shape[shape.length - 1];
    if (shape.length !== 3 || inputDim == null) {
      throw new Error(`FusedLstm expects [batch, time, features] input, got [${shape}]`);
    }
    const units = this.units;
    this.kernel = this.addWeight(
      'kernel',
      [inputDim, 4 * units],
      'float32',
      this.kernelInitializer,
    );
    this.recurrentKernel = this.addWeight(
      'recurrent_kernel',
      [units, 4 * units],
      'float32',
      this.recurrentInitializer,
    );
    this.bias = this.addWeight('bias', [4 * units], 'float32', tf.initializers.zeros());
    if (this.unitForgetBias) {
      const bias = this.bias;
      tf.tidy(() => {
        bias.write(tf.concat([tf.zeros([units]), tf.ones([units]), tf.zeros([2 * units])]));
      });
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return this.returnSequences
      ? [shape[0] ?? null, shape[1] ?? null, this.units]
      : [shape[0] ?? null, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
    const [kernel, recurrentKernel, bias] = this.weightTensors();
    return tf.tidy(() =>
      isNativeBackend()
        ? fusedLstm(x, kernel, recurrentKernel, bias, this.returnSequences)
        : referenceLstm(x, kernel, recurrentKernel, bias, this.returnSequences),
    );
  }

  /**
   * The layer on a time-major input `[time, batch, features]`, returning
   * `[time, batch, units]` (or the last step `[batch, units]`): what
   * BlockLSTMV2 computes natively, so a chain of these layers needs no
   * transposes in between. Differentiable like `apply`, unless
   * `inference` (see fusedLstmInference).
   */
  applyTimeMajor(xt: tf.Tensor3D, options: { inference?: boolean } = {}): tf.Tensor {
    const [kernel, recurrentKernel, bias] = this.weightTensors();
    return tf.tidy(() => {
      if (isNativeBackend()) {
        return options.inference === true
          ? fusedLstmInference(xt, kernel, recurrentKernel, bias, this.returnSequences)
          : fusedLstmTimeMajor(xt, kernel, recurrentKernel, bias, this.returnSequences);
      }
      const x = tf.transpose(xt, [1, 0, 2]) as tf.Tensor3D;
      const y = referenceLstm(x, kernel, recurrentKernel, bias, this.returnSequences);
      return this.returnSequences ? tf.transpose(y, [1, 0, 2]) : y;
    });
  }

  private weightTensors(): [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D] {
    if (
      this.kernel === undefined ||
      this.recurrentKernel === undefined ||
      this.bias === undefined
    ) {
      throw new Error('FusedLstm called before it was built');
    }
    return [
      this.kernel.read() as tf.Tensor2D,
      this.recurrentKernel.read() as tf.Tensor2D,
      this.bias.read() as tf.Tensor1D,
    ];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      returnSequences: this.returnSequences,
      unitForgetBias: this.unitForgetBias,
    };
  }
}
tf.serialization.registerClass(FusedLstm);

const BLOCK_LSTM_OUTPUTS = 7; // i, cs, f, o, ci, co, h, each [time, batch, units]

function blockLstmAttrs() {
  // cell_clip <= 0 disables clipping, as in Keras's LSTM.
  return [floatAttr('cell_clip', 0), boolAttr('use_peephole', false), float32TypeAttr()];
}

/**
 * Runs an LSTM over `x` `[batch, time, features]` with zero initial state in
 * TensorFlow's fused BlockLSTMV2 kernel; differentiable with respect to every
 * input through BlockLSTMGradV2. Native backend only. Returns `[batch, time,
 * units]` when `returnSequences`, else the last step `[batch, units]`.
 */
export function fusedLstm(
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  returnSequences: boolean,
): tf.Tensor {
  return tf.tidy(() => {
    const xt = tf.transpose(x, [1, 0, 2]) as tf.Tensor3D;
    const y = fusedLstmTimeMajor(xt, kernel, recurrentKernel, bias, returnSequences);
    return returnSequences ? tf.transpose(y, [1, 0, 2]) : y;
  });
}

/**
 * fusedLstm on a time-major input `[time, batch, features]`, returning
 * `[time, batch, units]` when `returnSequences`, else `[batch, units]`.
 */
export function fusedLstmTimeMajor(
  xt: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  returnSequences: boolean,
): tf.Tensor {
  const [time, batch, features] = xt.shape;
  const units = recurrentKernel.shape[0];
  const forward = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, k, rk, b] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    const save = args[4] as tf.GradSaveFunc;
    const w = tf.concat([k, rk], 0);
    const state = tf.zeros([batch, units]);
    const peephole = tf.zeros([units]);
    const outputs = runNativeOp(
      'BlockLSTMV2',
      blockLstmAttrs(),
      [int64Scalar(time), xIn, state, state, w, peephole, peephole, peephole, b],
      BLOCK_LSTM_OUTPUTS,
    );
    const h = outputs[6] as tf.Tensor3D;
    const value = returnSequences
      ? h
      : tf.reshape(tf.slice(h, [time - 1, 0, 0], [1, batch, units]), [batch, units]);
    save([xIn, w, b, ...outputs]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dOut = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor;
        const hGrad = returnSequences
          ? dOut
          : tf.pad(tf.reshape(dOut, [1, batch, units]), [
              [time - 1, 0],
              [0, 0],
              [0, 0],
            ]);
        // Filled by a TensorFlow kernel: tf.zeros would copy a zeroed JS array in.
        const csGrad = tf.fill([time, batch, units], 0);
        const [sx, sw, sb, ...forwardOutputs] = saved as [
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          ...tf.Tensor[],
        ];
        const zeroState = tf.zeros([batch, units]);
        const zeroPeephole = tf.zeros([units]);
        const grads = runNativeOp(
          'BlockLSTMGradV2',
          [boolAttr('use_peephole', false), float32TypeAttr()],
          [
            int64Scalar(time),
            sx,
            zeroState,
            zeroState,
            sw,
            zeroPeephole,
            zeroPeephole,
            zeroPeephole,
            sb,
            ...forwardOutputs,
            csGrad,
            hGrad,
          ],
          8, // x, cs_prev, h_prev, w, wci, wcf, wco, b
        );
        const wGrad = grads[3] as tf.Tensor2D;
        return [
          grads[0] as tf.Tensor3D,
          tf.slice(wGrad, [0, 0], [features, 4 * units]),
          tf.slice(wGrad, [features, 0], [units, 4 * units]),
          grads[7] as tf.Tensor1D,
        ];
      },
    };
  });
  return forward(xt, kernel, recurrentKernel, bias);
}

/**
 * fusedLstmTimeMajor for inference only: not differentiable, and the six
 * activations BlockLSTMV2 returns beside `h` (kept for the gradient) are
 * freed as soon as the kernel returns instead of at the end of the caller's
 * tidy, so a network's layers do not hold them all at once (470 MB per
 * layer for 4096 windows of 64 steps and 64 units).
 */
export function fusedLstmInference(
  xt: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  returnSequences: boolean,
): tf.Tensor {
  const [time, batch] = xt.shape;
  const units = recurrentKernel.shape[0];
  const outputs = tf.tidy(() => {
    const w = tf.concat([kernel, recurrentKernel], 0);
    const state = tf.zeros([batch, units]);
    const peephole = tf.zeros([units]);
    return runNativeOp(
      'BlockLSTMV2',
      blockLstmAttrs(),
      [int64Scalar(time), xt, state, state, w, peephole, peephole, peephole, bias],
      BLOCK_LSTM_OUTPUTS,
    );
  });
  const h = outputs[6] as tf.Tensor3D;
  tf.dispose(outputs.slice(0, 6));
  if (returnSequences) return h;
  const last = tf.reshape(tf.slice(h, [time - 1, 0, 0], [1, batch, units]), [batch, units]);
  h.dispose();
  return last;
}

/**
 * The same LSTM in plain tfjs ops, one step at a time: the path for the WASM
 * and CPU backends, where raw TensorFlow ops do not exist. Autodiff works
 * through it as through any tfjs code.
 */
export function referenceLstm(
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  returnSequences: boolean,
): tf.Tensor {
  return tf.tidy(() => {
    const [batch, time, features] = x.shape;
    const units = recurrentKernel.shape[0];
    // The input projection of every step in one matmul; only the recurrent
    // part has to run step by step.
    const projected = tf.reshape(
      tf.add(tf.matMul(tf.reshape(x, [batch * time, features]), kernel), bias),
      [batch, time, 4 * units],
    );
    const steps = tf.unstack(projected, 1);
    let h: tf.Tensor2D = tf.zeros([batch, units]);
    let c: tf.Tensor2D = tf.zeros([batch, units]);
    const outputs: tf.Tensor2D[] = [];
    for (const step of steps) {
      const z = tf.add(step, tf.matMul(h, recurrentKernel));
      const [zi, zf, zc, zo] = tf.split(z, 4, 1) as [
        tf.Tensor2D,
        tf.Tensor2D,
        tf.Tensor2D,
        tf.Tensor2D,
      ];
      c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zc)));
      h = tf.mul(tf.sigmoid(zo), tf.tanh(c));
      if (returnSequences) outputs.push(h);
    }
    return returnSequences ? tf.stack(outputs, 1) : h;
  });
}
