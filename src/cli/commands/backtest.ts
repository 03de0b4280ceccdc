/**
 * `tsad backtest`: replays a benchmark's recorded files through tsad's
 * windows, model and detector and writes results in the benchmark's own
 * format, ready for `tsad evaluate` (or the benchmark's own scorer). The
 * replay engine lives in src/cli/backtest; this file parses options.
 */
import path from 'node:path';
import { type Command, Option } from 'commander';
import { TsadError } from '../../errors.ts';
import { initBackend } from '../../model/backend.ts';
import { readBacktestConfig } from '../backtest/backtest-config.ts';
import { NAB_DETECTOR, runNabBacktest } from '../backtest/nab.ts';
import { runSkabBacktest } from '../backtest/skab.ts';
import type { CliContext } from '../cli.ts';

interface BacktestOptions {
  benchmark: 'nab' | 'skab';
  input: string;
  out: string;
  plot?: boolean;
  labels?: string;
  config?: string;
  progress: boolean;
}

/** Adds `tsad backtest --benchmark nab|skab --input <dir> --out <dir>` to the program. */
export function registerBacktest(program: Command, context: CliContext): void {
  program
    .command('backtest')
    .description(
      'replay a NAB or SKAB data folder through the detector and write results in its format',
    )
    .addOption(
      new Option('--benchmark <name>', 'which benchmark the data is')
        .choices(['nab', 'skab'])
        .makeOptionMandatory(),
    )
    .requiredOption(
      '--input <dir>',
      'NAB: data folder with <category>/<file>.csv; SKAB: data folder with <folder>/<n>.csv',
    )
    .requiredOption(
      '--out <dir>',
      'NAB: writes <out>/tsad/<category>/tsad_<file>.csv; SKAB: <out>/<folder>/<n>.csv',
    )
    .option('--plot', 'NAB: write a PNG beside each results file')
    .option(
      '--labels <file>',
      'NAB: combined_windows.json for the plots (default <input>/../labels/combined_windows.json)',
    )
    .option('--config <file>', 'YAML or JSON { nab: {...}, skab: {...} } over the defaults')
    .option('--no-progress', 'no progress on stderr')
    .action(async (options: BacktestOptions) => {
      if (options.benchmark === 'skab' && (options.plot === true || options.labels !== undefined)) {
        throw new TsadError(
          'TSAD_ERR_CONFIG_INVALID',
          `${options.plot === true ? '--plot' : '--labels'} is for --benchmark nab only: SKAB results are not plotted`,
        );
      }
      const configs = readBacktestConfig(options.config);
      await initBackend();
      const started = Date.now();
      if (options.benchmark === 'nab') {
        const files = await runNabBacktest({
          input: options.input,
          out: options.out,
          config: configs.nab,
          plot: options.plot === true,
          ...(options.labels === undefined ? {} : { labels: options.labels }),
          progress: options.progress,
          signal: context.shutdownSignal,
        });
        const summary = {
          benchmark: 'nab',
          results: path.join(options.out, NAB_DETECTOR),
          files: files.length,
          rows: files.reduce((n, f) => n + f.rows, 0),
          seconds: (Date.now() - started) / 1000,
          perFile: files,
        };
        context.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      } else {
        const files = await runSkabBacktest({
          input: options.input,
          out: options.out,
          config: configs.skab,
          progress: options.progress,
          signal: context.shutdownSignal,
        });
        const summary = {
          benchmark: 'skab',
          results: options.out,
          files: files.length,
          rows: files.reduce((n, f) => n + f.rows, 0),
          seconds: (Date.now() - started) / 1000,
          perFile: files,
        };
        context.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      }
    });
}
