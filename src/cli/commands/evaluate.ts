/**
 * `tsad evaluate`: scores a detector's benchmark results the way the NAB and
 * SKAB leaderboards do and prints one JSON report. The scoring itself lives in
 * src/detector/evaluation; this file finds and reads the files.
 */
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { evaluateNab, NAB_PROFILE_NAMES } from '../../detector/evaluation/evaluate-nab.ts';
import { evaluateSkab, type SkabPart } from '../../detector/evaluation/evaluate-skab.ts';
import { TsadError } from '../../errors.ts';
import {
  listNabResults,
  listSkabFiles,
  readNabLabels,
  readNabResultsCsv,
  readSkabCsv,
  readSkabResultsCsv,
  SKAB_FIT_ROWS,
} from '../benchmark-files.ts';
import type { CliContext } from '../cli.ts';
import { stopPoint } from '../context.ts';

/** Where NAB results are and how to score them. */
export interface NabEvaluationRequest {
  /** A detector's results folder, `<out>/<detector>`; its base name is the detector name. */
  resultsDir: string;
  /** NAB's `combined_windows.json`. */
  labelsFile: string;
  /** Score every profile at this threshold instead of optimising it. */
  threshold?: number;
  /** Stops the evaluation between files; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Reads a detector's NAB results and scores them for the three profiles.
 * Only files present in the results are scored (the report lists the labelled
 * files that are not); a results file the labels do not know is an error,
 * since it would silently drop out of the score.
 */
export async function evaluateNabResults(request: NabEvaluationRequest) {
  const labels = readNabLabels(request.labelsFile);
  const results = listNabResults(request.resultsDir);
  const detector = path.basename(path.resolve(request.resultsDir));
  if (results.size === 0) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `no results files named ${detector}_<file>.csv under ${request.resultsDir}/<category>/`,
    );
  }
  const unknown = [...results.keys()].filter((name) => labels[name] === undefined);
  if (unknown.length > 0) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `results for files that ${request.labelsFile} does not label: ${unknown.join(', ')}`,
    );
  }
  const files = [];
  for (const [name, file] of results) {
    await stopPoint(request.signal);
    const read = readNabResultsCsv(file);
    files.push({
      name,
      timestamps: read.timestamps,
      scores: read.scores,
      windows: labels[name] ?? [],
    });
  }
  const evaluation = evaluateNab(
    files,
    request.threshold === undefined ? {} : { threshold: request.threshold },
  );
  const profiles = Object.fromEntries(
    NAB_PROFILE_NAMES.map((name) => {
      const p = evaluation.profiles[name];
      return [
        name,
        {
          score: p.score,
          threshold: p.threshold,
          thresholdSource: p.thresholdSource,
          rawScore: p.rawScore,
          nullScore: p.nullScore,
          perfectScore: p.perfectScore,
          counts: p.counts,
          files: Object.fromEntries(
            p.files.map((f) => [
              f.name,
              { tp: f.tp, fp: f.fp, fn: f.fn, tn: f.tn, score: f.score },
            ]),
          ),
        },
      ];
    }),
  );
  return {
    benchmark: 'nab' as const,
    detector,
    filesScored: files.length,
    filesLabelled: Object.keys(labels).length,
    filesNotScored: Object.keys(labels)
      .filter((name) => !results.has(name))
      .sort(),
    windows: evaluation.windows,
    profiles,
  };
}

