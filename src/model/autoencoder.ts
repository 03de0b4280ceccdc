/**
 * A trained autoencoder: the network plus its metadata, scoring batches of
 * windows for the stream (the WindowScorer port) and saving itself to a model
 * directory. Every tensor lives inside tf.tidy or is disposed explicitly, so
 * scoring forever does not grow tfjs memory.
 */
import * as tf from '@tensorflow/tfjs';
import type { SensorWindow, WindowScore, WindowScorer } from '../detector/types.ts';
import { TsadError } from '../errors.ts';
import type { ModelConfig } from './config.ts';
import {
  compileFusedForward,
  type ForwardFunction,
  reconstructionErrors,
} from './fused-lstm-forward.ts';
import type { ModelMetadata } from './metadata.ts';
import { denormaliseInPlace, type Normalisation, normaliseInto } from './normalisation.ts';
import { type NetworkFiles, serialiseNetwork, writeModelDirectory } from './persistence.ts';

/** Windows per predict call: bounds the memory of one call while amortising its overhead. */
export const DEFAULT_SCORE_CHUNK = 4096;

/**
 * Scores of `n` windows in a few flat arrays: `score[i]`, `perChannel[i *
 * channels + c]`, `perStep[i * windowSize + s]` and, when asked for,
 * `reconstruction[i * windowSize * channels + ...]` in original units.
 */
export interface PackedScores {
  score: Float32Array;
  perChannel: Float32Array;
  perStep: Float32Array;
  reconstruction?: Float32Array;
}

/**
 * One result per window from packed scores of `n` windows of `steps` steps
 * and `channels` channels; the arrays of each result are views, not copies.
 */
export function unpackScores(
  packed: PackedScores,
  n: number,
  channels: number,
  steps: number,
): WindowScore[] {
  const length = steps * channels;
  const results: WindowScore[] = [];
  for (let i = 0; i < n; i++) {
    const score: WindowScore = {
      score: packed.score[i]!,
      perChannel: packed.perChannel.subarray(i * channels, (i + 1) * channels),
      perStep: packed.perStep.subarray(i * steps, (i + 1) * steps),
    };
    if (packed.reconstruction !== undefined) {
      score.reconstruction = packed.reconstruction.subarray(i * length, (i + 1) * length);
    }
    results.push(score);
  }
  return results;
}

/** Options of scoring. */
export interface ScoreOptions {
  /** Also return each window's reconstruction in original units. */
  reconstruction?: boolean;
}

/** Scores windows with a trained LSTM autoencoder; create it with trainAutoencoder or loadAutoencoder. */
export class Autoencoder implements WindowScorer {
  readonly version: string;
  readonly windowSize: number;
  readonly channels: readonly string[];
  readonly config: Readonly<ModelConfig>;
  readonly normalisation: Readonly<Normalisation>;
  /** Metadata without file checksums (those are computed when saving). */
  readonly metadata: Readonly<Omit<ModelMetadata, 'files'>>;
  readonly #network: tf.LayersModel;
  /** The network as one time-major function (fused LSTMs on the native backend), else null. */
  readonly #forward: ForwardFunction | null;
  readonly #chunk: number;
  #disposed = false;

  /** Wraps a network and its metadata; `chunk` caps the windows per predict call. */
  constructor(
    network: tf.LayersModel,
    metadata: Omit<ModelMetadata, 'files'>,
    chunk = DEFAULT_SCORE_CHUNK,
  ) {
    this.#network = network;
    this.#forward = compileFusedForward(network);
    this.metadata = metadata;
    this.version = metadata.version;
    this.config = metadata.config;
    this.windowSize = metadata.config.windowSize;
    this.channels = Object.freeze([...metadata.channels]);
    this.normalisation = metadata.normalisation;
    this.#chunk = Math.max(1, chunk);
  }

