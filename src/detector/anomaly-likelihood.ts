/**
 * Anomaly likelihood after Numenta's HTM detector: the recent average of a
 * score compared with the Gaussian of its long-run averages. One unusual row
 * moves a short average little, but a sustained rise of the score — a level
 * shift the model keeps reconstructing a little worse — moves it far from its
 * usual distribution, which a per-row calibration would see only as a series
 * of unremarkable rows.
 */

/** Settings of anomalyLikelihood. */
export interface AnomalyLikelihoodOptions {
  /** Rows in the short moving average of the score (Numenta: 10). */
  shortWindow: number;
  /** Earlier averages the Gaussian is fitted on (Numenta: 8640); Infinity for all. */
  longWindow: number;
  /** Floor of the Gaussian's standard deviation, in the score's units. */
  minStd: number;
  /** A tail probability of 10^-decades maps to 1. */
  decades: number;
  /** Averages needed before the likelihood reports anything (0 before). */
  minHistory: number;
}

/**
 * Upper tail of the standard normal, Q(z) = erfc(z / √2) / 2, with the
 * Chebyshev-fitted erfc of Numerical Recipes (relative error below 1.2e-7
 * everywhere), so the far tail that the likelihood's log scale reads is exact
 * enough: a plain polynomial approximation has an absolute error floor there.
 */
export function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * The causal anomaly likelihood of each row's score: with `a` the mean of the
 * last `shortWindow` finite scores up to the row, and μ, σ the mean and
 * standard deviation (floored at `minStd`) of the averages of the previous
 * `longWindow` rows, the reported value is −log10(Q((a − μ) / σ)) / decades
 * clamped to [0, 1] — 0 for averages at or below μ. Only an unusually high
 * average is anomalous here (a model's error that drops is not), unlike
 * Numenta's two-sided tail. Rows with a NaN score and the first `minHistory`
 * averages report 0. Running sums make it O(1) per row.
 */
export function anomalyLikelihood(
  scores: ArrayLike<number>,
  options: AnomalyLikelihoodOptions,
): Float64Array {
  const n = scores.length;
  const out = new Float64Array(n);
  const recent: number[] = [];
  let recentSum = 0;
  const averages: number[] = [];
  let sum = 0;
  let sumSq = 0;
  let first = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    if (!Number.isFinite(s)) continue;
    recent.push(s);
    recentSum += s;
    if (recent.length > options.shortWindow) recentSum -= recent.shift()!;
    const a = recentSum / recent.length;
    const count = averages.length - first;
    if (count >= Math.max(2, options.minHistory)) {
      const mean = sum / count;
      const std = Math.max(options.minStd, Math.sqrt(Math.max(0, sumSq / count - mean * mean)));
      if (a > mean) {
        const p = Math.max(normalTail((a - mean) / std), Number.MIN_VALUE);
        out[i] = Math.min(1, -Math.log10(p) / options.decades);
      }
    }
    averages.push(a);
    sum += a;
    sumSq += a * a;
    if (averages.length - first > options.longWindow) {
      const old = averages[first++]!;
      sum -= old;
      sumSq -= old * old;
    }
    if (first > 4096 && first > averages.length / 2) {
      averages.splice(0, first);
      first = 0;
    }
  }
  return out;
}
