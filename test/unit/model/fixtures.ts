/**
 * Synthetic series for the model tests: a noisy periodic signal (what
 * "normal" looks like) and ways to spoil one window of it.
 */
import type { Autoencoder } from '../../../src/model/autoencoder.ts';
import { mulberry32, trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';

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

/** The small model the scoring tests train on the periodic signal (window 16, one channel). */
export const PERIODIC_MODEL = Object.freeze({
  windowSize: 16,
  hiddenUnits: [16],
  codeSize: 8,
  maxEpochs: 12,
  batchSize: 64,
  learningRate: 0.02,
  patience: 5,
  seed: 7,
});

/** PERIODIC_MODEL trained on 300 windows of the periodic signal (seed 1). */
export function trainPeriodicModel(): Promise<Autoencoder> {
  const w = PERIODIC_MODEL.windowSize;
  return trainAutoencoder(windowsFromSeries(periodicSeries(300 + w, { seed: 1 }), 1, w), {
    ...PERIODIC_MODEL,
    hiddenUnits: [...PERIODIC_MODEL.hiddenUnits],
  });
}
