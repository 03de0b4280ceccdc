/**
 * The domain types that flow between the stream, the model and the detector.
 * They are the contracts between those parts: change them with care.
 */

/** One decoded reading of one sensor: every channel's value at one instant. */
export interface Reading {
  sensor: string;
  /** Epoch milliseconds. */
  ts: number;
  /** Channel name → value. Finite numbers only (the decoder rejects others). */
  values: Record<string, number>;
}

/**
 * A window of consecutive readings of one sensor, ready to score. `data` is
 * row-major `[step][channel]`: `data[step * channels.length + c]`.
 */
export interface SensorWindow {
  sensor: string;
  /** Channel names in the order of `data`'s columns. */
  channels: readonly string[];
  /** Number of time steps (the model's window size). */
  size: number;
  data: Float32Array;
  /** Timestamp of the first and last reading in the window (epoch ms). */
  startTs: number;
  endTs: number;
  /** Timestamps of every step, for explanations. */
  timestamps: Float64Array;
}

/**
 * A score at or above this is beyond any threshold's calibration: the window
 * holds a value hundreds of thousands of its channel's scales from normal.
 * (The model clamps normalised values at a million scales, NORMALISED_LIMIT in
 * src/model/normalisation.ts, so a window holding one clamped value scores
 * about 10¹² over its count of values.) The detector keeps such scores out of
 * a threshold's warm-up: 16 of them among SPOT's first 1,000 scores held its
 * threshold above 10⁵ for the next 10,000 windows. Once the threshold is ready
 * they are judged as usual, far above it.
 */
export const EXTREME_SCORE = 1e8;

/** What the model says of one window. */
export interface WindowScore {
  /** Mean squared reconstruction error over all steps and channels (normalised units). */
  score: number;
  /** Mean squared error per channel, `[channels]`. */
  perChannel: Float32Array;
  /** Mean squared error per time step, `[size]`. */
  perStep: Float32Array;
  /** The reconstruction in original units, `[size * channels]`, when asked for. */
  reconstruction?: Float32Array;
}

/** The scoring port the stream calls; implemented by src/model. */
export interface WindowScorer {
  /** Identifies the model that produced a score; goes into alerts. */
  readonly version: string;
  readonly windowSize: number;
  /** Channel names the model was trained on, in order. */
  readonly channels: readonly string[];
  /** Scores a batch of windows (all with `size === windowSize` and the model's channels). */
  scoreBatch(
    windows: readonly SensorWindow[],
    options?: { reconstruction?: boolean },
  ): Promise<WindowScore[]>;
}
