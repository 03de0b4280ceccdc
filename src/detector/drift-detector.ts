/**
 * Detects when the distribution of recent window scores has moved away from
 * the one the current model was validated on: the two-sample
 * Kolmogorov–Smirnov distance between the last `recentSize` scores and the
 * reference scores. A single fault episode moves a few scores; a drift (the
 * input's normal level or shape changing for good) moves most of them for a
 * long time, so the distance must stay above `threshold` for `patience`
 * consecutive checks before drift is declared. Until a reference is set
 * (a model loaded from disk or trained at cold start was validated on no
 * scores we kept), the first `recentSize` scores become the reference.
 */

/** Settings of the drift detector. */
export interface DriftOptions {
  /** Scores in the recent sample. */
  recentSize: number;
  /** KS distance (0..1) above which a check counts as drifted. */
  threshold: number;
  /** Observations between two checks. */
  checkEvery: number;
  /** Consecutive drifted checks needed to declare drift. */
  patience: number;
}

/** Defaults: 512 recent scores, D ≥ 0.5 over 4 checks 128 scores apart. */
export const DEFAULT_DRIFT: Readonly<DriftOptions> = Object.freeze({
  recentSize: 512,
  threshold: 0.5,
  checkEvery: 128,
  patience: 4,
});

/** What the last check found. */
export interface DriftStatus {
  /** KS distance at the last check (NaN before the first check). */
  distance: number;
  drifted: boolean;
  /** Consecutive checks above the threshold. */
  streak: number;
  /**
   * Estimated scores observed since the shift began (0 when not drifting): at
   * the first check of the streak, a distance D means about D·recentSize of
   * the recent scores were already shifted.
   */
  sinceOnset: number;
}

/** The drift detector of the retraining scheduler. */
export interface DriftDetector {
  /**
   * Sets the scores of the model in use on normal data, and restarts the
   * recent sample; an empty list means "take the next recentSize scores".
   */
  setReference(scores: readonly number[]): void;
  /** Adds one window's score; returns true at the observation where drift is declared. */
  observe(score: number): boolean;
  status(): DriftStatus;
  /** Median of the reference scores (NaN while there is none). */
  referenceMedian(): number;
}

/** Creates a drift detector; its first `recentSize` scores become the reference. */
export function createDriftDetector(options: Partial<DriftOptions> = {}): DriftDetector {
  const o = { ...DEFAULT_DRIFT, ...options };
  let reference: Float64Array = new Float64Array(0);
  const recent = new Float64Array(o.recentSize);
  let count = 0;
  let sinceCheck = 0;
  let onsetAt = 0;
  let status: DriftStatus = { distance: Number.NaN, drifted: false, streak: 0, sinceOnset: 0 };

  return {
    setReference(scores) {
      reference = Float64Array.from(scores.filter(Number.isFinite)).sort();
      count = 0;
      sinceCheck = 0;
      status = { distance: Number.NaN, drifted: false, streak: 0, sinceOnset: 0 };
    },
    observe(score) {
      if (!Number.isFinite(score)) return false;
      if (reference.length === 0) {
        recent[count] = score;
        count += 1;
        if (count === o.recentSize) {
          reference = recent.slice().sort();
          count = 0;
        }
        return false;
      }
      recent[count % o.recentSize] = score;
      count += 1;
      sinceCheck += 1;
      if (count < o.recentSize || sinceCheck < o.checkEvery) return false;
      sinceCheck = 0;
      const distance = ksDistance(reference, recent.slice().sort());
      const streak = distance >= o.threshold ? status.streak + 1 : 0;
      if (streak === 1) onsetAt = count - Math.round(distance * o.recentSize);
      const drifted = streak >= o.patience;
      const declared = drifted && !status.drifted;
      status = { distance, drifted, streak, sinceOnset: streak > 0 ? count - onsetAt : 0 };
      return declared;
    },
    status() {
      return { ...status, sinceOnset: status.streak > 0 ? count - onsetAt : 0 };
    },
    referenceMedian() {
      return reference.length === 0 ? Number.NaN : reference[Math.floor(reference.length / 2)]!;
    },
  };
}

/**
 * Two-sample Kolmogorov–Smirnov statistic of two sorted samples: the largest
 * gap between their empirical distribution functions.
 */
export function ksDistance(a: Float64Array, b: Float64Array): number {
  if (a.length === 0 || b.length === 0) return Number.NaN;
  let i = 0;
  let j = 0;
  let distance = 0;
  while (i < a.length && j < b.length) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < a.length && a[i]! <= x) i += 1;
    while (j < b.length && b[j]! <= x) j += 1;
    distance = Math.max(distance, Math.abs(i / a.length - j / b.length));
  }
  return distance;
}
