/**
 * The contract every adaptive threshold method implements, their configuration
 * and their defaults. A threshold learns the normal level of one sensor's window
 * scores online, judges each new score against what it has learnt, and never
 * learns from a score it flags (so a persistent fault does not become normal).
 * See docs/thresholds.md for the methods, their parameters and memory per sensor.
 */

/** The selectable methods. */
export type ThresholdMethod = 'spot' | 'dspot' | 'rolling' | 'telemanom';

/** SPOT (Siffer et al. 2017): a generalised Pareto tail over a high initial quantile. */
export interface SpotConfig {
  method: 'spot';
  /** Risk: the probability of a normal score exceeding the threshold (false-alarm rate). */
  q: number;
  /** Scores gathered before the first fit (the warm-up); no alerts meanwhile. */
  nInit: number;
  /** The empirical quantile of the initial batch that becomes the peak level `t`. */
  initQuantile: number;
  /** Peaks kept for the tail fit (ring buffer, newest win). */
  maxPeaks: number;
}

/** DSPOT: SPOT on the deviation from a moving average of the last `depth` normal scores. */
export interface DspotConfig extends Omit<SpotConfig, 'method'> {
  method: 'dspot';
  /** Depth `d` of the moving average of normal scores that absorbs drift. */
  depth: number;
}

/** Rolling median + k·(1.4826·MAD) over a bounded window of normal scores. */
export interface RollingConfig {
  method: 'rolling';
  /** Scores in the rolling window (ring buffer). */
  window: number;
  /** How many robust standard deviations above the median the threshold sits. */
  k: number;
  /** Scores to learn before the first judgement. At most `window`. */
  warmup: number;
}

/** telemanom's nonparametric dynamic threshold (Hundman et al. 2018), recomputed every few steps. */
export interface TelemanomConfig {
  method: 'telemanom';
  /** Trailing window of smoothed normal scores the threshold is chosen on (ring buffer). */
  window: number;
  /** EWMA span of the smoothing (1 = no smoothing: window scores are already averages). */
  smoothingSpan: number;
  /** Candidate thresholds ε = μ + z·σ for z from zMin to zMax in steps of zStep. */
  zMin: number;
  zMax: number;
  zStep: number;
  /** Minimum percent decrease `p` between an anomalous peak and the highest normal score. */
  minPercentDecrease: number;
  /** Recompute ε on the trailing window every this many steps. */
  recomputeEvery: number;
  /** Scores to learn before the first judgement. At most `window`. */
  warmup: number;
}

/** One method's full configuration. */
export type ThresholdConfig = SpotConfig | DspotConfig | RollingConfig | TelemanomConfig;

/** What configuration files give: a method and any parameters to override. */
export type ThresholdOptions =
  | ({ method: 'spot' } & Partial<Omit<SpotConfig, 'method'>>)
  | ({ method: 'dspot' } & Partial<Omit<DspotConfig, 'method'>>)
  | ({ method: 'rolling' } & Partial<Omit<RollingConfig, 'method'>>)
  | ({ method: 'telemanom' } & Partial<Omit<TelemanomConfig, 'method'>>);

/** Defaults of SPOT; q = 1e-3 flags about one normal window in a thousand. */
export const DEFAULT_SPOT: Readonly<SpotConfig> = Object.freeze({
  method: 'spot',
  q: 1e-3,
  nInit: 1000,
  initQuantile: 0.98,
  maxPeaks: 500,
});

/** Defaults of DSPOT. */
export const DEFAULT_DSPOT: Readonly<DspotConfig> = Object.freeze({
  ...DEFAULT_SPOT,
  method: 'dspot',
  depth: 50,
});

/** Defaults of the rolling median + k·MAD baseline. */
export const DEFAULT_ROLLING: Readonly<RollingConfig> = Object.freeze({
  method: 'rolling',
  window: 1024,
  k: 6,
  warmup: 200,
});

/** Defaults of telemanom's dynamic threshold (z range and p as in the telemanom code). */
export const DEFAULT_TELEMANOM: Readonly<TelemanomConfig> = Object.freeze({
  method: 'telemanom',
  window: 2000,
  smoothingSpan: 1,
  zMin: 2.5,
  zMax: 12,
  zStep: 0.5,
  minPercentDecrease: 0.13,
  recomputeEvery: 50,
  warmup: 250,
});

/** The defaults of each method, by name. */
export const THRESHOLD_DEFAULTS: Readonly<{
  spot: Readonly<SpotConfig>;
  dspot: Readonly<DspotConfig>;
  rolling: Readonly<RollingConfig>;
  telemanom: Readonly<TelemanomConfig>;
}> = Object.freeze({
  spot: DEFAULT_SPOT,
  dspot: DEFAULT_DSPOT,
  rolling: DEFAULT_ROLLING,
  telemanom: DEFAULT_TELEMANOM,
});

/** The judgement of one score. */
export interface ThresholdVerdict {
  /**
   * The threshold in raw score units in force for this score: `anomalous` is
   * exactly `score > threshold` once warmed up. +Infinity during warm-up (nothing
   * can exceed it); sinks that cannot store infinities should skip it then.
   */
  threshold: number;
  /**
   * The learnt normal level in raw score units (median, moving average or mean,
   * per method); the alert lifecycle puts its lower (resolve) level between it
   * and the threshold. +Infinity during warm-up.
   */
  baseline: number;
  /** True when the score exceeds the threshold (never during warm-up). */
  anomalous: boolean;
  /** Calibrated anomaly score in [0, 1): 0.5 at the threshold, monotone in the raw score. */
  calibratedScore: number;
  /** True while the method is still learning (no alerts). */
  warmingUp: boolean;
}

/**
 * One sensor's adaptive threshold. `update` judges a score against the state
 * learnt so far and then learns from it unless it was flagged; the verdict is
 * therefore never influenced by the score it judges.
 */
export interface AdaptiveThreshold {
  readonly method: ThresholdMethod;
  /** True once warm-up is over. */
  readonly ready: boolean;
  /** Judges `score`, then learns from it if it was not anomalous. */
  update(score: number): ThresholdVerdict;
  /** The calibrated score `score` would get now, without learning (monotone in `score`). */
  calibrate(score: number): number;
  /**
   * Adapts to a new model's score scale. With `scale` (new scores ≈ scale · old
   * scores) the learnt state is rescaled in place and stays ready; without it the
   * method forgets and re-enters warm-up.
   */
  recalibrate(scale?: number): void;
  /** Bytes held by this threshold's buffers now. */
  memoryBytes(): number;
  /**
   * An independent copy with the same learnt state and buffers of the same
   * size (SPOT and DSPOT): starts a sensor from a peer's state, and lets the
   * memory probe build many sensors in their steady state without learning each.
   */
  clone?(): AdaptiveThreshold;
}
