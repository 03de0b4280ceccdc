/**
 * The autoencoder's forward pass as one function of tensors, time-major
 * throughout, for scoring and training on the native backend.
 *
 * `model.predict` and `model.fit` go through tfjs-layers' graph executor,
 * which costs per layer and per call, and its TimeDistributed wrapper steps
 * the output dense layer through time one matmul per step (and back again in
 * the gradient). Here the network's own layers and variables are reused, but
 * executed directly: the input is transposed once to `[time, batch,
 * channels]`, the fused LSTMs run on it without transposes in between, the
 * repeat is a broadcast, the output dense layer is one matmul over all steps,
 * and only the small `[time, batch, channels]` output is transposed back.
 * Called with `training: true` the function is differentiable, so training
 * can minimise a loss through it; the gradients land on the network's
 * variables as with `fit`. Inference frees each LSTM's intermediate
 * activations as soon as it has run.
 */
import * as tf from '@tensorflow/tfjs';
import { FlatAdam } from './flat-adam.ts';
import { FusedLstm } from './fused-lstm.ts';
import { isNativeBackend } from './native-ops.ts';

/** `[batch, time, channels]` in, reconstruction of the same shape out. */
export interface ForwardFunction {
  (x: tf.Tensor3D, options?: { training?: boolean }): tf.Tensor3D;
  /** The network's trainable variables: what training through this function updates. */
  readonly variables: tf.Variable[];
  /**
   * The reconstruction errors of `x` without the reconstruction: a table
   * `[batch, 1 + channels + time]` per window of the mean squared error, its
   * mean per channel and its mean per step (see reconstructionErrors). Cheaper
   * than the forward pass and the errors separately: the errors are taken in
   * the network's time-major layout, so the output is never transposed back.
   */
  errors(x: tf.Tensor3D): tf.Tensor2D;
}

type Step = (state: State, training: boolean) => State;

/** The running tensor: time-major when `timeMajor`, else `[batch, features]`. */
interface State {
  tensor: tf.Tensor;
  timeMajor: boolean;
}

/**
 * Elements of one `[time, batch, units]` activation per inference call: 64 MB,
 * 4096 windows of 64 steps and 64 units. With TensorFlow's default (malloc)
 * allocator smaller calls were faster (1024 windows for that model), because
 * every large buffer was page-faulted in again on each call; with the BFC
 * allocator (src/model/backend.ts) the memory is reused and larger calls
 * win: on the 2-core build machine, 4096-window calls of the 64-step model
 * took 12 % less CPU time than 2048-window calls and 27 % less than
 * 1024-window calls with malloc. The price is memory: BFC keeps the peak,
 * about 0.5 GB for that model at this size.
 */
const INFERENCE_ACTIVATION_ELEMENTS = 2 ** 24;

/** Windows per inference call for `network`: INFERENCE_ACTIVATION_ELEMENTS / (window × widest LSTM). */
function defaultInferenceChunk(network: tf.LayersModel): number {
  const steps = Number(network.inputs[0]?.shape[1] ?? 1);
  const units = Math.max(1, ...network.layers.map((l) => (l instanceof FusedLstm ? l.units : 1)));
  return Math.max(64, Math.floor(INFERENCE_ACTIVATION_ELEMENTS / (steps * units)));
}

const ACTIVATIONS: Record<string, ((t: tf.Tensor) => tf.Tensor) | undefined> = {
  linear: (t) => t,
  tanh: (t) => tf.tanh(t),
  relu: (t) => tf.relu(t),
  sigmoid: (t) => tf.sigmoid(t),
};

/**
 * Compiles `network` (a chain of Input, FusedLstm, Dropout, Dense,
 * RepeatVector and TimeDistributed(Dense) layers, as buildAutoencoderNetwork
 * makes on the native backend) into a ForwardFunction. Returns null when the
 * backend is not native or the network holds anything else (e.g. the
 * tfjs-layers LSTM): callers then use `predict`/`fit`, which always work.
 * The function reads the variables on every call, so it follows training.
 * Inference splits batches above `inferenceChunk` windows (default: sized so
 * each LSTM activation stays near 64 MB); training runs each batch whole.
 */
