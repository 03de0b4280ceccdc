/**
 * The robust rolling baseline: threshold = median + k · 1.4826 · MAD over the
 * last `window` normal scores. Median and MAD ignore the few extreme scores a
 * mean and standard deviation would be dragged by, and the 1.4826 factor makes
 * the MAD a standard deviation for Gaussian data. Flagged scores never enter
 * the window.
 *
 * The window is kept twice: in arrival order (a ring, to know which score
 * leaves) and sorted (binary search + one memmove per update), so the median
 * is read directly and the MAD found by merging the two sorted runs of
 * deviations on either side of the median, O(window) with no allocation.
 */
import { calibrateLinear, calibrateRatio } from './calibration.ts';
import type { AdaptiveThreshold, RollingConfig, ThresholdVerdict } from './threshold.ts';

/** Scale of the MAD that makes it a standard deviation for normal data. */
export const MAD_TO_SIGMA = 1.4826;

/** Index of the first element ≥ value in sorted[0, count). */
function lowerBound(sorted: Float64Array, count: number, value: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Median of sorted[0, count). */
function sortedMedian(sorted: Float64Array, count: number): number {
  const mid = count >>> 1;
  return count % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The k-th smallest (0-based) absolute deviation from `median` of sorted[0, count),
 * by merging the deviations to the left (growing leftwards) and to the right.
 */
function kthDeviation(sorted: Float64Array, count: number, median: number, k: number): number {
  let right = lowerBound(sorted, count, median);
  let left = right - 1;
  let value = 0;
  for (let taken = 0; taken <= k; taken++) {
    const dl = left >= 0 ? median - sorted[left]! : Number.POSITIVE_INFINITY;
    const dr = right < count ? sorted[right]! - median : Number.POSITIVE_INFINITY;
    if (dl <= dr) {
      value = dl;
      left--;
    } else {
      value = dr;
      right++;
    }
  }
  return value;
}

/** Median absolute deviation of sorted[0, count) around `median`. */
export function sortedMad(sorted: Float64Array, count: number, median: number): number {
  const mid = count >>> 1;
  if (count % 2 === 1) return kthDeviation(sorted, count, median, mid);
  return (
    (kthDeviation(sorted, count, median, mid - 1) + kthDeviation(sorted, count, median, mid)) / 2
  );
}

/** Creates a rolling median + k·MAD threshold (see the module comment). */
export function createRollingMad(config: RollingConfig): AdaptiveThreshold {
  const ring = new Float64Array(config.window);
  const sorted = new Float64Array(config.window);
  let head = 0;
  let count = 0;
  let median = 0;
  let threshold = Number.POSITIVE_INFINITY;

  const learn = (score: number): void => {
    if (count === ring.length) {
      const leaving = lowerBound(sorted, count, ring[head]!);
      sorted.copyWithin(leaving, leaving + 1, count);
      count--;
    }
    ring[head] = score;
    head = (head + 1) % ring.length;
    const at = lowerBound(sorted, count, score);
    sorted.copyWithin(at + 1, at, count);
    sorted[at] = score;
    count++;
    if (count >= config.warmup) refresh();
  };

  const refresh = (): void => {
    median = sortedMedian(sorted, count);
    // A window without spread (a constant score) still needs a margin.
    const sigma = Math.max(
      MAD_TO_SIGMA * sortedMad(sorted, count, median),
      Math.abs(median) * 1e-6,
      1e-12,
    );
    threshold = median + config.k * sigma;
  };

  const ready = (): boolean => count >= config.warmup;

  return {
    method: 'rolling',
    get ready() {
      return ready();
    },
    update(score) {
      if (!ready()) {
        learn(score);
        return {
          threshold: Number.POSITIVE_INFINITY,
          baseline: Number.POSITIVE_INFINITY,
          anomalous: false,
          calibratedScore: 0,
          warmingUp: true,
        };
      }
      const verdict: ThresholdVerdict = {
        threshold,
        baseline: median,
        anomalous: score > threshold,
        calibratedScore: calibrateRatio(calibrateLinear(score, median, threshold)),
        warmingUp: false,
      };
      if (!verdict.anomalous) learn(score);
      return verdict;
    },
    calibrate(score) {
      return ready() ? calibrateRatio(calibrateLinear(score, median, threshold)) : 0;
    },
    recalibrate(scale) {
      if (scale === undefined) {
        head = 0;
        count = 0;
        threshold = Number.POSITIVE_INFINITY;
        return;
      }
      // Scaling by a positive factor keeps the sorted order.
      for (let i = 0; i < ring.length; i++) {
        ring[i]! *= scale;
        sorted[i]! *= scale;
      }
      if (ready()) refresh();
    },
    memoryBytes() {
      return ring.byteLength + sorted.byteLength;
    },
  };
}
