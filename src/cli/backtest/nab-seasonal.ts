/**
 * The seasonal score of the NAB backtest: how far a value is from the value
 * one period earlier, with the period read from the autocorrelation of the
 * rows before scoring starts. An autoencoder over a window shorter than the
 * period (32 rows against a day of 288) cannot see that a day went flat or
 * lost its usual peak; one period back it is plain.
 */

/**
 * The period of `values` (the fitting rows only, so there is no look-ahead):
 * among the local maxima of the unbiased autocorrelation up to lag n / 2
 * that reach `minAcf` after it has first decayed below `minAcf`, the shortest lag within `slack` of the highest one; 0
 * when none reaches `minAcf` (no clear seasonality, so no seasonal score).
 * The unbiased form divides each lag's sum by its number of pairs, so a
 * period of half the fitting rows is not penalised for having fewer of them;
 * the slack keeps a multiple of the period (as high up to estimation noise)
 * from winning over the period itself.
 */
export function dominantPeriod(values: ArrayLike<number>, minAcf: number, slack = 0): number {
  const n = values.length;
  if (n < 8) return 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i]!;
  mean /= n;
  const d = Float64Array.from({ length: n }, (_, i) => values[i]! - mean);
  let variance = 0;
  for (let i = 0; i < n; i++) variance += d[i]! * d[i]!;
  variance /= n;
  if (!(variance > 0)) return 0;
  const maxLag = Math.floor(n / 2) + 1;
  const acf = new Float64Array(maxLag + 1);
  for (let lag = 0; lag <= maxLag; lag++) {
    let c = 0;
    for (let i = lag; i < n; i++) c += d[i]! * d[i - lag]!;
    acf[lag] = c / (n - lag) / variance;
  }
  // Peaks count only once the autocorrelation has decayed below minAcf: on a
  // slow season the first lags stay near 1, and noise makes ripples there.
  let start = 2;
  while (start < maxLag && acf[start - 1]! >= minAcf) start++;
  const peaks: number[] = [];
  for (let lag = start; lag < maxLag; lag++) {
    const a = acf[lag]!;
    if (a > acf[lag - 1]! && a >= acf[lag + 1]! && a >= minAcf) peaks.push(lag);
  }
  if (peaks.length === 0) return 0;
  const highest = Math.max(...peaks.map((lag) => acf[lag]!));
  return peaks.find((lag) => acf[lag]! >= highest - slack)!;
}

/**
 * The seasonal residual of each row: |mean of the last `smooth` values − mean
 * of the same rows one `period` earlier|, NaN where those rows do not exist
 * yet (and everywhere for period 0). The short mean keeps a single noisy row
 * from counting as a changed season. Uses only rows up to the current one.
 */
export function seasonalResidual(
  values: ArrayLike<number>,
  period: number,
  smooth: number,
): Float64Array {
  const out = new Float64Array(values.length).fill(Number.NaN);
  if (period <= 0) return out;
  const k = Math.max(1, smooth);
  for (let i = period + k - 1; i < values.length; i++) {
    let diff = 0;
    for (let j = 0; j < k; j++) diff += values[i - j]! - values[i - j - period]!;
    out[i] = Math.abs(diff / k);
  }
  return out;
}
