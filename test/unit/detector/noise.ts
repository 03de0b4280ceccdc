/** Seeded noise for detector tests: the same seed gives the same scores. */
import type { SensorWindow, WindowScore } from '../../../src/detector/types.ts';

/** mulberry32: a small, fast, seeded uniform generator on [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exponential(1) scores. */
export function exponentialNoise(random: () => number): () => number {
  return () => -Math.log(1 - random());
}

/** Mean of four squared standard normals: what a window MSE of Gaussian residuals looks like. */
export function chiSquareNoise(random: () => number): () => number {
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return () => {
    let sum = 0;
    for (let i = 0; i < 4; i++) sum += normal() ** 2;
    return sum / 4;
  };
}

/**
 * A window of `size` steps over the given channels ending at `endTs` (one step
 * per second), with a score whose error sits on `hotChannel` at step `hotStep`.
 */
export function scoredWindow(options: {
  sensor: string;
  endTs: number;
  score: number;
  channels?: readonly string[];
  size?: number;
  hotChannel?: number;
  hotStep?: number;
  reconstruction?: boolean;
}): { window: SensorWindow; score: WindowScore } {
  const channels = options.channels ?? ['a', 'b'];
  const size = options.size ?? 4;
  const hotChannel = options.hotChannel ?? 0;
  const hotStep = options.hotStep ?? size - 1;
  const data = new Float32Array(size * channels.length);
  const timestamps = new Float64Array(size);
  for (let s = 0; s < size; s++) {
    timestamps[s] = options.endTs - (size - 1 - s) * 1000;
    for (let c = 0; c < channels.length; c++) data[s * channels.length + c] = s + c / 10;
  }
  const perChannel = new Float32Array(channels.length).fill(options.score * 0.1);
  perChannel[hotChannel] = options.score * (channels.length - 0.1 * (channels.length - 1));
  const perStep = new Float32Array(size).fill(options.score * 0.5);
  perStep[hotStep] = options.score * (size - 0.5 * (size - 1));
  const score: WindowScore = { score: options.score, perChannel, perStep };
  if (options.reconstruction) score.reconstruction = data.map((v) => v + 0.25);
  return {
    window: {
      sensor: options.sensor,
      channels,
      size,
      data,
      startTs: timestamps[0]!,
      endTs: options.endTs,
      timestamps,
    },
    score,
  };
}
