/**
 * Fitting a generalised Pareto distribution (GPD) to peaks over a threshold,
 * and its tail quantile and tail probability, as SPOT needs them.
 *
 * The fit maximises the profile likelihood in θ = ξ/σ (Grimshaw's reduction):
 * for a fixed θ the maximum-likelihood ξ is mean(log(1 + θ·y)) and σ = ξ/θ, so
 * the search is one-dimensional. A log-spaced grid brackets the maximum and a
 * golden-section search refines it; this is robust where Newton iterations on
 * Grimshaw's equation fail (few peaks, ties), and costs about 60 passes over
 * the peaks. ξ is kept ≥ −1, where the likelihood is bounded.
 *
 * SPOT itself uses `fitTail`: the same likelihood corrected for peaks that were
 * only learnt because they stayed under the threshold (`fitTruncatedGpd`), with
 * the exponential tail kept unless a free shape is clearly better.
 */

/** Peaks or limits as SPOT keeps them (float32 per sensor, to save memory) or float64. */
export type Samples = Float32Array | Float64Array;

/** A GPD fit: shape ξ and scale σ > 0. ξ = 0 is the exponential tail. */
export interface GpdFit {
  xi: number;
  sigma: number;
}

/** Below this many peaks the shape is not estimated: the tail is taken as exponential. */
export const MIN_PEAKS_FOR_SHAPE = 10;

/** |ξ| below this uses the exponential formulas (the general ones divide by ξ). */
const XI_EPSILON = 1e-8;

/** Per-peak profile log-likelihood at θ, with the ξ it implies. */
function profile(peaks: Samples, count: number, theta: number): { ll: number; xi: number } {
  let sumLog = 0;
  for (let i = 0; i < count; i++) sumLog += Math.log1p(theta * peaks[i]!);
  const xi = sumLog / count;
  if (xi < -1 || !Number.isFinite(xi)) return { ll: Number.NEGATIVE_INFINITY, xi };
  const sigma = xi / theta;
  if (!(sigma > 0)) return { ll: Number.NEGATIVE_INFINITY, xi };
  return { ll: -Math.log(sigma) - xi - 1, xi };
}

/**
 * Fits a GPD to the first `count` values of `peaks` (all > 0: excesses over the
 * peak level). With fewer than MIN_PEAKS_FOR_SHAPE peaks, or peaks without
 * spread, it returns the exponential fit (ξ = 0, σ = mean). Returns null when
 * there is nothing to fit (no peaks, or all zero).
 */
export function fitGpd(peaks: Samples, count: number): GpdFit | null {
  if (count <= 0) return null;
  let sum = 0;
  let max = 0;
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const y = peaks[i]!;
    sum += y;
    if (y > max) max = y;
    if (y < min) min = y;
  }
  const mean = sum / count;
  if (!(mean > 0)) return null;
  const exponential: GpdFit = { xi: 0, sigma: mean };
  if (count < MIN_PEAKS_FOR_SHAPE || max - min <= mean * 1e-12) return exponential;

  // Candidate θ: negative side up to (not reaching) −1/max, θ = 0, and a
  // log-spaced positive side up to 1000/mean (ξ ≈ 7, heavier than any score).
  const thetas: number[] = [];
  for (const u of [0.999, 0.99, 0.95, 0.9, 0.8, 0.6, 0.4, 0.2, 0.1, 0.03, 0.01]) {
    thetas.push(-u / max);
  }
  thetas.push(0);
  for (let k = -3; k <= 3; k += 0.25) thetas.push(10 ** k / mean);

  const llAt = (theta: number): number =>
    theta === 0 ? -Math.log(mean) - 1 : profile(peaks, count, theta).ll;
  let best = 0;
  let bestLl = Number.NEGATIVE_INFINITY;
  const lls = thetas.map(llAt);
  for (let i = 0; i < thetas.length; i++) {
    if (lls[i]! > bestLl) {
      bestLl = lls[i]!;
      best = i;
    }
  }
  const { x: theta, value: refined } = goldenSectionMax(
    llAt,
    thetas[Math.max(0, best - 1)]!,
    thetas[Math.min(thetas.length - 1, best + 1)]!,
    40,
  );
  if (!(refined > bestLl) && thetas[best] === 0) return exponential;
  const chosen = refined > bestLl ? theta : thetas[best]!;
  if (chosen === 0) return exponential;
  const { xi } = profile(peaks, count, chosen);
  if (Math.abs(xi) < XI_EPSILON) return exponential;
  return { xi, sigma: xi / chosen };
}

/**
 * The SPOT threshold z_q = t + σ/ξ·((q·n/N_t)^(−ξ) − 1), or t − σ·ln(q·n/N_t)
 * for the exponential tail: the level exceeded with probability q, given that
 * the peak level t is exceeded with probability N_t/n. Never below t.
 */
export function gpdQuantile(
  fit: GpdFit,
  t: number,
  q: number,
  n: number,
  peakCount: number,
): number {
  const r = (q * n) / peakCount;
  const excess =
    Math.abs(fit.xi) < XI_EPSILON
      ? -fit.sigma * Math.log(r)
      : (fit.sigma / fit.xi) * (r ** -fit.xi - 1);
  return t + Math.max(0, excess);
}

