/**
 * Training of the autoencoder: normalisation fitted on the training windows,
 * Adam on MSE, the most recent windows held out for validation, early
 * stopping that restores the best weights, and a seeded shuffle so a seed
 * reproduces a run (as far as the backend's kernels are deterministic).
 */

import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../detector/seeded-random.ts';
import type { SensorWindow } from '../detector/types.ts';
import { TsadError } from '../errors.ts';
import { buildAutoencoderNetwork } from './architecture.ts';
import { Autoencoder } from './autoencoder.ts';
import { type ModelConfig, resolveModelConfig } from './config.ts';
import { FlatAdam } from './flat-adam.ts';
import { compileFusedForward, fitEpoch, reconstructionLoss } from './fused-lstm-forward.ts';
import { type EpochLoss, MODEL_FORMAT_VERSION, type ModelMetadata } from './metadata.ts';
import { fitNormalisation, normaliseInto, withinLimit } from './normalisation.ts';
import { serialiseNetwork, sha256 } from './persistence.ts';

/** Reported after every epoch. `valLoss` is null when no windows were held out. */
export interface TrainingProgress {
  epoch: number;
  maxEpochs: number;
  loss: number;
  valLoss: number | null;
  elapsedMs: number;
}

/** Options of a training run. */
export interface TrainOptions {
  /**
   * Channel names, required for raw Float32Array windows with more than one
   * channel (one channel is called `value`); SensorWindows carry their own.
   */
  channels?: readonly string[];
  onProgress?: (progress: TrainingProgress) => void;
  /** Stops training between epochs; the promise rejects with the abort reason. */
  signal?: AbortSignal;
}

/**
 * Trains an autoencoder on windows of normal behaviour. Windows are
 * `[step][channel]` arrays of `windowSize * channels` values (or
 * SensorWindows), in time order: the last `validationFraction` of them is the
 * validation set. Rejects with TSAD_ERR_INPUT_INVALID for unusable windows,
 * TSAD_ERR_CONFIG_INVALID for a bad config and TSAD_ERR_MODEL_TRAINING_FAILED
 * when the loss diverges.
 */
export async function trainAutoencoder(
  windows: readonly Float32Array[] | readonly SensorWindow[],
  config: Partial<ModelConfig> = {},
  options: TrainOptions = {},
): Promise<Autoencoder> {
  const started = Date.now();
  const cfg = resolveModelConfig(config);
  const { data: given, channels } = unpackWindows(windows, cfg.windowSize, options.channels);
  const c = channels.length;
  const { train, validation, fitted } = leaveOutExtremes(given, channels, cfg.validationFraction);
  const data = [...train, ...validation];
  const nTrain = train.length;
  const nVal = validation.length;
  const { normalisation, stats } = fitted;
  const stepValues = cfg.windowSize * c;
  const pack = (from: number, to: number): tf.Tensor3D => {
    const buffer = new Float32Array((to - from) * stepValues);
    for (let i = from; i < to; i++)
      normaliseInto(data[i]!, normalisation, buffer, (i - from) * stepValues);
    return tf.tensor3d(buffer, [to - from, cfg.windowSize, c]);
  };

  const network = buildAutoencoderNetwork(cfg, c);
  const optimizer = tf.train.adam(cfg.learningRate);
  network.compile({ optimizer, loss: 'meanSquaredError' });
  // Null unless the backend is native and every LSTM is the fused one.
  const forward = compileFusedForward(network);
  // The fused path's Adam: the same rule as `optimizer`, in a few kernels per step.
  const flatAdam =
    forward === null ? null : new FlatAdam(forward.variables, { learningRate: cfg.learningRate });
  const xTrain = pack(0, nTrain);
  const xVal = nVal > 0 ? pack(nTrain, data.length) : undefined;
  const random = mulberry32(cfg.seed);
  const history: EpochLoss[] = [];
  let best: { epoch: number; loss: number; weights: tf.Tensor[] } | undefined;
  let stoppedEarly = false;
  try {
    for (let epoch = 1; epoch <= cfg.maxEpochs; epoch++) {
      // On the native backend an epoch never gives the event loop a turn (its
      // kernels and data() finish synchronously), so without this the SIGINT
      // handler that aborts `signal` would run only once training is over.
      await new Promise(setImmediate);
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('training aborted');
      const order = tf.tensor1d(permutation(nTrain, random), 'int32');
      const shuffled = tf.gather(xTrain, order);
      order.dispose();
      let loss: number;
      let valLoss: number | null;
      try {
        if (forward !== null && flatAdam !== null) {
          // The fused path: same loss and optimizer as fit, without its per-batch overhead.
          loss = await fitEpoch(forward, flatAdam, shuffled as tf.Tensor3D, cfg.batchSize);
          valLoss = xVal === undefined ? null : await reconstructionLoss(forward, xVal);
        } else {
          const fitted = await network.fit(shuffled, shuffled, {
            epochs: 1,
            batchSize: cfg.batchSize,
            shuffle: false,
            verbose: 0,
            ...(xVal === undefined
              ? {}
              : { validationData: [xVal, xVal] as [tf.Tensor, tf.Tensor] }),
          });
          loss = Number(fitted.history['loss']?.[0]);
          valLoss = xVal === undefined ? null : Number(fitted.history['val_loss']?.[0]);
        }
      } finally {
        shuffled.dispose();
      }
      if (!Number.isFinite(loss) || (valLoss !== null && !Number.isFinite(valLoss))) {
        throw new TsadError(
          'TSAD_ERR_MODEL_TRAINING_FAILED',
          `training diverged at epoch ${epoch} (loss ${loss}, val loss ${valLoss}); ` +
            'try a lower learning rate',
        );
      }
      history.push({ epoch, loss, valLoss });
      options.onProgress?.({
        epoch,
        maxEpochs: cfg.maxEpochs,
        loss,
        valLoss,
        elapsedMs: Date.now() - started,
      });
      const monitored = valLoss ?? loss;
      if (best === undefined || monitored < best.loss) {
        if (best !== undefined) tf.dispose(best.weights);
        best = { epoch, loss: monitored, weights: network.getWeights().map((w) => w.clone()) };
      } else if (epoch - best.epoch >= cfg.patience) {
        stoppedEarly = epoch < cfg.maxEpochs;
        break;
      }
    }
    network.setWeights(best!.weights);
  } catch (error) {
    network.dispose();
    throw error;
  } finally {
    if (best !== undefined) tf.dispose(best.weights);
    tf.dispose([xTrain, ...(xVal === undefined ? [] : [xVal])]);
    optimizer.dispose();
    flatAdam?.dispose();
  }

  const createdAt = new Date();
  const metadata: Omit<ModelMetadata, 'files'> = {
    formatVersion: MODEL_FORMAT_VERSION,
    version: '',
    createdAt: createdAt.toISOString(),
    config: cfg,
    channels: [...channels],
    normalisation,
    training: {
      windows: given.length,
      trainWindows: nTrain,
      validationWindows: nVal,
      windowsLeftOut: given.length - data.length,
      validationSplit: 'last-fraction',
      channelStats: stats,
      epochsRun: history.length,
      bestEpoch: best!.epoch,
      bestLoss: best!.loss,
      stoppedEarly,
      durationMs: Date.now() - started,
      backend: tf.getBackend(),
    },
    lossHistory: history,
  };
  const files = await serialiseNetwork(network);
  metadata.version = modelVersion(createdAt, files.weights);
  return new Autoencoder(network, metadata);
}

