/**
 * The SKAB backtest: every labelled file is fitted on its first 400 rows (and,
 * when configured, on the anomaly-free file), then its remaining rows are
 * streamed through the detector; the 0/1 verdicts of the test part are written
 * as SKAB results (`datetime;anomaly;changepoint`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TsadError } from '../../errors.ts';
import { windowsFromSeries } from '../../model/windows.ts';
import {
  listSkabFiles,
  readSkabCsv,
  SKAB_FIT_ROWS,
  type SkabSeries,
  writeSkabResultsCsv,
} from '../benchmark-files.ts';
import { createProgress } from '../progress.ts';
import { refuseFileAsOutputFolder, refuseWritingOverInput } from '../write-output-file.ts';
import { namingFile, type ReplayConfig, replaySeries } from './replay.ts';
import { changepointFlags, changesOf, type SkabChangepointConfig } from './skab-changepoints.ts';

/** The SKAB configuration: the replay plus how verdicts become predictions. */
export interface SkabBacktestConfig extends ReplayConfig {
  /** Also train on `anomaly-free/anomaly-free.csv` when the data folder has it. */
  useAnomalyFree: boolean;
  /** Every this many rows one anomaly-free window starts: a sample keeps training short. */
  anomalyFreeStride: number;
  /**
   * A flagged row keeps the prediction at 1 for this many further rows:
   * SKAB's faults last minutes, and its point-wise F1 counts every row of them.
   */
  holdRows: number;
  /**
   * Channels whose lag-1 autocorrelation over the fitting rows is at least
   * this are given to the model as first differences (null: every channel as
   * measured). Slow, smooth channels (SKAB's temperatures) drift out of the
   * range the 400 fitting rows cover; as levels they make every later row
   * look anomalous, as changes they stay in range.
   */
  differenceAbove: number | null;
  /** Where the changepoint column comes from (see skab-changepoints.ts). */
  changepoints: SkabChangepointConfig;
}

/** Where and how to run the SKAB backtest. */
export interface SkabBacktestRequest {
  /** SKAB data folder with `<folder>/<n>.csv` (and optionally `anomaly-free/`). */
  input: string;
  out: string;
  config: SkabBacktestConfig;
  only?: readonly string[];
  progress?: boolean;
  /** Stops the backtest between files, epochs or scoring batches; rejects with its reason. */
  signal?: AbortSignal;
}

/** Per-file summary of a SKAB backtest. */
export interface SkabFileReport {
  file: string;
  rows: number;
  testRows: number;
  trainingWindows: number;
  epochsRun: number;
  predictedAnomalous: number;
  predictedChangepoints: number;
  /** Channels the model saw as first differences. */
  differencedChannels: string[];
  ms: number;
}

/** Row-major Float32 values of a SKAB file in the order of its channels. */
function flatten(series: SkabSeries): Float32Array {
  const c = series.channels.length;
  const out = new Float32Array(series.values.length * c);
  series.values.forEach((row, i) => {
    out.set(row, i * c);
  });
  return out;
}

/**
 * Which channels are smooth: lag-1 autocorrelation of their first `fitRows`
 * rows at least `minAutocorrelation` (a constant channel is not smooth).
 * `values` is row-major with `channels` values per row.
 */
export function smoothChannels(
  values: ArrayLike<number>,
  channels: number,
  fitRows: number,
  minAutocorrelation: number,
): boolean[] {
  const rows = Math.min(fitRows, Math.floor(values.length / channels));
  return Array.from({ length: channels }, (_, k) => {
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += values[r * channels + k]!;
    const mean = sum / rows;
    let variance = 0;
    let lagged = 0;
    for (let r = 0; r < rows; r++) {
      const d = values[r * channels + k]! - mean;
      variance += d * d;
      if (r > 0) lagged += d * (values[(r - 1) * channels + k]! - mean);
    }
    // Rounding leaves a constant channel a tiny variance: it is not smooth, it is flat.
    const flat = variance <= rows * (1e-9 * Math.max(1, Math.abs(mean))) ** 2;
    return !flat && lagged / variance >= minAutocorrelation;
  });
}

/**
 * A copy of row-major `values` with the chosen channels replaced by their
 * first differences (0 on the first row). Causal: row i uses rows i-1 and i.
 */
export function differenced(
  values: Float32Array,
  channels: number,
  which: readonly boolean[],
): Float32Array {
  const out = values.slice();
  for (let i = values.length - 1; i >= 0; i--) {
    if (!which[i % channels]) continue;
    out[i] = i < channels ? 0 : values[i]! - values[i - channels]!;
  }
  return out;
}