/**
 * ln P(X > x) for x ≥ t under the fitted tail: ln(N_t/n) − (1/ξ)·ln(1 + ξ(x−t)/σ).
 * −Infinity beyond the end point of a bounded tail (ξ < 0).
 */
export function gpdLogTail(
  fit: GpdFit,
  t: number,
  x: number,
  n: number,
  peakCount: number,
): number {
  const base = Math.log(peakCount / n);
  const y = Math.max(0, x - t);
  if (Math.abs(fit.xi) < XI_EPSILON) return base - y / fit.sigma;
  const inner = 1 + (fit.xi * y) / fit.sigma;
  if (inner <= 0) return Number.NEGATIVE_INFINITY;
  return base - Math.log(inner) / fit.xi;
}

/** Mean log-likelihood of the fit on peaks each accepted only if ≤ its limit (truncated data). */
function truncatedLogLikelihood(
  peaks: Samples,
  limits: Samples,
  count: number,
  xi: number,
  sigma: number,
): number {
  if (!(sigma > 0) || xi < -1) return Number.NEGATIVE_INFINITY;
  const exponential = Math.abs(xi) < XI_EPSILON;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const y = peaks[i]!;
    const c = limits[i]!;
    let logDensity: number;
    let logSurvivalAtLimit: number;
    if (exponential) {
      logDensity = -Math.log(sigma) - y / sigma;
      logSurvivalAtLimit = -c / sigma;
    } else {
      const inner = 1 + (xi * y) / sigma;
      if (inner <= 0) return Number.NEGATIVE_INFINITY;
      logDensity = -Math.log(sigma) - (1 + 1 / xi) * Math.log(inner);
      const innerC = 1 + (xi * c) / sigma;
      logSurvivalAtLimit = innerC <= 0 ? Number.NEGATIVE_INFINITY : -Math.log(innerC) / xi;
    }
    // ln P(Y ≤ c) = ln(1 − S(c)); an infinite limit (no truncation) adds nothing.
    total += logDensity - Math.log1p(-Math.exp(logSurvivalAtLimit));
  }
  return total / count;
}

/**
 * Fits a GPD to peaks that were each kept only because they did not exceed
 * `limits[i]` (the SPOT threshold's excess at the time): SPOT never learns a
 * score it flags, so its peaks are a truncated sample, and the plain fit reads
 * the missing top as a lighter tail, lowers the threshold, truncates more and
 * spirals to a false-alarm rate several times q. The truncated likelihood
 * Σ ln f(y_i) − ln F(c_i) removes that bias without learning from flagged
 * scores. Maximised by Nelder–Mead over (ξ, ln σ) from `start` (the plain
 * fit); falls back to `start` when it cannot improve on it.
 */
export function fitTruncatedGpd(
  peaks: Samples,
  limits: Samples,
  count: number,
  start: GpdFit,
): GpdFit {
  if (count < MIN_PEAKS_FOR_SHAPE) return start;
  // The simplex as three (ξ, ln σ) points kept sorted by their objective
  // (best first). Plain locals and module functions, not closures or index
  // arrays: this runs for every sensor at every refit, and tsx (which runs
  // the daemon) wraps every closure created in the loop in a naming call.
  const objective = (xi: number, logSigma: number): number =>
    -truncatedLogLikelihood(peaks, limits, count, xi, Math.exp(logSigma));
  const startLogSigma = Math.log(start.sigma);
  const simplex: Point[] = [
    { xi: start.xi, logSigma: startLogSigma, value: 0 },
    { xi: start.xi + 0.1, logSigma: startLogSigma, value: 0 },
    { xi: start.xi, logSigma: startLogSigma + 0.1, value: 0 },
  ];
  for (const p of simplex) p.value = objective(p.xi, p.logSigma);
  for (let iter = 0; iter < 80; iter++) {
    sortByValue(simplex);
    const [best, mid, worst] = simplex as [Point, Point, Point];
    if (Math.abs(worst.value - best.value) < 1e-9) break;
    const centroidXi = (best.xi + mid.xi) / 2;
    const centroidLogSigma = (best.logSigma + mid.logSigma) / 2;
    // Each trial point along the line from the worst point through the centroid.
    const reflectedXi = along(centroidXi, worst.xi, -1);
    const reflectedLogSigma = along(centroidLogSigma, worst.logSigma, -1);
    const fr = objective(reflectedXi, reflectedLogSigma);
    if (fr < best.value) {
      const expandedXi = along(centroidXi, worst.xi, -2);
      const expandedLogSigma = along(centroidLogSigma, worst.logSigma, -2);
      const fe = objective(expandedXi, expandedLogSigma);
      const value = Math.min(fe, fr);
      simplex[2] =
        fe < fr
          ? { xi: expandedXi, logSigma: expandedLogSigma, value }
          : { xi: reflectedXi, logSigma: reflectedLogSigma, value };
    } else if (fr < mid.value) {
      simplex[2] = { xi: reflectedXi, logSigma: reflectedLogSigma, value: fr };
    } else {
      const contractedXi = along(centroidXi, worst.xi, 0.5);
      const contractedLogSigma = along(centroidLogSigma, worst.logSigma, 0.5);
      const fc = objective(contractedXi, contractedLogSigma);
      if (fc < worst.value) {
        simplex[2] = { xi: contractedXi, logSigma: contractedLogSigma, value: fc };
      } else {
        for (const i of [1, 2]) {
          const p = simplex[i]!;
          const xi = (p.xi + best.xi) / 2;
          const logSigma = (p.logSigma + best.logSigma) / 2;
          simplex[i] = { xi, logSigma, value: objective(xi, logSigma) };
        }
      }
    }
  }
  let bestPoint = simplex[0]!;
  for (const p of simplex) if (p.value < bestPoint.value) bestPoint = p;
  if (!Number.isFinite(bestPoint.value) || bestPoint.value > objective(start.xi, startLogSigma)) {
    return start;
  }
  const { xi, logSigma } = bestPoint;
  return { xi: Math.abs(xi) < XI_EPSILON ? 0 : xi, sigma: Math.exp(logSigma) };
}

