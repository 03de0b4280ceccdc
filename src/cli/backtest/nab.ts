/**
 * The NAB backtest: every `<category>/<file>.csv` of a NAB data folder is
 * replayed as its own stream (model trained on NAB's probationary rows only)
 * and written in NAB's results format under the detector name `tsad`.
 */
import path from 'node:path';
import {
  type AnomalyLikelihoodOptions,
  anomalyLikelihood,
} from '../../detector/anomaly-likelihood.ts';
import { TsadError } from '../../errors.ts';
import {
  listNabDataFiles,
  type NabLabels,
  nabResultsPath,
  readNabDataCsv,
  readNabLabels,
  writeNabResultsCsv,
} from '../benchmark-files.ts';
import { writePlotPng } from '../plot.ts';
import { createProgress } from '../progress.ts';
import { refuseFileAsOutputFolder, refuseWritingOverInput } from '../write-output-file.ts';
import { trailingRange } from './nab-quiet.ts';
import { dominantPeriod, seasonalResidual } from './nab-seasonal.ts';
import {
  judgeScores,
  namingFile,
  type ReplayConfig,
  type ReplayOptions,
  type ScoredSeries,
  scoreSeries,
} from './replay.ts';

/** The NAB configuration: the replay plus how scores are reported. */
export interface NabBacktestConfig extends ReplayConfig {
  /**
   * After a row the detector flags, the next `suppressFraction · probationary`
   * rows report their score times `suppressFactor`: NAB credits only the first
   * detection in a window and charges every later one outside it, so one
   * report per event is what scores.
   */
  suppressFraction: number;
  suppressFactor: number;
  /**
   * The calibrated score from which a row counts as an event onset for the
   * suppression (0.5 is the detector's own threshold). NAB sweeps its threshold
   * below 0.5 too, so a lower level also keeps those reports to one per event.
   */
  suppressLevel: number;
  /**
   * What the reported score is made of: `threshold`, the detector's calibrated
   * score (0.5 at its adaptive threshold); `rank`, the causal rank of the raw
   * score among all earlier raw scores of the file (see rankCalibrate).
   */
  calibration: 'threshold' | 'rank';
  /** With `rank`: how far (as a fraction) a score must exceed earlier ones to count as rarer. */
  rankMargin: number;
  /**
   * With `rank`: how many rows just before a row are left out of the past its
   * model error is ranked against (see rankCalibrate). The model window less
   * one leaves out exactly the rows whose windows overlap the row's own: their
   * errors come from the same readings.
   */
  rankGuard: number;
  /**
   * With `rank`: the seasonal score beside the model's (see nab-seasonal.ts),
   * rank-calibrated alike and max-combined; `minAcf` is the autocorrelation a
   * period needs in the fitting rows, `slack` how much lower a shorter period
   * may be and still win (see dominantPeriod), `smooth` the rows averaged on
   * each side of the comparison. `null` turns it off.
   */
  seasonal: { minAcf: number; slack: number; smooth: number } | null;
  /**
   * With `rank`: the anomaly likelihood of the log reconstruction error (see
   * anomalyLikelihood), max-combined, so a sustained rise of the error counts
   * even when no single row is rare. `null` turns it off.
   */
  likelihood: AnomalyLikelihoodOptions | null;
  /**
   * With `rank`: the rank of the geometric mean of the last `window` model
   * errors (see trailingGeometricMean), with its own `margin`, max-combined,
   * so a sustained rise of the error counts even when no single row is rare.
   * The empirical counterpart of `likelihood`: the same short average judged
   * against the file's own past averages instead of a fitted Gaussian. `null`
   * turns it off.
   */
  sustained: { window: number; margin: number } | null;
  /**
   * With `rank`: the quiet score (see nab-quiet.ts), the low-side rank of the
   * range of the last `fraction × fitting rows` values with its own `margin`,
   * max-combined, so a series that stops moving for longer than it ever did
   * counts although the model finds a flat window easy. `null` turns it off.
   */
  quiet: { fraction: number; margin: number } | null;
  /**
   * Retraining within a file: a new model each time the rows seen grow by
   * `growth` (first at `growth ×` the fitting rows), trained on the windows of
   * the last `maxWindows` rows, and scoring the rows up to the next one. `null`
   * keeps the model trained on the fitting rows for the whole file.
   */
  retraining: { growth: number; maxWindows: number } | null;
}

/** Tail probability 10^-RANK_DECADES maps to a rank score of 1. */
const RANK_DECADES = 4;