export function compileFusedForward(
  network: tf.LayersModel,
  options: { inferenceChunk?: number } = {},
): ForwardFunction | null {
  if (!isNativeBackend()) return null;
  if (network.inputs.length !== 1 || network.outputs.length !== 1) return null;
  const steps: Step[] = [];
  for (const layer of network.layers) {
    const step = compileLayer(layer);
    if (step === null) return null;
    if (step !== 'skip') steps.push(step);
  }
  if (!isChain(network)) return null;
  const inferenceChunk = Math.max(1, options.inferenceChunk ?? defaultInferenceChunk(network));
  /** The input and the reconstruction, both time-major `[time, batch, channels]`. */
  const runTimeMajor = (x: tf.Tensor3D, training: boolean): [tf.Tensor3D, tf.Tensor3D] => {
    const xt = tf.transpose(x, [1, 0, 2]) as tf.Tensor3D;
    let state: State = { tensor: xt, timeMajor: true };
    for (const step of steps) state = step(state, training);
    if (!state.timeMajor || state.tensor.rank !== 3) {
      throw new Error('fused forward: the network does not end in a sequence output');
    }
    return [xt, state.tensor as tf.Tensor3D];
  };
  const run = (x: tf.Tensor3D, training: boolean): tf.Tensor3D =>
    tf.tidy(() => tf.transpose(runTimeMajor(x, training)[1], [1, 0, 2]) as tf.Tensor3D);
  // BlockLSTMV2 materialises seven [time, batch, units] activations per
  // layer (470 MB for 4096 windows of 64 steps and 64 units); chunks keep
  // them small, which is also faster (see defaultInferenceChunk).
  const chunked = <T extends tf.Tensor>(x: tf.Tensor3D, one: (part: tf.Tensor3D) => T): T => {
    const n = x.shape[0];
    if (n <= inferenceChunk) return one(x);
    return tf.tidy(() => {
      const parts: T[] = [];
      for (let start = 0; start < n; start += inferenceChunk) {
        const size = Math.min(inferenceChunk, n - start);
        parts.push(one(tf.slice(x, [start, 0, 0], [size, -1, -1])));
      }
      return tf.concat(parts, 0) as T;
    });
  };
  const forward = (x: tf.Tensor3D, options: { training?: boolean } = {}): tf.Tensor3D =>
    options.training === true ? run(x, true) : chunked(x, (part) => run(part, false));
  const errors = (x: tf.Tensor3D): tf.Tensor2D =>
    chunked(x, (part) =>
      tf.tidy(() => {
        const [xt, yt] = runTimeMajor(part, false);
        return timeMajorErrors(xt, yt);
      }),
    );
  const variables = network.trainableWeights.map((w) => w.read() as tf.Variable);
  return Object.assign(forward, { variables, errors });
}

/**
 * Per-window reconstruction errors of `x` by `y` (both `[batch, time,
 * channels]`) as one table `[batch, 1 + channels + time]`: column 0 the mean
 * squared error over the window, then the mean per channel, then the mean per
 * step. One tensor, so the caller reads the scores back in one transfer.
 */
export function reconstructionErrors(x: tf.Tensor3D, y: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const squared = tf.squaredDifference(y, x);
    const perChannel = tf.mean(squared, 1);
    const perStep = tf.mean(squared, 2);
    return tf.concat([tf.mean(perChannel, 1, true), perChannel, perStep], 1) as tf.Tensor2D;
  });
}

/** reconstructionErrors of time-major `xt` and `yt` (`[time, batch, channels]`). */
function timeMajorErrors(xt: tf.Tensor3D, yt: tf.Tensor3D): tf.Tensor2D {
  const squared = tf.squaredDifference(yt, xt);
  const perChannel = tf.mean(squared, 0);
  const perStep = tf.transpose(tf.mean(squared, 2));
  return tf.concat([tf.mean(perChannel, 1, true), perChannel, perStep], 1) as tf.Tensor2D;
}

/** True when every layer feeds only the next one (no branches or merges). */
function isChain(network: tf.LayersModel): boolean {
  return network.layers.every((layer, i) => {
    const inbound = layer.inboundNodes;
    if (inbound.length !== 1) return false;
    const parents = inbound[0]?.inboundLayers ?? [];
    return i === 0
      ? parents.length === 0
      : parents.length === 1 && parents[0] === network.layers[i - 1];
  });
}