/** The point `factor` times as far from `centroid` as `worst`, on the same line. */
function along(centroid: number, worst: number, factor: number): number {
  return centroid + factor * (worst - centroid);
}

/** A Nelder–Mead point: (ξ, ln σ) and its objective. */
interface Point {
  xi: number;
  logSigma: number;
  value: number;
}

/**
 * Sorts three points by value in place, ascending, stable (ties keep their
 * order; a NaN value sorts as if equal): the order Array.prototype.sort gives.
 */
function sortByValue(points: Point[]): void {
  for (let i = 1; i < points.length; i++) {
    const pivot = points[i]!;
    let j = i;
    while (j > 0 && pivot.value - points[j - 1]!.value < 0) {
      points[j] = points[j - 1]!;
      j--;
    }
    points[j] = pivot;
  }
}

/**
 * χ²(1) 99.9% quantile: the likelihood-ratio bar a lighter-than-exponential
 * tail must clear (strict, because the test is repeated at every refit).
 */
const LR_CRITICAL = 10.83;

/** χ²(1) 95% quantile: the bar for a heavier-than-exponential tail (ξ > 0). */
const LR_CRITICAL_HEAVIER = 3.841;

/**
 * Fits the tail of truncated peaks (see fitTruncatedGpd), choosing between the
 * exponential tail (ξ = 0, one parameter) and the full GPD by a likelihood
 * ratio test (at 0.1% for a lighter tail, 5% for a heavier one). Truncation
 * leaves little information about the shape above the threshold, so a free ξ
 * makes z_q wander (false-alarm rates from 0.5 to 4 times q on i.i.d. noise);
 * the exponential tail, right for the light tails of squared errors, is kept
 * unless the data clearly say otherwise.
 */
export function fitTail(
  peaks: Samples,
  limits: Samples,
  count: number,
  previous?: GpdFit | null,
): GpdFit | null {
  // The previous fit is a good start and saves the plain profile fit.
  const plain = count < MIN_PEAKS_FOR_SHAPE || !previous ? fitGpd(peaks, count) : previous;
  if (!plain || count < MIN_PEAKS_FOR_SHAPE) return plain;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += peaks[i]!;
  const mean = sum / count;
  // Exponential: maximise over ln σ by golden section. Truncation only makes σ
  // larger than the sample mean; the bracket allows for a strong truncation.
  const llExp = (logSigma: number) =>
    truncatedLogLikelihood(peaks, limits, count, 0, Math.exp(logSigma));
  const best = goldenSectionMax(llExp, Math.log(mean) - 0.7, Math.log(mean) + 3, 32);
  const exponential: GpdFit = { xi: 0, sigma: Math.exp(best.x) };
  const exponentialLl = best.value;
  const general = fitTruncatedGpd(peaks, limits, count, plain);
  const generalLl = truncatedLogLikelihood(peaks, limits, count, general.xi, general.sigma);
  // Asymmetric bars: wrongly taking a lighter tail (ξ < 0) lowers z_q and starts
  // the spiral of false alarms; wrongly taking a heavier one only makes SPOT a
  // little conservative, so a heavier tail needs the usual 5% evidence.
  const bar = general.xi > 0 ? LR_CRITICAL_HEAVIER : LR_CRITICAL;
  return 2 * count * (generalLl - exponentialLl) > bar ? general : exponential;
}

/**
 * Golden-section search for the maximum of a unimodal `f` on [lo, hi]:
 * `iterations` steps, each shrinking the bracket by 0.618. Returns the better
 * of the two last probes and its value.
 */
function goldenSectionMax(
  f: (x: number) => number,
  lo: number,
  hi: number,
  iterations: number,
): { x: number; value: number } {
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let fa = f(a);
  let fb = f(b);
  for (let iter = 0; iter < iterations; iter++) {
    if (fa < fb) {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = f(b);
    } else {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = f(a);
    }
  }
  return fa >= fb ? { x: a, value: fa } : { x: b, value: fb };
}