/** Index of the first element of the ascending `sorted` that is ≥ x. */
export function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The causal rank score of each raw score: with p = (earlier scores ≥
 * x · (1 − margin) + 1) / (earlier scores + 1), the empirical tail probability
 * of x in its own file's past (fitting windows included), the score is
 * −log10(p) / 4 clamped to [0, 1]. NAB sweeps one threshold over all files,
 * and raw reconstruction errors — or a threshold-relative ratio — mean
 * different things in different files; a tail probability means the same
 * everywhere ("rarer than anything in the last n rows"). The margin makes a
 * score rare only when it clearly exceeds the past: without it every slightly
 * higher repeat of a recurring peak (say, the same hour each day) is a new
 * maximum. With `guard` > 0 the `guard` rows just before a row are left out
 * of its past (a guard band, as a radar's CFAR detector keeps between the cell
 * under test and its reference cells): an event that builds up over several
 * rows is then judged against the file's past before it, not against its own
 * first rows, which with the margin would hide a slow rise. NaN rows (before
 * the first window) score 0. O(n) per row for the sorted insert, negligible
 * next to the model at NAB's sizes.
 */
export function rankCalibrate(raw: ArrayLike<number>, margin = 0, guard = 0): Float64Array {
  const out = new Float64Array(raw.length);
  const seen: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    // Row i − guard − 1 joins the past of row i (with guard 0: every earlier row).
    const old = i - guard - 1;
    if (old >= 0 && !Number.isNaN(raw[old]!))
      seen.splice(lowerBound(seen, raw[old]!), 0, raw[old]!);
    const x = raw[i]!;
    if (Number.isNaN(x)) continue;
    const ge = seen.length - lowerBound(seen, x * (1 - margin));
    const p = (ge + 1) / (seen.length + 1);
    out[i] = Math.min(1, Math.max(0, -Math.log10(p) / RANK_DECADES));
  }
  return out;
}

/** Index of the first element of the ascending `sorted` that is > x. */
function upperBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * rankCalibrate's lower tail: with p = (earlier scores ≤ x / (1 − margin) + 1)
 * / (earlier scores + 1), the score is −log10(p) / 4 clamped to [0, 1], so a
 * non-negative score is rare when it is clearly below everything in its
 * file's past (a margin of 0.8: below a fifth of the smallest earlier one; a
 * 0 only counts earlier 0s). NaN rows score 0. Causal, like rankCalibrate.
 */
export function rankCalibrateLow(raw: ArrayLike<number>, margin = 0): Float64Array {
  const out = new Float64Array(raw.length);
  const seen: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const x = raw[i]!;
    if (Number.isNaN(x)) continue;
    const le = upperBound(seen, x / (1 - margin));
    const p = (le + 1) / (seen.length + 1);
    out[i] = Math.min(1, Math.max(0, -Math.log10(p) / RANK_DECADES));
    seen.splice(lowerBound(seen, x), 0, x);
  }
  return out;
}

/** Keeps log() finite for a zero reconstruction error. */
const LOG_FLOOR = 1e-6;

/**
 * The geometric mean of the last `window` finite scores up to each row (the
 * exponential of the mean log, with LOG_FLOOR added), NaN where the row's own
 * score is NaN. The log keeps one huge error from dominating the average, so a
 * high mean needs many raised rows: a sustained rise, not one spike.
 */
export function trailingGeometricMean(raw: ArrayLike<number>, window: number): Float64Array {
  const out = new Float64Array(raw.length).fill(Number.NaN);
  const recent: number[] = [];
  let sum = 0;
  for (let i = 0; i < raw.length; i++) {
    const x = raw[i]!;
    if (Number.isNaN(x)) continue;
    const log = Math.log(x + LOG_FLOOR);
    recent.push(log);
    sum += log;
    if (recent.length > window) sum -= recent.shift()!;
    out[i] = Math.exp(sum / recent.length);
  }
  return out;
}

/** The sustained-error part of rankScores: the rank of the trailing geometric mean of `raw`. */
export function sustainedScores(
  raw: ArrayLike<number>,
  sustained: { window: number; margin: number },
): Float64Array {
  return rankCalibrate(trailingGeometricMean(raw, sustained.window), sustained.margin);
}

/**
 * The quiet part of rankScores: the low-side rank of the range of the last
 * `fraction × fitRows` values (at least 2).
 */
export function quietScores(
  values: ArrayLike<number>,
  fitRows: number,
  quiet: { fraction: number; margin: number },
): Float64Array {
  const window = Math.max(2, Math.round(quiet.fraction * fitRows));
  return rankCalibrateLow(trailingRange(values, window), quiet.margin);
}

/**
 * The rank calibration's score of every row, before onset suppression: the
 * rank of the model's raw score (past the guard band), max-combined with the rank of the seasonal
 * residual (when the fitting rows show a period), with the rank of the
 * trailing geometric mean of the raw score (`sustained`), with the low-side
 * rank of the values' trailing range (`quiet`) and with the anomaly
 * likelihood of the log raw score, as the configuration enables them. Each
 * part is a tail probability on the same −log10(p) / decades scale, so the
 * maximum reports whichever view finds the row rarest. Causal: every part
 * reads only rows up to the current one, and the period and the quiet
 * window's length only the number of fitting rows and their values.
 */
