/**
 * Synthetic series for the model tests: a noisy periodic signal (what
 * "normal" looks like) and ways to spoil one window of it.
 */
import { mulberry32 } from '../../../src/model/train.ts';

/** A row-major series of `rows` steps: channel c is sin(2π t / period + c) + noise. */
export function periodicSeries(
  rows: number,
  options: {
    channels?: number;
    period?: number;
    noise?: number;
    seed?: number;
    offset?: number;
  } = {},
): Float32Array {
  const channels = options.channels ?? 1;
  const period = options.period ?? 16;
  const noise = options.noise ?? 0.05;
  const random = mulberry32(options.seed ?? 1);
  const offset = options.offset ?? 0;
  const values = new Float32Array(rows * channels);
  for (let t = 0; t < rows; t++) {
    for (let c = 0; c < channels; c++) {
      const gauss = (random() + random() + random() - 1.5) * 2;
      values[t * channels + c] =
        10 + 3 * c + Math.sin((2 * Math.PI * (t + offset)) / period + c) + noise * gauss;
    }
  }
  return values;
}

/** The 99th percentile of some scores. */
export function percentile99(scores: readonly number[]): number {
  const sorted = [...scores].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}
