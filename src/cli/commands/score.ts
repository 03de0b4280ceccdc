/**
 * `tsad score`: scores every row of a CSV series with a trained model and
 * writes `timestamp,score`, where the score of a row is the reconstruction
 * MSE of the window that ends at it. The output replaces a previous file
 * whole or not at all, and may not be the input. SIGINT/SIGTERM stops it
 * between scoring batches, before anything is written.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { WindowScore } from '../../detector/types.ts';
import { TsadError } from '../../errors.ts';
import { initBackend } from '../../model/backend.ts';
import { loadAutoencoder } from '../../model/load-autoencoder.ts';
import { windowsFromSeries } from '../../model/windows.ts';
import type { CliContext } from '../cli.ts';
import { stopPoint } from '../context.ts';
import { readCsvSeries } from '../csv-series.ts';
import { sameFile, writeOutputFile } from '../write-output-file.ts';

/** Windows scored between two stop points (the model's own chunk: the same scores as one call). */
const SCORE_BATCH = 4096;

/** Adds `tsad score` to the program. */
export function registerScore(program: Command, context: CliContext): void {
  program
    .command('score')
    .description('score every row of a CSV series with a trained model; writes timestamp,score')
    .requiredOption('--model <dir>', 'model directory written by `tsad train`')
    .requiredOption('--input <csv>', "CSV with a timestamp column and the model's channel columns")
    .requiredOption(
      '--out <csv>',
      'CSV to write: timestamp,score (empty for the first window-1 rows)',
    )
    .action(async (options: { model: string; input: string; out: string }) => {
      if (sameFile(options.input, options.out)) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `refusing to write scores to ${options.out}: it is the input ${options.input}`,
        );
      }
      // Found before the model is loaded and the series scored, not when the scores are written.
      if (isFolder(options.out)) {
        throw new TsadError('TSAD_ERR_OUTPUT_WRITE', `cannot write ${options.out}: it is a folder`);
      }
      await initBackend();
      const model = await loadAutoencoder(options.model);
      try {
        const series = await readCsvSeries(options.input, model.channels);
        const rows = series.timestamps.length;
        const size = model.windowSize;
        if (rows < size) {
          throw new TsadError(
            'TSAD_ERR_INPUT_INVALID',
            `${options.input} has ${rows} rows; model ${model.version} needs at least ${size} for one window`,
          );
        }
        const windows = windowsFromSeries(series.values, model.channels.length, size);
        const scores: WindowScore[] = [];
        for (let start = 0; start < windows.length; start += SCORE_BATCH) {
          await stopPoint(context.shutdownSignal);
          scores.push(...(await model.scoreData(windows.slice(start, start + SCORE_BATCH))));
        }
        await stopPoint(context.shutdownSignal);
        const lines = ['timestamp,score'];
        for (let row = 0; row < rows; row++) {
          const score = row >= size - 1 ? scores[row - size + 1]?.score : undefined;
          lines.push(`${csvCell(series.timestampText[row]!)},${score === undefined ? '' : score}`);
        }
        writeOutputFile(options.out, `${lines.join('\n')}\n`);
        context.stdout.write(
          `scored ${windows.length} windows of ${rows} rows with model ${model.version}; wrote ${options.out}\n`,
        );
      } finally {
        model.dispose();
      }
    });
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** True when `file` exists and is a folder; anything else (absent, unreachable) the write reports. */
function isFolder(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}
