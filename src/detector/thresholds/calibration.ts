/**
 * The shared mapping from "how far past normal" to a calibrated score in
 * [0, 1]. Every method expresses a score as a ratio r ≥ 0 that is 0 at its
 * normal level, 1 at its threshold and grows with the score; the calibrated
 * score is r / (1 + r): 0 at normal, 0.5 at the threshold, → 1 far above.
 * Monotone in r, so monotone in the raw score for a fixed state.
 */

/** r / (1 + r) for r ≥ 0 (negative or NaN r count as 0, +Infinity as 1). */
export function calibrateRatio(r: number): number {
  if (!(r > 0)) return 0;
  if (r === Number.POSITIVE_INFINITY) return 1;
  return r / (1 + r);
}

/**
 * The linear ratio (x − baseline) / (threshold − baseline), clamped at 0; when
 * the threshold does not sit above the baseline, 1 above the baseline else 0.
 */
export function calibrateLinear(x: number, baseline: number, threshold: number): number {
  const span = threshold - baseline;
  if (!(span > 0)) return x > baseline ? 1 : 0;
  return Math.max(0, (x - baseline) / span);
}