export function rankScores(
  raw: ArrayLike<number>,
  values: ArrayLike<number>,
  fitRows: number,
  config: Pick<
    NabBacktestConfig,
    'rankMargin' | 'rankGuard' | 'seasonal' | 'likelihood' | 'sustained' | 'quiet'
  >,
): Float64Array {
  const out = rankCalibrate(raw, config.rankMargin, config.rankGuard);
  if (config.sustained !== null) {
    const sustained = sustainedScores(raw, config.sustained);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i]!, sustained[i]!);
  }
  if (config.quiet !== null) {
    const quiet = quietScores(values, fitRows, config.quiet);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i]!, quiet[i]!);
  }
  if (config.likelihood !== null) {
    const logRaw = Float64Array.from(raw, (x) => Math.log(x + LOG_FLOOR));
    const likelihood = anomalyLikelihood(logRaw, config.likelihood);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i]!, likelihood[i]!);
  }
  if (config.seasonal !== null) {
    const fit = Array.prototype.slice.call(values, 0, fitRows) as number[];
    const period = dominantPeriod(fit, config.seasonal.minAcf, config.seasonal.slack);
    if (period > 0) {
      const residual = seasonalResidual(values, period, config.seasonal.smooth);
      const seasonal = rankCalibrate(residual, config.rankMargin);
      for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i]!, seasonal[i]!);
    }
  }
  return out;
}

/**
 * Scores one NAB series with the model trained on the fitting rows and, with
 * `retraining`, with a new model at rows R1 = growth × fitRows, R2 = growth ×
 * R1, ...: the model trained at Rk (on the windows of the `maxWindows` rows
 * before it) scores the rows from Rk up to Rk+1. No model sees a row it scores
 * before scoring it, so the replay stays free of look-ahead; the raw scores of
 * successive models go to the rank calibration as one series, as the daemon's
 * threshold sees the scores of a swapped model.
 */
export async function scoreNabSeries(
  values: readonly number[],
  timestamps: ArrayLike<number>,
  fitRows: number,
  config: Pick<NabBacktestConfig, 'retraining'> & ReplayConfig,
  options: ReplayOptions = {},
): Promise<ScoredSeries> {
  const n = values.length;
  const segment = (start: number, end: number, fit: number) =>
    scoreSeries(
      {
        values: Float32Array.from(values.slice(start, end)),
        timestamps: Array.prototype.slice.call(timestamps, start, end) as number[],
        channels: ['value'],
        fitRows: fit,
      },
      config,
      options,
    );
  const retraining = config.retraining;
  let next = retraining === null ? n : Math.min(n, Math.ceil(fitRows * retraining.growth));
  const first = await segment(0, next, fitRows);
  if (retraining === null || next >= n) return first;
  const raw = new Float64Array(n).fill(Number.NaN);
  const windowMean = new Float64Array(n).fill(Number.NaN);
  const lastStep = new Float64Array(n).fill(Number.NaN);
  raw.set(first.raw);
  windowMean.set(first.windowMean);
  lastStep.set(first.lastStep);
  let trainingWindows = first.trainingWindows;
  let epochsRun = first.epochsRun;
  const lookback = retraining.maxWindows + config.model.windowSize - 1;
  while (next < n) {
    const from = next;
    next = Math.min(n, Math.ceil(from * retraining.growth));
    const start = Math.max(0, from - lookback);
    const part = await segment(start, next, from - start);
    raw.set(part.raw.subarray(from - start), from);
    windowMean.set(part.windowMean.subarray(from - start), from);
    lastStep.set(part.lastStep.subarray(from - start), from);
    trainingWindows += part.trainingWindows;
    epochsRun += part.epochsRun;
  }
  return {
    raw,
    windowMean,
    lastStep,
    // One channel: its mean error over the window is the window's.
    perChannel: windowMean,
    fitWindows: first.fitWindows,
    trainingWindows,
    epochsRun,
  };
}

/** Detector name in NAB's results layout. */
export const NAB_DETECTOR = 'tsad';

/** NAB's probationary period: the first min(floor(0.15 N), 750) rows. */
export function nabProbationaryRows(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 750);
}

/**
 * Turns the detector's calibrated scores into the reported anomaly scores:
 * zero inside the probationary rows (NAB does not score them) and damped for
 * `suppressRows` rows after each onset (an undamped row with a calibrated
 * score ≥ `suppressLevel`), so an event is reported once, at its onset.
 * Uses only rows up to the current one.
 */