function compileLayer(layer: tf.layers.Layer): Step | 'skip' | null {
  const config = layer.getConfig();
  switch (layer.getClassName()) {
    case 'InputLayer':
      return 'skip';
    case FusedLstm.className: {
      const lstm = layer as FusedLstm;
      return (state, training) => {
        if (!state.timeMajor) throw new Error('fused forward: LSTM input must be a sequence');
        const out = lstm.applyTimeMajor(state.tensor as tf.Tensor3D, { inference: !training });
        return { tensor: out, timeMajor: lstm.returnSequences };
      };
    }
    case 'Dropout': {
      const rate = Number(config['rate'] ?? 0);
      return (state, training) =>
        training && rate > 0 ? { ...state, tensor: tf.dropout(state.tensor, rate) } : state;
    }
    case 'Dense':
      return denseStep(layer);
    case 'TimeDistributed': {
      const inner = (layer as unknown as { layer: tf.layers.Layer }).layer;
      return inner.getClassName() === 'Dense' ? denseStep(inner) : null;
    }
    case 'RepeatVector': {
      const n = Number(config['n']);
      return (state) => {
        if (state.timeMajor) throw new Error('fused forward: RepeatVector input must be 2-D');
        return { tensor: repeatTimeMajor(state.tensor as tf.Tensor2D, n), timeMajor: true };
      };
    }
    default:
      return null;
  }
}

/**
 * RepeatVector, time-major: `[batch, features]` to `[n, batch, features]`.
 * tfjs differentiates the broadcast (a Tile) with one slice and one add per
 * repeat, 2n small ops per training batch; the gradient is just the sum over
 * the repeats, one op.
 */
function repeatTimeMajor(x: tf.Tensor2D, n: number): tf.Tensor3D {
  const [batch, features] = x.shape;
  const repeat = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.broadcastTo(tf.expandDims(args[0] as tf.Tensor2D, 0), [n, batch, features]),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [tf.sum(Array.isArray(dy) ? dy[0]! : dy, 0)],
  }));
  return repeat(x) as tf.Tensor3D;
}

/** A dense layer applied to the last axis, in one matmul over every step. */
function denseStep(layer: tf.layers.Layer): Step | null {
  const config = layer.getConfig();
  const activation = ACTIVATIONS[String(config['activation'] ?? 'linear')];
  if (activation === undefined) return null;
  const [kernelVar, biasVar] = layer.weights;
  if (kernelVar === undefined) return null;
  return (state) => {
    const kernel = kernelVar.read() as tf.Tensor2D;
    const shape = state.tensor.shape;
    const features = shape[shape.length - 1] as number;
    const flat = tf.reshape(state.tensor, [-1, features]) as tf.Tensor2D;
    let y: tf.Tensor = tf.matMul(flat, kernel);
    if (biasVar !== undefined) y = tf.add(y, biasVar.read());
    y = activation(y);
    return {
      tensor: tf.reshape(y, [...shape.slice(0, -1), kernel.shape[1]]),
      timeMajor: state.timeMajor,
    };
  };
}

/**
 * One epoch of minibatch training through `forward` (mean squared
 * reconstruction error, the windows are their own targets), in the order of
 * `x`, with `optimizer` (a FlatAdam, the fast one, or any tfjs optimizer).
 * Resolves to the epoch loss as `fit` reports it: the batch losses
 * weighted by batch size. The losses are read once at the end, so the epoch
 * never waits on the device between batches.
 */
export async function fitEpoch(
  forward: ForwardFunction,
  optimizer: tf.Optimizer | FlatAdam,
  x: tf.Tensor3D,
  batchSize: number,
): Promise<number> {
  const n = x.shape[0];
  const losses: tf.Scalar[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const loss = tf.tidy(() => {
        const batch = tf.slice(x, [start, 0, 0], [size, -1, -1]) as tf.Tensor3D;
        const mse = () =>
          tf.mean(tf.squaredDifference(forward(batch, { training: true }), batch)) as tf.Scalar;
        let value: tf.Scalar;
        if (optimizer instanceof FlatAdam) {
          const { value: lossValue, grads } = tf.variableGrads(mse, forward.variables);
          optimizer.apply(forward.variables.map((v) => grads[v.name]!));
          value = lossValue;
        } else {
          value = optimizer.minimize(mse, true, forward.variables) as tf.Scalar;
        }
        return tf.mul(value, size) as tf.Scalar;
      });
      losses.push(loss);
    }
    const total = tf.tidy(() => tf.addN(losses));
    const sum = (await total.data())[0] as number;
    total.dispose();
    return sum / n;
  } finally {
    tf.dispose(losses);
  }
}

/** Mean squared reconstruction error of `x` through `forward`, in chunks of `chunk` windows. */
export async function reconstructionLoss(
  forward: ForwardFunction,
  x: tf.Tensor3D,
  chunk = 4096,
): Promise<number> {
  const n = x.shape[0];
  let sum = 0;
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const part = tf.tidy(() => {
      const batch = tf.slice(x, [start, 0, 0], [size, -1, -1]) as tf.Tensor3D;
      return tf.mul(tf.mean(tf.squaredDifference(forward(batch), batch)), size);
    });
    sum += (await part.data())[0] as number;
    part.dispose();
  }
  return sum / n;
}
