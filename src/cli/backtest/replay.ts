/**
 * The replay engine of `tsad backtest`: one recorded series goes through the
 * same parts the daemon runs — the stream's sliding-window store, the LSTM
 * autoencoder, the sensor detector's adaptive threshold — with no look-ahead.
 * The model is trained on the fitting rows only; every later window is scored
 * by that model, and the detector sees the scores strictly in time order.
 * Scoring is batched (many windows per call) because a frozen model gives a
 * window the same score whether it is scored alone or with its successors.
 */
import { createSensorDetector } from '../../detector/sensor-detector.ts';
import type { ThresholdOptions } from '../../detector/thresholds/threshold.ts';
import type { SensorWindow, WindowScore } from '../../detector/types.ts';
import { isTsadError, TsadError } from '../../errors.ts';
import type { ModelConfig } from '../../model/config.ts';
import { trainAutoencoder } from '../../model/train.ts';
import { createWindowStore } from '../../stream/sliding-window.ts';

/** How a window's reconstruction errors become the score of the row that ends it. */
export type ScoreReduction = 'window' | 'tail';

/** Settings of one replay (one benchmark's single configuration). */
export interface ReplayConfig {
  /** Model hyperparameters; `windowSize` is the sliding window's size too. */
  model: Partial<ModelConfig> & { windowSize: number };
  /**
   * `window`: mean error over the whole window (the daemon's score);
   * `tail`: mean error of the last `tailSteps` steps, which reacts as soon as
   * an anomaly enters the window instead of after it fills a share of it.
   */
  reduction: ScoreReduction;
  tailSteps: number;
  /** EWMA span applied to the raw scores before the threshold (1 = none). */
  smoothingSpan: number;
  /** The adaptive threshold; its warm-up is capped at the fitting windows. */
  threshold: ThresholdOptions;
  /** Windows per scoring call. */
  scoreBatch: number;
}

/** One series to replay. */
export interface ReplayInput {
  /** Row-major values: `values[row * channels.length + c]`. */
  values: Float32Array;
  timestamps: ArrayLike<number>;
  channels: readonly string[];
  /** Rows at the start that the model may learn from before scoring starts. */
  fitRows: number;
  /** Extra normal windows (same channels, window size) to train on, e.g. SKAB's anomaly-free file. */
  extraTrainingWindows?: readonly Float32Array[];
}

/** Options of a replay. */
export interface ReplayOptions {
  /** Stops the training between epochs and the scoring between batches; rejects with its reason. */
  signal?: AbortSignal;
}

/** What the replay says of every row. */
export interface ReplayOutput {
  /** Raw (smoothed) score of the window ending at each row; NaN before the first full window. */
  raw: Float64Array;
  /** Calibrated score in [0, 1) (0.5 at the threshold); 0 before the first window and in warm-up. */
  calibrated: Float64Array;
  /** The detector's raw-unit threshold at each row (NaN where none). */
  threshold: Float64Array;
  /** The detector's verdict (1 = anomalous). */
  anomalous: Uint8Array;
  /** Windows the model was trained on. */
  trainingWindows: number;
  /** Scores the threshold learnt from before the first scored row. */
  warmupScores: number;
  epochsRun: number;
}

/** Raises a threshold's warm-up to at most `available` scores, so it is ready when scoring starts. */
export function capWarmup(options: ThresholdOptions, available: number): ThresholdOptions {
  const n = Math.max(10, available);
  switch (options.method) {
    case 'spot':
    case 'dspot':
      return { ...options, nInit: Math.min(options.nInit ?? 1000, n) };
    case 'rolling': {
      const warmup = Math.max(3, Math.min(options.warmup ?? 200, n));
      return { ...options, warmup, window: Math.max(options.window ?? 1024, warmup) };
    }
    case 'telemanom': {
      const warmup = Math.max(10, Math.min(options.warmup ?? 250, n));
      return { ...options, warmup, window: Math.max(options.window ?? 2000, warmup) };
    }
  }
}

function reduce(score: WindowScore, reduction: ScoreReduction, tailSteps: number): number {
  if (reduction === 'window') return score.score;
  const steps = score.perStep;
  const k = Math.max(1, Math.min(tailSteps, steps.length));
  let sum = 0;
  for (let i = steps.length - k; i < steps.length; i++) sum += steps[i]!;
  return sum / k;
}

/** The model's scores of one series, before any threshold. */
export interface ScoredSeries {
  /** Per row, the window ending there reduced as configured; NaN before the first full window. */
  raw: Float64Array;
  /** Per row, the mean error of the window ending there (NaN before the first full window). */
  windowMean: Float64Array;
  /** Per row, the error of the window's last step. */
  lastStep: Float64Array;
  /** Per row and channel (row-major, `rows × channels`), the window's mean error of that channel. */
  perChannel: Float64Array;
  /** The windows ending inside the fitting rows (the threshold's warm-up). */
  fitWindows: number;
  trainingWindows: number;
  epochsRun: number;
}

/**
 * Scores one series: windows from the stream's window store (stride 1, no
 * gap restarts, since recorded benchmark files have irregular spacing that the
 * daemon's gap rule would keep restarting on), a model trained on the windows
 * inside the fitting rows, and batched scoring of every window by that model.
 */
