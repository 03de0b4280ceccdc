/**
 * Scoring of the Skoltech Anomaly Benchmark (SKAB) as its leaderboard does it
 * (waico/SKAB `core/metrics.py`, `chp_score`): point-wise F1, false-alarm and
 * missed-alarm rates over the concatenated test parts for outlier detection,
 * and a NAB-like score for changepoint detection, with windows of 60 s to the
 * right of each true changepoint and a tanh ramp from A_tp to A_fp across
 * each window. Numbers are rounded to two decimals as the leaderboard prints
 * them. Pure code: timestamps arrive as epoch milliseconds.
 */
import { TsadError } from '../../errors.ts';
import { roundHalfEven } from './round-half-even.ts';

/** The test part of one SKAB file with the detector's predictions. */
export interface SkabPart {
  readonly name: string;
  /** Epoch milliseconds, ascending. */
  readonly timestamps: ArrayLike<number>;
  /** True labels (1 anomalous / changepoint, anything else not). */
  readonly trueAnomaly: ArrayLike<number>;
  readonly trueChangepoint: ArrayLike<number>;
  /** The detector's 0/1 predictions. */
  readonly predictedAnomaly: ArrayLike<number>;
  readonly predictedChangepoint: ArrayLike<number>;
}

/** Weights of one SKAB changepoint profile (SKAB's `table_of_coef`). */
export interface SkabCostMatrix {
  readonly aTp: number;
  readonly aFp: number;
  readonly aFn: number;
}

/** SKAB's three changepoint profiles, named as SKAB prints them. */
export const SKAB_PROFILES = {
  Standard: { aTp: 1.0, aFp: -0.11, aFn: -1.0 },
  LowFP: { aTp: 1.0, aFp: -0.22, aFn: -1.0 },
  LowFN: { aTp: 1.0, aFp: -0.11, aFn: -2.0 },
} as const satisfies Record<string, SkabCostMatrix>;

export type SkabProfileName = keyof typeof SKAB_PROFILES;

/** Width of the scoring window after each true changepoint (SKAB's `window_width='60S'`). */
export const SKAB_CHANGEPOINT_WINDOW_MS = 60_000;

/**
 * Changepoints of a 0/1 prediction as SKAB's baselines derive them:
 * `|diff|`, with the first row taking its own value.
 */
export function predictedChangepoints(prediction: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(prediction.length);
  for (let i = 0; i < prediction.length; i++) {
    const current = prediction[i] === 1 ? 1 : 0;
    const previous = i === 0 ? 0 : prediction[i - 1] === 1 ? 1 : 0;
    out[i] = current === previous ? 0 : 1;
  }
  return out;
}

/** Point-wise outlier metrics over all parts. */
export interface SkabBinaryMetrics {
  /** `TP / (TP + (FP + FN) / 2)`, rounded to 2 decimals. */
  readonly F1: number;
  /** False alarm rate in %, `100 FP / (FP + TN)`, rounded to 2 decimals. */
  readonly FAR: number;
  /** Missed alarm rate in %, `100 FN / (FN + TP)`, rounded to 2 decimals. */
  readonly MAR: number;
  readonly TP: number;
  readonly TN: number;
  readonly FP: number;
  readonly FN: number;
}

/**
 * Point-wise confusion counts and F1/FAR/MAR over the concatenated parts
 * (SKAB's `metric='binary'`). A rate whose denominator is zero is NaN.
 */
export function skabBinaryMetrics(parts: readonly SkabPart[]): SkabBinaryMetrics {
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  for (const part of parts) {
    checkLengths(part);
    for (let i = 0; i < part.timestamps.length; i++) {
      const truth = part.trueAnomaly[i] === 1;
      const predicted = part.predictedAnomaly[i] === 1;
      if (truth && predicted) tp += 1;
      else if (!truth && !predicted) tn += 1;
      else if (predicted) fp += 1;
      else fn += 1;
    }
  }
  return {
    F1: roundHalfEven(tp / (tp + (fn + fp) / 2), 2),
    FAR: roundHalfEven((fp / (fp + tn)) * 100, 2),
    MAR: roundHalfEven((fn / (fn + tp)) * 100, 2),
    TP: tp,
    TN: tn,
    FP: fp,
    FN: fn,
  };
}

function checkLengths(part: SkabPart): void {
  const n = part.timestamps.length;
  if (
    part.trueAnomaly.length !== n ||
    part.trueChangepoint.length !== n ||
    part.predictedAnomaly.length !== n ||
    part.predictedChangepoint.length !== n
  ) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `${part.name}: labels and predictions differ in length`,
    );
  }
}

/**
 * Scoring windows `[t, t + width]` after each true changepoint. When a window
 * reaches into the next one, the next one starts where the previous ends
 * (SKAB's `intersection_mode='cut right window'`).
 */
export function skabChangepointWindows(
  timestamps: ArrayLike<number>,
  trueChangepoint: ArrayLike<number>,
  widthMs = SKAB_CHANGEPOINT_WINDOW_MS,
): Array<[number, number]> {
  const windows: Array<[number, number]> = [];
  for (let i = 0; i < timestamps.length; i++) {
    if (trueChangepoint[i] === 1) {
      const t = timestamps[i] as number;
      windows.push([t, t + widthMs]);
    }
  }
  for (let i = 0; i + 1 < windows.length; i++) {
    const current = windows[i] as [number, number];
    const next = windows[i + 1] as [number, number];
    if (current[1] >= next[0]) next[0] = current[1];
  }
  return windows;
}

