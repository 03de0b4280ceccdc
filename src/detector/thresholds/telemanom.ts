/**
 * telemanom's nonparametric dynamic threshold (Hundman, Constantinou, Laporte,
 * Colwell, Soderstrom: "Detecting Spacecraft Anomalies Using LSTMs and
 * Nonparametric Dynamic Thresholding", KDD 2018), adapted to a stream.
 *
 * Scores are EWMA-smoothed. Every `recomputeEvery` steps the threshold is chosen
 * on the trailing window of smoothed normal scores: among ε = μ + z·σ for z in
 * [zMin, zMax], the one maximising (Δμ/μ + Δσ/σ) / (|e_a| + |E_seq|²), where Δμ
 * and Δσ are the drops in mean and standard deviation when the values ≥ ε are
 * removed, e_a those values and E_seq their runs longer than one step (as in the
 * telemanom code, with its guards |E_seq| ≤ 5 and |e_a| < half the window). If
 * no z qualifies, ε = μ + zMax·σ.
 *
 * Pruning: telemanom drops an anomalous sequence whose maximum is less than a
 * fraction p above the next highest (down to the highest normal value). On a
 * stream only the current sequence is undecided, and the next highest is the
 * highest normal value m of the window, so pruning is the floor m / (1 − p):
 * the effective threshold is max(ε, m / (1 − p)). telemanom's error buffer
 * around anomalies and its inverted-error pass are not used.
 *
 * The verdict's threshold is in raw score units: the raw score that would bring
 * the smoothed score to the effective threshold, given the previous smoothed
 * value (equal to it without smoothing).
 */
import { calibrateLinear, calibrateRatio } from './calibration.ts';
import type { AdaptiveThreshold, TelemanomConfig, ThresholdVerdict } from './threshold.ts';

/** What a recomputation chooses. */
export interface DynamicThreshold {
  /** Mean of the window (the baseline). */
  mean: number;
  /** The chosen ε before pruning. */
  epsilon: number;
  /** The effective threshold max(ε, m / (1 − p)). */
  effective: number;
  /** The z of ε, or zMax when no candidate qualified. */
  z: number;
}

/**
 * Chooses the dynamic threshold over `values` (chronological order) as
 * telemanom's find_epsilon does, then applies the streaming pruning floor.
 */
export function chooseDynamicThreshold(
  values: ArrayLike<number>,
  config: Pick<TelemanomConfig, 'zMin' | 'zMax' | 'zStep' | 'minPercentDecrease'>,
): DynamicThreshold {
  const count = values.length;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += values[i]!;
  const mean = sum / count;
  let squares = 0;
  for (let i = 0; i < count; i++) squares += (values[i]! - mean) ** 2;
  // Without spread every candidate collapses onto the mean; keep a margin.
  const sd = Math.max(Math.sqrt(squares / count), Math.abs(mean) * 1e-6, 1e-12);

  let bestScore = Number.NEGATIVE_INFINITY;
  let bestZ = config.zMax;
  const steps = Math.round((config.zMax - config.zMin) / config.zStep);
  for (let s = 0; s <= steps; s++) {
    const z = config.zMin + s * config.zStep;
    const epsilon = mean + z * sd;
    let anomalies = 0;
    let sequences = 0;
    let runLength = 0;
    let keptSum = 0;
    let keptSquares = 0;
    for (let i = 0; i < count; i++) {
      const v = values[i]!;
      if (v >= epsilon) {
        anomalies++;
        runLength++;
      } else {
        if (runLength > 1) sequences++;
        runLength = 0;
        keptSum += v;
        keptSquares += v * v;
      }
    }
    if (runLength > 1) sequences++;
    if (anomalies === 0 || anomalies >= count / 2 || sequences > 5) continue;
    const kept = count - anomalies;
    const keptMean = keptSum / kept;
    const keptSd = Math.sqrt(Math.max(0, keptSquares / kept - keptMean * keptMean));
    const meanDrop = mean !== 0 ? (mean - keptMean) / mean : 0;
    const score = (meanDrop + (sd - keptSd) / sd) / (sequences ** 2 + anomalies);
    if (score >= bestScore) {
      bestScore = score;
      bestZ = z;
    }
  }
  const epsilon = mean + bestZ * sd;
  let normalMax = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (v < epsilon && v > normalMax) normalMax = v;
  }
  const floor = normalMax > 0 ? normalMax / (1 - config.minPercentDecrease) : epsilon;
  return { mean, epsilon, effective: Math.max(epsilon, floor), z: bestZ };
}

/** Creates a telemanom dynamic threshold (see the module comment). */
export function createTelemanom(config: TelemanomConfig): AdaptiveThreshold {
  const ring = new Float64Array(config.window);
  const ordered = new Float64Array(config.window);
  const alpha = 2 / (config.smoothingSpan + 1);
  let head = 0;
  let count = 0;
  let sinceRecompute = 0;
  let smoothed = Number.NaN;
  let chosen: DynamicThreshold | null = null;

  const ready = (): boolean => chosen !== null;

  const remember = (value: number): void => {
    ring[head] = value;
    head = (head + 1) % ring.length;
    count = Math.min(count + 1, ring.length);
  };

  const recompute = (): void => {
    // Chronological copy: runs (E_seq) must be counted in time order.
    const start = count === ring.length ? head : 0;
    for (let i = 0; i < count; i++) ordered[i] = ring[(start + i) % ring.length]!;
    chosen = chooseDynamicThreshold(ordered.subarray(0, count), config);
    sinceRecompute = 0;
  };

  const smooth = (score: number): number =>
    Number.isNaN(smoothed) ? score : alpha * score + (1 - alpha) * smoothed;

  /** The raw score whose smoothing lands on `level`. */
  const rawFor = (level: number): number =>
    Number.isNaN(smoothed) ? level : (level - (1 - alpha) * smoothed) / alpha;

  return {
    method: 'telemanom',
    get ready() {
      return ready();
    },
    update(score) {
      const value = smooth(score);
      if (!chosen) {
        smoothed = value;
        remember(value);
        if (count >= config.warmup) recompute();
        return {
          threshold: Number.POSITIVE_INFINITY,
          baseline: Number.POSITIVE_INFINITY,
          anomalous: false,
          calibratedScore: 0,
          warmingUp: true,
        };
      }
      const threshold = rawFor(chosen.effective);
      const verdict: ThresholdVerdict = {
        threshold,
        baseline: rawFor(chosen.mean),
        // Judged on the raw scale so that `anomalous === score > threshold` holds exactly.
        anomalous: score > threshold,
        calibratedScore: calibrateRatio(calibrateLinear(value, chosen.mean, chosen.effective)),
        warmingUp: false,
      };
      smoothed = value;
      if (!verdict.anomalous) remember(value);
      if (++sinceRecompute >= config.recomputeEvery) recompute();
      return verdict;
    },
    calibrate(score) {
      if (!chosen) return 0;
      return calibrateRatio(calibrateLinear(smooth(score), chosen.mean, chosen.effective));
    },
    recalibrate(scale) {
      if (scale === undefined) {
        head = 0;
        count = 0;
        sinceRecompute = 0;
        smoothed = Number.NaN;
        chosen = null;
        return;
      }
      for (let i = 0; i < ring.length; i++) ring[i]! *= scale;
      smoothed *= scale;
      if (chosen) recompute();
    },
    memoryBytes() {
      return ring.byteLength + ordered.byteLength;
    },
  };
}