/** Extends each flagged row to the `hold` rows after it (only forward: no look-ahead). */
export function holdPredictions(flags: ArrayLike<number>, hold: number): Uint8Array {
  const out = new Uint8Array(flags.length);
  let until = -1;
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === 1) until = i + hold;
    out[i] = i <= until ? 1 : 0;
  }
  return out;
}

/**
 * Backtests every labelled SKAB file and writes `<out>/<folder>/<n>.csv`
 * with the predictions for the rows after the first 400. The replay's window
 * store orders channels by name, so the anomaly-free windows are cut in that
 * same order.
 */
export async function runSkabBacktest(request: SkabBacktestRequest): Promise<SkabFileReport[]> {
  const files = (request.only ?? listSkabFiles(request.input)).slice();
  if (files.length === 0) {
    throw new TsadError('TSAD_ERR_INPUT_INVALID', `no <folder>/<n>.csv under ${request.input}`);
  }
  const freeFile = path.join(request.input, 'anomaly-free', 'anomaly-free.csv');
  refuseFileAsOutputFolder(request.out);
  refuseWritingOverInput(
    { dir: request.input, files: [freeFile, ...files.map((f) => path.join(request.input, f))] },
    { dir: request.out, files: files.map((f) => path.join(request.out, f)) },
  );
  const size = request.config.model.windowSize;
  const { differenceAbove } = request.config;
  let free: Float32Array | undefined;
  if (request.config.useAnomalyFree && fs.existsSync(freeFile)) {
    free = flatten(sortedChannels(readSkabCsv(freeFile)));
  }
  const progress = request.progress
    ? createProgress({ total: files.length, label: 'backtest SKAB' })
    : undefined;
  const reports: SkabFileReport[] = [];
  let current: string | undefined;
  try {
    for (const file of files) {
      current = file;
      request.signal?.throwIfAborted();
      const started = Date.now();
      const series = sortedChannels(readSkabCsv(path.join(request.input, file)));
      const rows = series.values.length;
      if (rows <= SKAB_FIT_ROWS) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `${file}: ${rows} rows, no test part after ${SKAB_FIT_ROWS} fitting rows`,
        );
      }
      const values = flatten(series);
      const c = series.channels.length;
      const smooth =
        differenceAbove === null
          ? series.channels.map(() => false)
          : smoothChannels(values, c, SKAB_FIT_ROWS, differenceAbove);
      const extra =
        free === undefined
          ? []
          : windowsFromSeries(
              differenced(free, c, smooth),
              c,
              size,
              request.config.anomalyFreeStride,
            );
      const replay = await replaySeries(
        {
          values: differenced(values, c, smooth),
          timestamps: series.timestamps,
          channels: series.channels,
          fitRows: SKAB_FIT_ROWS,
          extraTrainingWindows: extra,
        },
        request.config,
        request.signal === undefined ? {} : { signal: request.signal },
      );
      const flags = holdPredictions(replay.anomalous, request.config.holdRows);
      const predicted = flags.subarray(SKAB_FIT_ROWS);
      const changepoint = changesOf(
        changepointFlags(
          { values, channels: series.channels.length, fitRows: SKAB_FIT_ROWS, flags },
          request.config.changepoints,
        ).subarray(SKAB_FIT_ROWS),
      );
      writeSkabResultsCsv(path.join(request.out, file), {
        timestampText: series.timestampText.slice(SKAB_FIT_ROWS),
        anomaly: predicted,
        changepoint,
      });
      reports.push({
        file,
        rows,
        testRows: rows - SKAB_FIT_ROWS,
        trainingWindows: replay.trainingWindows,
        epochsRun: replay.epochsRun,
        predictedAnomalous: predicted.reduce((n, v) => n + v, 0),
        predictedChangepoints: changepoint.reduce((n, v) => n + v, 0),
        differencedChannels: series.channels.filter((_, k) => smooth[k]),
        ms: Date.now() - started,
      });
      progress?.tick(1, { file });
    }
  } catch (error) {
    throw namingFile(current, error);
  } finally {
    progress?.stop();
  }
  return reports;
}

/** The series with its channels in name order, as the window store emits them. */
function sortedChannels(series: SkabSeries): SkabSeries {
  const order = series.channels
    .map((name, i) => ({ name, i }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    ...series,
    channels: order.map((o) => o.name),
    values: series.values.map((row) => order.map((o) => row[o.i]!)),
  };
}