/** Where each predicted changepoint of one part falls. */
interface ChangepointMatch {
  /** Per window: the first predicted changepoint in it, or undefined for a miss. */
  firstDetection: Array<number | undefined>;
  falsePositives: number;
}

/**
 * SKAB's `extract_cp_confusion_matrix`: a predicted changepoint inside a
 * window (bounds inclusive) is a hit for that window, and the first one is
 * what the window is scored on; predictions before the first window, strictly
 * between windows or after the last are false positives.
 */
function matchChangepoints(
  windows: ReadonlyArray<readonly [number, number]>,
  timestamps: ArrayLike<number>,
  predicted: ArrayLike<number>,
): ChangepointMatch {
  const times: number[] = [];
  for (let i = 0; i < timestamps.length; i++) {
    if (predicted[i] === 1) times.push(timestamps[i] as number);
  }
  times.sort((a, b) => a - b);
  // After the cut the windows are ordered and at most touch, so "between
  // windows or outside them" is the same as "in no window".
  const firstDetection = windows.map(([left, right]) => times.find((t) => t >= left && t <= right));
  let falsePositives = 0;
  let k = 0;
  for (const t of times) {
    while (k < windows.length && (windows[k] as readonly [number, number])[1] < t) k += 1;
    const window = windows[k];
    if (window === undefined || t < window[0]) falsePositives += 1;
  }
  return { firstDetection, falsePositives };
}

const RAMP_STEPS = 1000;

/**
 * The credit of a detection at relative position `(t - left) / (right - left)`
 * in a window: SKAB's tanh ramp (`my_scale`) from A_tp at the window's start
 * to A_fp at its end, sampled on 1000 points of `[-pi/2, pi/2]` as numpy's
 * `linspace` does.
 */
export function skabRampCredit(
  relativePosition: number,
  cost: SkabCostMatrix,
  steps = RAMP_STEPS,
): number {
  let event = Math.trunc(relativePosition * steps);
  if (event >= steps) event = steps - 1;
  const start = -Math.PI / 2;
  const stop = Math.PI / 2;
  const x = event === steps - 1 ? stop : event * ((stop - start) / (steps - 1)) + start;
  const half = (cost.aTp - cost.aFp) / 2;
  return (half * -1 * Math.tanh(x)) / Math.tanh(Math.PI / 2) + half + cost.aFp;
}

/** The changepoint NAB scores and the counts behind them. */
export interface SkabChangepointMetrics {
  /** Normalised scores, rounded to 2 decimals. */
  readonly Standard: number;
  readonly LowFP: number;
  readonly LowFN: number;
  /** True changepoints with no predicted changepoint in their window. */
  readonly missedChangepoints: number;
  /** Predicted changepoints outside every window. */
  readonly falsePositives: number;
  readonly trueChangepoints: number;
}

/**
 * SKAB's changepoint metric (`chp_score(metric='nab', window_width='60S',
 * anomaly_window_destination='righter')`): per part, each window earns the
 * ramp credit of its first predicted changepoint or A_fn when empty, every
 * predicted changepoint outside windows costs A_fp; scores, null scores
 * (windows times A_fn) and perfect scores (windows times A_tp) are summed
 * over the parts and normalised to 0 (null) .. 100 (perfect).
 */
export function skabChangepointMetrics(
  parts: readonly SkabPart[],
  widthMs = SKAB_CHANGEPOINT_WINDOW_MS,
): SkabChangepointMetrics {
  const names = Object.keys(SKAB_PROFILES) as SkabProfileName[];
  const totals = names.map(() => ({ score: 0, nothing: 0, perfect: 0 }));
  let missed = 0;
  let falsePositives = 0;
  let trueChangepoints = 0;
  for (const part of parts) {
    checkLengths(part);
    const windows = skabChangepointWindows(part.timestamps, part.trueChangepoint, widthMs);
    const match = matchChangepoints(windows, part.timestamps, part.predictedChangepoint);
    const misses = match.firstDetection.filter((t) => t === undefined).length;
    missed += misses;
    falsePositives += match.falsePositives;
    trueChangepoints += windows.length;
    names.forEach((name, p) => {
      const cost = SKAB_PROFILES[name];
      let score = 0;
      score += cost.aFp * match.falsePositives;
      score += cost.aFn * misses;
      match.firstDetection.forEach((t, k) => {
        if (t === undefined) return;
        const [left, right] = windows[k] as [number, number];
        score += skabRampCredit(right > left ? (t - left) / (right - left) : 0, cost);
      });
      const total = totals[p] as { score: number; nothing: number; perfect: number };
      total.score += score;
      total.nothing += windows.length * cost.aFn;
      total.perfect += windows.length * cost.aTp;
    });
  }
  const normalised = totals.map(({ score, nothing, perfect }) =>
    roundHalfEven((100 * (score - nothing)) / (perfect - nothing), 2),
  );
  return {
    Standard: normalised[0] as number,
    LowFP: normalised[1] as number,
    LowFN: normalised[2] as number,
    missedChangepoints: missed,
    falsePositives,
    trueChangepoints,
  };
}

/** Both SKAB metrics of a detector. */
export interface SkabEvaluation extends SkabBinaryMetrics {
  readonly parts: number;
  readonly rows: number;
  readonly changepoint: SkabChangepointMetrics;
}

/** Scores a detector's predictions on SKAB test parts with both leaderboard metrics. */
export function evaluateSkab(parts: readonly SkabPart[]): SkabEvaluation {
  let rows = 0;
  for (const part of parts) rows += part.timestamps.length;
  return {
    parts: parts.length,
    rows,
    ...skabBinaryMetrics(parts),
    changepoint: skabChangepointMetrics(parts),
  };
}
