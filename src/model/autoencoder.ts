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
import { compileFusedForward, type ForwardFunction } from './fused-lstm-forward.ts';
import type { ModelMetadata } from './metadata.ts';
import { denormaliseInPlace, type Normalisation, normaliseInto } from './normalisation.ts';
import { type NetworkFiles, serialiseNetwork, writeModelDirectory } from './persistence.ts';

/** Windows per predict call: bounds the memory of one call while amortising its overhead. */
export const DEFAULT_SCORE_CHUNK = 4096;

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
   * per-channel and per-step errors explain it.
   */
  async scoreData(
    windows: readonly Float32Array[],
    options: ScoreOptions = {},
  ): Promise<WindowScore[]> {
    if (this.#disposed)
      throw new TsadError('TSAD_ERR_INTERNAL', `model ${this.version} is disposed`);
    const length = this.windowSize * this.channels.length;
    for (const w of windows) {
      if (w.length !== length) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `window of ${w.length} values; model ${this.version} expects ${length}`,
        );
      }
    }
    const results: WindowScore[] = [];
    for (let start = 0; start < windows.length; start += this.#chunk) {
      const chunk = windows.slice(start, start + this.#chunk);
      results.push(...(await this.#scoreChunk(chunk, options.reconstruction === true)));
    }
    return results;
  }

  async #scoreChunk(
    windows: readonly Float32Array[],
    withReconstruction: boolean,
  ): Promise<WindowScore[]> {
    const n = windows.length;
    const steps = this.windowSize;
    const c = this.channels.length;
    const input = new Float32Array(n * steps * c);
    windows.forEach((w, i) => {
      normaliseInto(w, this.normalisation, input, i * steps * c);
    });
    const outputs = tf.tidy(() => {
      const x = tf.tensor3d(input, [n, steps, c]);
      const y = this.#forward?.(x) ?? (this.#network.predict(x, { batchSize: n }) as tf.Tensor3D);
      const squared = tf.squaredDifference(y, x);
      const kept = [squared.mean([1, 2]), squared.mean(1), squared.mean(2)];
      if (withReconstruction) kept.push(y);
      return kept;
    });
    let data: Float32Array[];
    try {
      data = (await Promise.all(outputs.map((t) => t.data()))) as Float32Array[];
    } finally {
      tf.dispose(outputs);
    }
    const [scores, perChannel, perStep, reconstruction] = data;
    if (reconstruction !== undefined) denormaliseInPlace(reconstruction, this.normalisation);
    const results: WindowScore[] = [];
    for (let i = 0; i < n; i++) {
      const score: WindowScore = {
        score: scores![i]!,
        perChannel: perChannel!.slice(i * c, (i + 1) * c),
        perStep: perStep!.slice(i * steps, (i + 1) * steps),
      };
      if (reconstruction !== undefined) {
        score.reconstruction = reconstruction.slice(i * steps * c, (i + 1) * steps * c);
      }
      results.push(score);
    }
    return results;
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