/** Where SKAB results are and how to score them. */
export interface SkabEvaluationRequest {
  /** Folder with `<folder>/<n>.csv` results (`datetime;anomaly;changepoint`). */
  resultsDir: string;
  /** SKAB data folder with the same `<folder>/<n>.csv` files and their labels. */
  dataDir: string;
  /** Leading rows of each data file used for fitting; the rest is the test part. */
  fitRows?: number;
  /** Stops the evaluation between files; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Reads a detector's SKAB results and the matching labels and scores them
 * with both leaderboard metrics. Each results file must cover exactly the
 * test part of its data file (same row count and timestamps).
 */
export async function evaluateSkabResults(request: SkabEvaluationRequest) {
  const fitRows = request.fitRows ?? SKAB_FIT_ROWS;
  const names = listSkabFiles(request.resultsDir);
  if (names.length === 0) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `no <folder>/<n>.csv results under ${request.resultsDir}`,
    );
  }
  const parts: SkabPart[] = [];
  for (const name of names) {
    await stopPoint(request.signal);
    const data = readSkabCsv(path.join(request.dataDir, name));
    const results = readSkabResultsCsv(path.join(request.resultsDir, name));
    const expected = data.timestamps.length - fitRows;
    if (results.timestamps.length !== expected) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `${name}: ${results.timestamps.length} result rows, but the test part after ${fitRows} fitting rows has ${expected}`,
      );
    }
    results.timestamps.forEach((t, i) => {
      if (t !== data.timestamps[fitRows + i]) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `${name}: result row ${i} is at ${results.timestampText[i]}, the data row at ${data.timestampText[fitRows + i]}`,
        );
      }
    });
    parts.push({
      name,
      timestamps: results.timestamps,
      trueAnomaly: data.anomaly.subarray(fitRows),
      trueChangepoint: data.changepoint.subarray(fitRows),
      predictedAnomaly: results.anomaly,
      predictedChangepoint: results.changepoint,
    });
  }
  const evaluation = evaluateSkab(parts);
  const labelled = listSkabFiles(request.dataDir);
  return {
    benchmark: 'skab' as const,
    filesScored: parts.length,
    filesLabelled: labelled.length,
    filesNotScored: labelled.filter((name) => !names.includes(name)),
    fitRows,
    rows: evaluation.rows,
    F1: evaluation.F1,
    FAR: evaluation.FAR,
    MAR: evaluation.MAR,
    counts: { TP: evaluation.TP, TN: evaluation.TN, FP: evaluation.FP, FN: evaluation.FN },
    changepoint: evaluation.changepoint,
  };
}

function parseThreshold(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new InvalidArgumentError('must be a number');
  }
  return value;
}

function parseRows(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new InvalidArgumentError('must be a whole number');
  return value;
}

interface EvaluateOptions {
  benchmark: 'nab' | 'skab';
  results: string;
  labels?: string;
  input?: string;
  threshold?: number;
  fitRows: number;
}

/** Adds `tsad evaluate --benchmark nab|skab ...` to the program. */
export function registerEvaluate(program: Command, context: CliContext): void {
  program
    .command('evaluate')
    .description("score benchmark results with NAB's or SKAB's own rules and print JSON")
    .addOption(
      new Option('--benchmark <name>', 'which benchmark the results are for')
        .choices(['nab', 'skab'])
        .makeOptionMandatory(),
    )
    .requiredOption(
      '--results <dir>',
      'NAB: <out>/<detector> with <category>/<detector>_<file>.csv; SKAB: <out> with <folder>/<n>.csv',
    )
    .option('--labels <file>', 'NAB: combined_windows.json')
    .option('--input <dir>', 'SKAB: the data folder holding the labels')
    .option(
      '--threshold <score>',
      'NAB: score all profiles at this threshold instead of optimising it',
      parseThreshold,
    )
    .option(
      '--fit-rows <n>',
      'SKAB: leading rows of each file used for fitting',
      parseRows,
      SKAB_FIT_ROWS,
    )
    .action(async (options: EvaluateOptions) => {
      const signal = context.shutdownSignal;
      let report: object;
      if (options.benchmark === 'nab') {
        if (options.labels === undefined) {
          throw new TsadError(
            'TSAD_ERR_CONFIG_INVALID',
            '--labels is required with --benchmark nab',
          );
        }
        report = await evaluateNabResults({
          resultsDir: options.results,
          labelsFile: options.labels,
          ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
          signal,
        });
      } else {
        if (options.input === undefined) {
          throw new TsadError(
            'TSAD_ERR_CONFIG_INVALID',
            '--input is required with --benchmark skab',
          );
        }
        report = await evaluateSkabResults({
          resultsDir: options.results,
          dataDir: options.input,
          fitRows: options.fitRows,
          signal,
        });
      }
      await stopPoint(signal);
      context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    });
}
