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
import { type ReplayConfig, replaySeries } from './replay.ts';

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
}

/** Where and how to run the SKAB backtest. */
export interface SkabBacktestRequest {
  /** SKAB data folder with `<folder>/<n>.csv` (and optionally `anomaly-free/`). */
  input: string;
  out: string;
  config: SkabBacktestConfig;
  only?: readonly string[];
  progress?: boolean;
}

/** Per-file summary of a SKAB backtest. */
export interface SkabFileReport {
  file: string;
  rows: number;
  testRows: number;
  trainingWindows: number;
  epochsRun: number;
  predictedAnomalous: number;
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
  const size = request.config.model.windowSize;
  let extra: Float32Array[] = [];
  const freeFile = path.join(request.input, 'anomaly-free', 'anomaly-free.csv');
  if (request.config.useAnomalyFree && fs.existsSync(freeFile)) {
    const free = readSkabCsv(freeFile);
    extra = windowsFromSeries(
      flatten(sortedChannels(free)),
      free.channels.length,
      size,
      request.config.anomalyFreeStride,
    );
  }
  const progress = request.progress
    ? createProgress({ total: files.length, label: 'backtest SKAB' })
    : undefined;
  const reports: SkabFileReport[] = [];
  try {
    for (const file of files) {
      const started = Date.now();
      const series = sortedChannels(readSkabCsv(path.join(request.input, file)));
      const rows = series.values.length;
      if (rows <= SKAB_FIT_ROWS) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `${file}: ${rows} rows, no test part after ${SKAB_FIT_ROWS} fitting rows`,
        );
      }
      const replay = await replaySeries(
        {
          values: flatten(series),
          timestamps: series.timestamps,
          channels: series.channels,
          fitRows: SKAB_FIT_ROWS,
          extraTrainingWindows: extra,
        },
        request.config,
      );
      const predicted = holdPredictions(replay.anomalous, request.config.holdRows).subarray(
        SKAB_FIT_ROWS,
      );
      writeSkabResultsCsv(path.join(request.out, file), {
        timestampText: series.timestampText.slice(SKAB_FIT_ROWS),
        anomaly: predicted,
      });
      reports.push({
        file,
        rows,
        testRows: rows - SKAB_FIT_ROWS,
        trainingWindows: replay.trainingWindows,
        epochsRun: replay.epochsRun,
        predictedAnomalous: predicted.reduce((n, v) => n + v, 0),
        ms: Date.now() - started,
      });
      progress?.tick(1, { file });
    }
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
