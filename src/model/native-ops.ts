/**
 * Raw TensorFlow ops through tfjs-node's eager binding. tfjs-node registers a
 * tfjs kernel for only a subset of TensorFlow's ops; the fused ones tsad needs
 * (BlockLSTMV2 and its gradient) are reachable only by calling the binding's
 * `executeOp` directly, which is what this module wraps. Everything here is
 * valid only while the active tfjs backend is 'tensorflow'.
 */
import * as tf from '@tensorflow/tfjs';

/** One attribute of a raw op, in the binding's own encoding. */
export interface NativeAttr {
  name: string;
  type: number;
  value: unknown;
}

/** An int64 scalar input (tfjs has no int64 tensors), held by the binding. */
export interface Int64Input {
  readonly int64Id: number;
}

interface TensorMetadata {
  id: number;
  shape: number[];
  dtype: number;
}

interface Binding {
  TF_FLOAT: number;
  TF_INT64: number;
  TF_ATTR_FLOAT: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_INT: number;
  TF_ATTR_TYPE: number;
  createTensor(shape: number[], dtype: number, values: Int32Array | Float32Array): number;
  executeOp(
    name: string,
    attrs: NativeAttr[],
    inputIds: number[],
    numOutputs: number,
  ): TensorMetadata[];
}

interface NodeBackend {
  binding: Binding;
  getInputTensorIds(tensors: tf.Tensor[]): number[];
  createOutputTensor(metadata: TensorMetadata): tf.Tensor;
}

/** True when raw TensorFlow ops can run: the active backend is the native one. */
export function isNativeBackend(): boolean {
  return tf.getBackend() === 'tensorflow';
}

function nodeBackend(): NodeBackend {
  if (!isNativeBackend()) {
    throw new Error(`raw TensorFlow ops need the 'tensorflow' backend, not '${tf.getBackend()}'`);
  }
  return tf.backend() as unknown as NodeBackend;
}

// int64 scalars are created once per value and live as long as the process:
// they are a handful (one per sequence length) and creating one per call
// would leak a binding tensor each time, as tfjs-node's own Int64Scalar does.
const int64Cache = new Map<number, Int64Input>();

/** An int64 scalar input for raw ops, e.g. BlockLSTM's `seq_len_max`. */
export function int64Scalar(value: number): Int64Input {
  let cached = int64Cache.get(value);
  if (cached === undefined) {
    const { binding } = nodeBackend();
    const low = (value % 2 ** 32) | 0;
    const high = value < 0 ? -1 : 0;
    cached = { int64Id: binding.createTensor([], binding.TF_INT64, new Int32Array([low, high])) };
    int64Cache.set(value, cached);
  }
  return cached;
}

/** A float attribute (e.g. `cell_clip`). */
export function floatAttr(name: string, value: number): NativeAttr {
  return { name, type: nodeBackend().binding.TF_ATTR_FLOAT, value };
}

/** A boolean attribute (e.g. `use_peephole`). */
export function boolAttr(name: string, value: boolean): NativeAttr {
  return { name, type: nodeBackend().binding.TF_ATTR_BOOL, value };
}

/** The `T: float32` type attribute most ops take. */
export function float32TypeAttr(name = 'T'): NativeAttr {
  const { binding } = nodeBackend();
  return { name, type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT };
}

/**
 * Executes one raw TensorFlow op eagerly and returns its outputs as tfjs
 * tensors, tracked by the engine like any other (so `tf.tidy` frees them).
 * The op is invisible to tfjs autodiff: wrap it in `tf.customGrad` to train
 * through it.
 */
export function runNativeOp(
  name: string,
  attrs: NativeAttr[],
  inputs: ReadonlyArray<tf.Tensor | Int64Input>,
  numOutputs: number,
): tf.Tensor[] {
  const backend = nodeBackend();
  const ids = inputs.map((input) =>
    'int64Id' in input ? input.int64Id : (backend.getInputTensorIds([input])[0] as number),
  );
  const outputs = backend.binding.executeOp(name, attrs, ids, numOutputs);
  return outputs.map((metadata) => backend.createOutputTensor(metadata));
}
