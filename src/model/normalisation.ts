/**
 * Per-channel normalisation fitted on the training windows. Centre and scale
 * come from the median and the interquartile range, so a few outliers in the
 * training data barely move them, and every channel weighs alike in the score.
 */

/** Centre and scale per channel: `normalised = (value - center) / scale`. */
export interface Normalisation {
  method: 'median-iqr';
  center: number[];
  scale: number[];
}

/** Summary of one channel of the training data, kept in the model's metadata. */
export interface ChannelStats {
  channel: string;
  min: number;
  max: number;
  mean: number;
  std: number;
  median: number;
  iqr: number;
}

/** IQR of a normal distribution is 1.349 σ; dividing by it makes the scale comparable to σ. */
const IQR_TO_SIGMA = 1.349;
const MAD_TO_SIGMA = 1.4826;
/** Quantiles are computed on at most this many values per channel (an even subsample). */
const QUANTILE_SAMPLE = 200_000;

/**
 * Fits the normalisation on windows of `[step][channel]` data. The scale falls
 * back from IQR to MAD to the standard deviation, and to 1 for a constant
 * channel, so no channel divides by (nearly) zero.
 */
export function fitNormalisation(
  windows: readonly Float32Array[],
  channels: readonly string[],
): { normalisation: Normalisation; stats: ChannelStats[] } {
  const c = channels.length;
  const center: number[] = [];
  const scale: number[] = [];
  const stats: ChannelStats[] = [];
  const totalValues = windows.reduce((n, w) => n + w.length / c, 0);
  const every = Math.max(1, Math.ceil(totalValues / QUANTILE_SAMPLE));
  for (let ch = 0; ch < c; ch++) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let sum = 0;
    let sumSq = 0;
    let count = 0;
    const sample: number[] = [];
    for (const w of windows) {
      for (let i = ch; i < w.length; i += c) {
        const v = w[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
        sumSq += v * v;
        if (count % every === 0) sample.push(v);
        count++;
      }
    }
    const sorted = Float64Array.from(sample).sort();
    const median = quantile(sorted, 0.5);
    const iqr = quantile(sorted, 0.75) - quantile(sorted, 0.25);
    const mean = count > 0 ? sum / count : 0;
    const std = Math.sqrt(Math.max(0, sumSq / Math.max(1, count) - mean * mean));
    const deviations = sorted.map((v) => Math.abs(v - median)).sort();
    const mad = quantile(deviations, 0.5);
    const floor = 1e-6 * Math.max(1, Math.abs(median));
    const candidates = [iqr / IQR_TO_SIGMA, mad * MAD_TO_SIGMA, std];
    center.push(median);
    scale.push(candidates.find((s) => s > floor) ?? 1);
    stats.push({ channel: channels[ch]!, min, max, mean, std, median, iqr });
  }
  return { normalisation: { method: 'median-iqr', center, scale }, stats };
}

/**
 * Farthest a normalised value goes from the centre, either side: a million
 * scales. A reading that far out is as anomalous as any score can say, and
 * its squared error (1e12) stays well inside float32. Unclamped, a reading of
 * 1e20 (a broken sensor's sentinel) or one past float32's range (stored as
 * Infinity) made the window's score Infinity, which no threshold can judge:
 * the daemon gave such windows up instead of alerting on them.
 */
export const NORMALISED_LIMIT = 1e6;

/**
 * Writes the normalised copy of `window` (`[step][channel]`, or several
 * windows back to back) into `out` at `offset`, clamped to ±NORMALISED_LIMIT.
 * Channel by channel, so the inner loop has neither a modulo nor a lookup:
 * scoring normalises millions of values per batch.
 */
export function normaliseInto(
  window: Float32Array,
  normalisation: Normalisation,
  out: Float32Array,
  offset: number,
): void {
  const { center, scale } = normalisation;
  const c = center.length;
  for (let ch = 0; ch < c; ch++) {
    const m = center[ch]!;
    const s = scale[ch]!;
    for (let i = ch; i < window.length; i += c) {
      const v = (window[i]! - m) / s;
      out[offset + i] = Math.min(Math.max(v, -NORMALISED_LIMIT), NORMALISED_LIMIT);
    }
  }
}

/**
 * True when every value of `window` normalises to strictly within
 * ±NORMALISED_LIMIT, so normaliseInto does not clamp it (±Infinity never does).
 */
export function withinLimit(window: Float32Array, normalisation: Normalisation): boolean {
  const { center, scale } = normalisation;
  const c = center.length;
  for (let i = 0; i < window.length; i++) {
    const ch = i % c;
    if (!(Math.abs((window[i]! - center[ch]!) / scale[ch]!) < NORMALISED_LIMIT)) return false;
  }
  return true;
}

/** Maps normalised `[step][channel]` values back to original units, in place. */
export function denormaliseInPlace(values: Float32Array, normalisation: Normalisation): void {
  const { center, scale } = normalisation;
  const c = center.length;
  for (let i = 0; i < values.length; i++) {
    const ch = i % c;
    values[i] = values[i]! * scale[ch]! + center[ch]!;
  }
}

/** Linear-interpolated quantile of an ascending array (0 for an empty one). */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
