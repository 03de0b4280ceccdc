/**
 * The SKAB backtest's changepoint output. SKAB's baselines report a
 * changepoint wherever their 0/1 outlier prediction changes; that ties the
 * changepoint score to how the outlier flags start and stop, and an outlier
 * detector tuned for point-wise F1 (long runs, late starts while evidence
 * accumulates) is a poor onset detector. A level-shift detector serves
 * changepoints better: every reading is compared with a causal moving level
 * of its own channel, so a shift stands out for about the moving level's
 * span and then becomes the new normal, whether the fault began or ended.
 */
import type { ThresholdOptions } from '../../detector/thresholds/threshold.ts';
import { judgeScores } from './replay.ts';

/** Where the changepoint column comes from. */
export interface SkabChangepointConfig {
  /**
   * `flags`: where the outlier prediction changes (as SKAB's baselines do);
   * `level-shift`: where the level-shift detector's own 0/1 verdict changes.
   */
  source: 'flags' | 'level-shift';
  /** EWMA span (rows) of the moving level each reading is compared with. */
  span: number;
  /** Rows whose squared deviations are averaged into one score (a moving window). */
  window: number;
  /** The adaptive threshold of the level-shift score; it warms up on the fitting rows. */
  threshold: ThresholdOptions;
}

/**
 * Per row, the mean over the last `window` rows of the channels' squared
 * deviations from their moving levels, each deviation divided by its
 * standard deviation over the fitting rows (so every channel weighs alike,
 * measured in its own normal noise). Causal: row i depends on rows ≤ i only.
 * NaN before the first full window. `values` is row-major (`rows × channels`).
 */
export function levelShiftScores(
  values: ArrayLike<number>,
  channels: number,
  fitRows: number,
  config: Pick<SkabChangepointConfig, 'span' | 'window'>,
): Float64Array {
  const rows = Math.floor(values.length / channels);
  const alpha = 2 / (Math.max(1, config.span) + 1);
  const deviation = new Float64Array(rows * channels);
  const level = Array.from({ length: channels }, (_, k) => values[k] ?? 0);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < channels; k++) {
      const d = values[r * channels + k]! - level[k]!;
      deviation[r * channels + k] = d;
      level[k] = level[k]! + alpha * d;
    }
  }
  // The first row deviates by 0 by construction; the spread comes from rows 1..fitRows-1.
  const spread = Array.from({ length: channels }, (_, k) => {
    const n = Math.max(1, Math.min(fitRows, rows) - 1);
    let sum = 0;
    let sumSq = 0;
    for (let r = 1; r <= n && r < rows; r++) {
      const d = deviation[r * channels + k]!;
      sum += d;
      sumSq += d * d;
    }
    const mean = sum / n;
    const sd = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
    return sd > 1e-12 ? sd : 1;
  });
  const window = Math.max(1, config.window);
  const out = new Float64Array(rows).fill(Number.NaN);
  const point = new Float64Array(rows);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    let p = 0;
    for (let k = 0; k < channels; k++) p += (deviation[r * channels + k]! / spread[k]!) ** 2;
    point[r] = p / channels;
    sum += point[r]!;
    if (r >= window) sum -= point[r - window]!;
    if (r >= window - 1) out[r] = sum / window;
  }
  return out;
}

/** 1 where a 0/1 sequence changes, and the first element's own value (SKAB's convention). */
export function changesOf(flags: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(flags.length);
  for (let i = 0; i < flags.length; i++) {
    const a = flags[i] === 1 ? 1 : 0;
    out[i] = i === 0 ? a : a === (flags[i - 1] === 1 ? 1 : 0) ? 0 : 1;
  }
  return out;
}

/**
 * The 0/1 sequence whose changes are the file's predicted changepoints: the
 * outlier flags themselves, or the level-shift detector's verdict per row
 * (its threshold warmed up on the scores of the fitting rows and fed in row
 * order). Callers take `changesOf` of the part they report.
 */
export function changepointFlags(
  input: { values: ArrayLike<number>; channels: number; fitRows: number; flags: ArrayLike<number> },
  config: SkabChangepointConfig,
): Uint8Array {
  if (config.source === 'flags') return Uint8Array.from(input.flags, (f) => (f === 1 ? 1 : 0));
  const raw = levelShiftScores(input.values, input.channels, input.fitRows, config);
  const warmup = Math.max(0, input.fitRows - Math.max(1, config.window) + 1);
  return judgeScores(raw, warmup, { smoothingSpan: 1, threshold: config.threshold }).anomalous;
}