export async function scoreSeries(
  input: ReplayInput,
  config: ReplayConfig,
  options: ReplayOptions = {},
): Promise<ScoredSeries> {
  const rows = input.timestamps.length;
  const c = input.channels.length;
  const size = config.model.windowSize;
  if (input.values.length !== rows * c) {
    throw new TsadError('TSAD_ERR_INPUT_INVALID', 'values and timestamps disagree in length');
  }
  const store = createWindowStore<number>({
    size,
    stride: 1,
    maxLatenessMs: 0,
    maxGapMs: Number.POSITIVE_INFINITY,
    maxReorderReadings: 1,
    maxSensors: 1,
  });
  const windows: SensorWindow[] = [];
  const endRow: number[] = [];
  for (let row = 0; row < rows; row++) {
    const values: Record<string, number> = {};
    for (let k = 0; k < c; k++) values[input.channels[k]!] = input.values[row * c + k]!;
    const step = store.push({
      reading: { sensor: 'replay', ts: input.timestamps[row]!, values },
      origin: 'replay',
      ack: row,
      arrivedAt: 0,
    });
    for (const w of step.windows) {
      windows.push(w);
      endRow.push(row);
    }
  }
  const fitWindows = windows.filter((_, i) => endRow[i]! < input.fitRows);
  const training = [...fitWindows.map((w) => w.data), ...(input.extraTrainingWindows ?? [])];
  if (training.length < 2) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `only ${training.length} windows of ${size} rows fit in the first ${input.fitRows} rows`,
    );
  }
  const model = await trainAutoencoder(training, config.model, {
    channels: windows[0]!.channels,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const raw = new Float64Array(rows).fill(Number.NaN);
  const windowMean = new Float64Array(rows).fill(Number.NaN);
  const lastStep = new Float64Array(rows).fill(Number.NaN);
  const perChannel = new Float64Array(rows * c).fill(Number.NaN);
  try {
    for (let start = 0; start < windows.length; start += config.scoreBatch) {
      const batch = windows.slice(start, start + config.scoreBatch);
      const scores = await model.scoreBatch(batch);
      scores.forEach((score, j) => {
        const row = endRow[start + j]!;
        raw[row] = reduce(score, config.reduction, config.tailSteps);
        windowMean[row] = score.score;
        lastStep[row] = score.perStep[score.perStep.length - 1]!;
        perChannel.set(score.perChannel, row * c);
      });
      // Native scoring never gives the event loop a turn: one per batch lets a
      // SIGINT handler run and abort `signal`.
      await new Promise(setImmediate);
      options.signal?.throwIfAborted();
    }
  } finally {
    model.dispose();
  }
  return {
    raw,
    windowMean,
    lastStep,
    perChannel,
    fitWindows: fitWindows.length,
    trainingWindows: training.length,
    epochsRun: model.metadata.training.epochsRun,
  };
}

/**
 * Feeds per-row raw scores, in row order, through EWMA smoothing and the
 * sensor detector (whose threshold warms up on the first `warmup` scores, the
 * fitting windows'), as the daemon's detector sees them.
 */
export function judgeScores(
  raw: ArrayLike<number>,
  warmup: number,
  config: Pick<ReplayConfig, 'smoothingSpan' | 'threshold'>,
): Pick<ReplayOutput, 'raw' | 'calibrated' | 'threshold' | 'anomalous'> {
  const rows = raw.length;
  const smoothedOut = new Float64Array(rows).fill(Number.NaN);
  const calibrated = new Float64Array(rows);
  const threshold = new Float64Array(rows).fill(Number.NaN);
  const anomalous = new Uint8Array(rows);
  const detector = createSensorDetector('replay', {
    threshold: capWarmup(config.threshold, warmup),
  });
  const alpha = 2 / (Math.max(1, config.smoothingSpan) + 1);
  let smoothed = Number.NaN;
  const empty = new Float32Array(0);
  for (let row = 0; row < rows; row++) {
    const value = raw[row]!;
    if (Number.isNaN(value)) continue;
    smoothed = Number.isNaN(smoothed) ? value : smoothed + alpha * (value - smoothed);
    const verdict = detector.observe({
      window: {
        sensor: 'replay',
        channels: [],
        size: 0,
        data: empty,
        startTs: row,
        endTs: row,
        timestamps: new Float64Array(0),
      },
      score: { score: smoothed, perChannel: empty, perStep: empty },
      modelVersion: 'replay',
    });
    smoothedOut[row] = smoothed;
    calibrated[row] = verdict.calibratedScore;
    threshold[row] = Number.isFinite(verdict.threshold) ? verdict.threshold : Number.NaN;
    anomalous[row] = verdict.anomalous ? 1 : 0;
  }
  return { raw: smoothedOut, calibrated, threshold, anomalous };
}

/**
 * Replays one series: scoreSeries, then judgeScores with the threshold's
 * warm-up on the fitting windows' scores, so it is ready at the first scored
 * row and the detector sees every score in time order.
 */
export async function replaySeries(
  input: ReplayInput,
  config: ReplayConfig,
  options: ReplayOptions = {},
): Promise<ReplayOutput> {
  const scored = await scoreSeries(input, config, options);
  return {
    ...judgeScores(scored.raw, scored.fitWindows, config),
    trainingWindows: scored.trainingWindows,
    warmupScores: scored.fitWindows,
    epochsRun: scored.epochsRun,
  };
}

/**
 * An input error met while backtesting `file`, with the file named: a check
 * deep in the replay (too few rows to fit a window, say) does not know which
 * file it is looking at. Other errors, and messages that name it, pass as they are.
 */
export function namingFile(file: string | undefined, error: unknown): unknown {
  if (file === undefined || !isTsadError(error, 'TSAD_ERR_INPUT_INVALID')) return error;
  if (error.message.includes(file)) return error;
  return new TsadError('TSAD_ERR_INPUT_INVALID', `${file}: ${error.message}`, { cause: error });
}
