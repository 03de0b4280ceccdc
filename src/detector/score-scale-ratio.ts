/**
 * The scale between two models' scores, for recalibrating thresholds after a
 * model swap without a new warm-up (see RecalibrateOptions.scale).
 */

/**
 * Ratio of the `level` quantiles of the new and the old model's scores on the
 * same windows (e.g. a validation set). A high quantile matches the part of the
 * distribution thresholds live in; the median would be dominated by the bulk.
 * Returns null when either set is empty or the old quantile is not positive
 * (no meaningful ratio: recalibrate with a warm-up instead).
 */
export function scoreScaleRatio(
  oldScores: ArrayLike<number>,
  newScores: ArrayLike<number>,
  level = 0.98,
): number | null {
  const quantile = (values: ArrayLike<number>): number => {
    const sorted = Float64Array.from(values).sort();
    const position = (sorted.length - 1) * level;
    const below = Math.floor(position);
    const above = Math.min(sorted.length - 1, below + 1);
    return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
  };
  if (oldScores.length === 0 || newScores.length === 0) return null;
  const before = quantile(oldScores);
  const after = quantile(newScores);
  if (!(before > 0) || !(after > 0) || !Number.isFinite(after / before)) return null;
  return after / before;
}