export function reportedScores(
  calibrated: ArrayLike<number>,
  probationary: number,
  suppressRows: number,
  suppressFactor: number,
  suppressLevel = 0.5,
): Float64Array {
  const out = new Float64Array(calibrated.length);
  let lastFlag = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < calibrated.length; i++) {
    const c = calibrated[i]!;
    const value = Number.isFinite(c) ? Math.min(1, Math.max(0, c)) : 0;
    if (i < probationary) {
      out[i] = 0;
      continue;
    }
    const suppressed = i - lastFlag <= suppressRows;
    out[i] = suppressed ? value * suppressFactor : value;
    if (value >= suppressLevel && !suppressed) lastFlag = i;
  }
  return out;
}

/** Where and how to run the NAB backtest. */
export interface NabBacktestRequest {
  /** NAB data folder with `<category>/<file>.csv`. */
  input: string;
  out: string;
  config: NabBacktestConfig;
  plot?: boolean;
  /** combined_windows.json for the plots; default `<input>/../labels/combined_windows.json` if present. */
  labels?: string;
  /** Only these relative paths (`<category>/<file>.csv`); default every file. */
  only?: readonly string[];
  progress?: boolean;
  /** Stops the backtest between files, epochs or scoring batches; rejects with its reason. */
  signal?: AbortSignal;
}

/** Per-file summary of a NAB backtest. */
export interface NabFileReport {
  file: string;
  rows: number;
  probationary: number;
  trainingWindows: number;
  epochsRun: number;
  flagged: number;
  ms: number;
}

/**
 * Backtests every file of a NAB data folder and writes
 * `<out>/tsad/<category>/tsad_<file>.csv` (and a PNG beside each with
 * `plot`). Files run one after another: TensorFlow already uses both cores
 * for one file's training and scoring.
 */
export async function runNabBacktest(request: NabBacktestRequest): Promise<NabFileReport[]> {
  const files = (request.only ?? listNabDataFiles(request.input)).slice();
  if (files.length === 0) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `no <category>/<file>.csv under ${request.input}`,
    );
  }
  refuseFileAsOutputFolder(request.out);
  refuseWritingOverInput(
    { dir: request.input, files: files.map((f) => path.join(request.input, f)) },
    { dir: request.out, files: files.map((f) => nabResultsPath(request.out, NAB_DETECTOR, f)) },
  );
  let labels: NabLabels | undefined;
  if (request.plot) {
    const labelsFile =
      request.labels ?? path.join(request.input, '..', 'labels', 'combined_windows.json');
    try {
      labels = readNabLabels(labelsFile);
    } catch (error) {
      if (request.labels !== undefined) throw error;
    }
  }
  const progress = request.progress
    ? createProgress({ total: files.length, label: 'backtest NAB' })
    : undefined;
  const reports: NabFileReport[] = [];
  let current: string | undefined;
  try {
    for (const file of files) {
      current = file;
      request.signal?.throwIfAborted();
      const started = Date.now();
      const series = readNabDataCsv(path.join(request.input, file));
      const n = series.values.length;
      const probationary = nabProbationaryRows(n);
      const scored = await scoreNabSeries(
        series.values,
        series.timestamps,
        probationary,
        request.config,
        request.signal === undefined ? {} : { signal: request.signal },
      );
      const scores = reportedScores(
        request.config.calibration === 'rank'
          ? rankScores(scored.raw, series.values, probationary, request.config)
          : judgeScores(scored.raw, scored.fitWindows, request.config).calibrated,
        probationary,
        Math.round(request.config.suppressFraction * probationary),
        request.config.suppressFactor,
        request.config.suppressLevel,
      );
      const out = nabResultsPath(request.out, NAB_DETECTOR, file);
      writeNabResultsCsv(out, {
        timestampText: series.timestampText,
        values: series.values,
        scores,
      });
      const flaggedRows: number[] = [];
      for (let i = probationary; i < n; i++) if (scores[i]! >= 0.5) flaggedRows.push(i);
      if (request.plot) {
        writePlotPng(out.replace(/\.csv$/, '.png'), {
          title: `tsad on NAB ${file}`,
          timestamps: series.timestamps,
          series: [
            { name: 'value', values: series.values, color: '#1f77b4', panel: 'top' },
            { name: 'anomaly score', values: scores, color: '#2ca02c', panel: 'bottom' },
          ],
          threshold: 0.5,
          windows: labels?.[file] ?? [],
          detections: flaggedRows,
        });
      }
      reports.push({
        file,
        rows: n,
        probationary,
        trainingWindows: scored.trainingWindows,
        epochsRun: scored.epochsRun,
        flagged: flaggedRows.length,
        ms: Date.now() - started,
      });
      progress?.tick(1, { file: path.basename(file) });
    }
  } catch (error) {
    throw namingFile(current, error);
  } finally {
    progress?.stop();
  }
  return reports;
}