/**
 * Splits the windows (in time order) into training and validation windows and
 * fits the normalisation on the training ones, leaving out every window that
 * holds a value no normal behaviour has: one stored as ±Infinity (a reading
 * past float32's range) or a million scales from its channel's median
 * (NORMALISED_LIMIT; a broken sensor's 1e20, say). Clamped, one such value
 * still swamps the loss of its batch and the model learns little else. When a
 * training window is left out the normalisation is fitted again without it.
 * With nothing left out the split is the plain last-fraction one.
 */
function leaveOutExtremes(
  windows: Float32Array[],
  channels: readonly string[],
  validationFraction: number,
): {
  train: Float32Array[];
  validation: Float32Array[];
  fitted: ReturnType<typeof fitNormalisation>;
} {
  const needOne = (train: Float32Array[]) => {
    if (train.length < 1) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `training needs at least one window; of ${windows.length}, every training window ` +
          'holds a value beyond float32 or a million scales from its channel median',
      );
    }
    return train;
  };
  const finite = windows.filter((w) => w.every(Number.isFinite));
  const nVal = Math.floor(finite.length * validationFraction);
  let train = needOne(finite.slice(0, finite.length - nVal));
  let fitted = fitNormalisation(train, channels);
  if (!train.every((w) => withinLimit(w, fitted.normalisation))) {
    train = needOne(train.filter((w) => withinLimit(w, fitted.normalisation)));
    fitted = fitNormalisation(train, channels);
  }
  const validation = finite
    .slice(finite.length - nVal)
    .filter((w) => withinLimit(w, fitted.normalisation));
  return { train, validation, fitted };
}

/** `20261127T221500Z-1a2b3c4d`: sortable creation time and the first hex of the weights' sha256. */
function modelVersion(createdAt: Date, weights: Uint8Array): string {
  const time = createdAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${time}-${sha256(weights).slice(0, 8)}`;
}

function unpackWindows(
  windows: readonly Float32Array[] | readonly SensorWindow[],
  windowSize: number,
  names: readonly string[] | undefined,
): { data: Float32Array[]; channels: readonly string[] } {
  const first = windows[0];
  if (first === undefined)
    throw new TsadError('TSAD_ERR_INPUT_INVALID', 'training needs at least one window');
  const sensorWindows = !(first instanceof Float32Array);
  const data = windows.map((w) => (w instanceof Float32Array ? w : w.data));
  const channels =
    names ??
    (sensorWindows ? (first as SensorWindow).channels : defaultChannels(first, windowSize));
  if (channels.length < 1)
    throw new TsadError('TSAD_ERR_INPUT_INVALID', 'windows need at least one channel');
  const length = windowSize * channels.length;
  data.forEach((w, i) => {
    if (w.length !== length) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `training window ${i} has ${w.length} values; expected ${windowSize} steps × ` +
          `${channels.length} channels = ${length}`,
      );
    }
    // ±Infinity (a reading past float32's range) is left out of training; NaN is a caller's bug.
    if (w.some(Number.isNaN)) {
      throw new TsadError('TSAD_ERR_INPUT_INVALID', `training window ${i} holds NaN`);
    }
  });
  return { data, channels };
}

function defaultChannels(first: Float32Array, windowSize: number): string[] {
  if (first.length === windowSize) return ['value'];
  throw new TsadError(
    'TSAD_ERR_INPUT_INVALID',
    `windows of ${first.length} values with window size ${windowSize}: pass the channel names`,
  );
}

/** Fisher-Yates shuffle of 0..n-1 driven by the seeded generator. */
function permutation(n: number, random: () => number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

export { mulberry32 };