  /**
   * Scores windows from the stream. Each must have the model's size and
   * channels in the model's order; a mismatch is TSAD_ERR_INPUT_INVALID.
   */
  async scoreBatch(
    windows: readonly SensorWindow[],
    options: ScoreOptions = {},
  ): Promise<WindowScore[]> {
    for (const w of windows) {
      if (w.size !== this.windowSize || w.data.length !== this.windowSize * this.channels.length) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `window of sensor ${w.sensor} has ${w.size} steps and ${w.data.length} values; ` +
            `model ${this.version} expects ${this.windowSize} steps of ${this.channels.length} channels`,
        );
      }
      if (w.channels !== this.channels && !sameChannels(w.channels, this.channels)) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `window of sensor ${w.sensor} has channels [${w.channels.join(', ')}]; ` +
            `model ${this.version} expects [${this.channels.join(', ')}]`,
        );
      }
    }
    return this.scoreData(
      windows.map((w) => w.data),
      options,
    );
  }

  /**
   * Scores raw windows, each `[step][channel]` of `windowSize * channels`
   * values in original units. The score is the MSE on normalised values; the
   * per-channel and per-step errors explain it. A result's arrays are views
   * into a few buffers shared by the batch.
   */
  async scoreData(
    windows: readonly Float32Array[],
    options: ScoreOptions = {},
  ): Promise<WindowScore[]> {
    this.#assertUsable();
    const length = this.windowSize * this.channels.length;
    for (const w of windows) {
      if (w.length !== length) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `window of ${w.length} values; model ${this.version} expects ${length}`,
        );
      }
    }
    const input = new Float32Array(windows.length * length);
    windows.forEach((w, i) => {
      normaliseInto(w, this.normalisation, input, i * length);
    });
    const packed = await this.#scoreNormalised(
      input,
      windows.length,
      options.reconstruction === true,
    );
    return unpackScores(packed, windows.length, this.channels.length, this.windowSize);
  }

  /**
   * Scores `data`, windows back to back (`[window][step][channel]`, a multiple
   * of `windowSize * channels` values in original units), and returns the
   * results as packed arrays rather than one object per window: what a caller
   * that ships scores elsewhere (a worker thread, a file) wants. Same values
   * as scoreData.
   */
  async scorePacked(data: Float32Array, options: ScoreOptions = {}): Promise<PackedScores> {
    this.#assertUsable();
    const length = this.windowSize * this.channels.length;
    if (data.length % length !== 0) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `${data.length} values are not whole windows; model ${this.version} expects ` +
          `multiples of ${length}`,
      );
    }
    const input = new Float32Array(data.length);
    normaliseInto(data, this.normalisation, input, 0);
    return this.#scoreNormalised(input, data.length / length, options.reconstruction === true);
  }

  #assertUsable(): void {
    if (this.#disposed)
      throw new TsadError('TSAD_ERR_INTERNAL', `model ${this.version} is disposed`);
  }

  /** Scores `n` normalised windows in `input`, `#chunk` windows per network call. */
  async #scoreNormalised(
    input: Float32Array,
    n: number,
    withReconstruction: boolean,
  ): Promise<PackedScores> {
    const steps = this.windowSize;
    const c = this.channels.length;
    const length = steps * c;
    const width = 1 + c + steps;
    const table = new Float32Array(n * width);
    const reconstruction = withReconstruction ? new Float32Array(n * length) : undefined;
    for (let start = 0; start < n; start += this.#chunk) {
      const size = Math.min(this.#chunk, n - start);
      const outputs = tf.tidy(() => {
        const x = tf.tensor3d(input.subarray(start * length, (start + size) * length), [
          size,
          steps,
          c,
        ]);
        if (!withReconstruction && this.#forward !== null) return [this.#forward.errors(x)];
        const y =
          this.#forward?.(x) ?? (this.#network.predict(x, { batchSize: size }) as tf.Tensor3D);
        return [reconstructionErrors(x, y), y];
      });
      try {
        const [errors, y] = (await Promise.all(outputs.map((t) => t.data()))) as Float32Array[];
        table.set(errors!, start * width);
        if (reconstruction !== undefined) reconstruction.set(y!, start * length);
      } finally {
        tf.dispose(outputs);
      }
    }
    if (reconstruction !== undefined) denormaliseInPlace(reconstruction, this.normalisation);
    // The table's columns as the three arrays of PackedScores.
    const score = new Float32Array(n);
    const perChannel = new Float32Array(n * c);
    const perStep = new Float32Array(n * steps);
    for (let i = 0; i < n; i++) {
      const row = i * width;
      score[i] = table[row]!;
      perChannel.set(table.subarray(row + 1, row + 1 + c), i * c);
      perStep.set(table.subarray(row + 1 + c, row + width), i * steps);
    }
    return reconstruction === undefined
      ? { score, perChannel, perStep }
      : { score, perChannel, perStep, reconstruction };
  }

  /** The network's files as bytes; used by save and to derive the version. */
  serialise(): Promise<NetworkFiles> {
    return serialiseNetwork(this.#network);
  }

  /**
   * Writes the model directory (`model.json`, `weights.bin`, `metadata.json`
   * with sha256 checksums), replacing a previous model at `dir` atomically.
   */
  async save(dir: string): Promise<void> {
    await writeModelDirectory(dir, await this.serialise(), this.metadata);
  }

  /** Frees the network's tensors; the model cannot score afterwards. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#network.dispose();
  }
}

function sameChannels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}
