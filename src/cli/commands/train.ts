/**
 * `tsad train`: trains an autoencoder on a CSV series and writes the model
 * directory, showing progress (a bar on a terminal, one line per epoch
 * otherwise, so logs stay readable).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { TsadError } from '../../errors.ts';
import type { Autoencoder } from '../../model/autoencoder.ts';
import { initBackend } from '../../model/backend.ts';
import { defaultModelConfig, type ModelConfig } from '../../model/config.ts';
import { checkModelDirectoryTarget } from '../../model/persistence.ts';
import { type TrainingProgress, trainAutoencoder } from '../../model/train.ts';
import { trainInWorker } from '../../model/train-in-worker.ts';
import { windowsFromSeries } from '../../model/windows.ts';
import type { CliContext } from '../cli.ts';
import { readCsvSeries } from '../csv-series.ts';
import { createProgress } from '../progress.ts';

interface TrainOptions {
  input: string;
  window: number;
  out: string;
  columns?: string[];
  epochs?: number;
  hidden?: number[];
  codeSize?: number;
  seed?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  dropout?: number;
  validationFraction?: number;
  stride: number;
  worker: boolean;
}

/** Adds `tsad train` to the program. */
export function registerTrain(program: Command, context: CliContext): void {
  const d = defaultModelConfig;
  program
    .command('train')
    .description('train an LSTM autoencoder on a CSV series and write a model directory')
    .requiredOption(
      '--input <csv>',
      'CSV with a header, a timestamp column and numeric channel columns',
    )
    .requiredOption('--window <n>', 'time steps per window', positiveInt)
    .requiredOption(
      '--out <dir>',
      'model directory to write (replaced if it holds a model and nothing else)',
    )
    .option('--columns <a,b>', 'channel columns to use (default: all but timestamp)', names)
    .option('--epochs <n>', `maximum epochs (default ${d.maxEpochs})`, positiveInt)
    .option(
      '--hidden <n[,n]>',
      `LSTM units per encoder layer (default ${d.hiddenUnits.join(',')})`,
      intList,
    )
    .option(
      '--code-size <n>',
      `size of the code between encoder and decoder (default ${d.codeSize})`,
      positiveInt,
    )
    .option('--seed <n>', `random seed (default ${d.seed})`, integer)
    .option('--batch-size <n>', `windows per training batch (default ${d.batchSize})`, positiveInt)
    .option('--learning-rate <x>', `Adam learning rate (default ${d.learningRate})`, positiveNumber)
    .option(
      '--patience <n>',
      `early-stopping patience in epochs (default ${d.patience})`,
      positiveInt,
    )
    .option('--dropout <x>', `dropout rate (default ${d.dropout})`, fraction)
    .option(
      '--validation-fraction <x>',
      `share of the last windows held out for validation (default ${d.validationFraction})`,
      fraction,
    )
    .option(
      '--stride <n>',
      'rows between the starts of consecutive training windows',
      positiveInt,
      1,
    )
    .option('--worker', 'train in a worker thread, as the daemon retrains', false)
    .action(async (options: TrainOptions) => {
      // Refused now rather than after a training that could take hours.
      await checkModelDirectoryTarget(options.out);
      const series = await readCsvSeries(options.input, options.columns);
      const rows = series.timestamps.length;
      if (rows < options.window) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `${options.input} has ${rows} rows; a window of ${options.window} needs at least ${options.window}`,
        );
      }
      await initBackend();
      const windows = windowsFromSeries(
        series.values,
        series.channels.length,
        options.window,
        options.stride,
      );
      const config: Partial<ModelConfig> = {
        windowSize: options.window,
        ...defined('maxEpochs', options.epochs),
        ...defined('hiddenUnits', options.hidden),
        ...defined('codeSize', options.codeSize),
        ...defined('seed', options.seed),
        ...defined('batchSize', options.batchSize),
        ...defined('learningRate', options.learningRate),
        ...defined('patience', options.patience),
        ...defined('dropout', options.dropout),
        ...defined('validationFraction', options.validationFraction),
      };
      context.stderr.write(
        `training on ${windows.length} windows of ${options.window} steps × ${series.channels.length} ` +
          `channel(s) [${series.channels.join(', ')}]\n`,
      );
      const progress = createProgress({
        label: 'training',
        total: config.maxEpochs ?? d.maxEpochs,
        stream: context.stderr,
        intervalMs: 0,
      });
      const onProgress = (p: TrainingProgress): void =>
        progress.update(p.epoch, {
          loss: p.loss,
          ...(p.valLoss === null ? {} : { val: p.valLoss }),
        });
      const train = { channels: series.channels, onProgress, signal: context.shutdownSignal };
      let model: Autoencoder;
      try {
        model = options.worker
          ? await trainInWorker(windows, config, { ...train, outDir: options.out })
          : await trainAutoencoder(windows, config, train);
      } finally {
        progress.stop();
      }
      if (!options.worker) await model.save(options.out);
      const t = model.metadata.training;
      const leftOut =
        t.windowsLeftOut > 0
          ? `; ${t.windowsLeftOut} of ${t.windows} windows left out ` +
            '(a value past float32 or a million scales from its channel median)'
          : '';
      context.stdout.write(
        `model ${model.version} written to ${options.out}: ${t.epochsRun} epochs` +
          `${t.stoppedEarly ? ' (stopped early)' : ''}, best epoch ${t.bestEpoch}, ` +
          `best ${t.validationWindows > 0 ? 'validation' : 'training'} loss ${t.bestLoss.toPrecision(4)}` +
          `${leftOut}\n`,
      );
      model.dispose();
    });
}

function defined<K extends keyof ModelConfig>(
  key: K,
  value: ModelConfig[K] | undefined,
): Partial<Pick<ModelConfig, K>> {
  return value === undefined ? {} : ({ [key]: value } as Pick<ModelConfig, K>);
}

function integer(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

function positiveInt(text: string): number {
  const n = integer(text);
  if (n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function positiveNumber(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function fraction(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n >= 1)
    throw new InvalidArgumentError('expected a number in [0, 1)');
  return n;
}

function intList(text: string): number[] {
  return text.split(',').map((part) => positiveInt(part.trim()));
}

function names(text: string): string[] {
  const list = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (list.length === 0)
    throw new InvalidArgumentError('expected column names separated by commas');
  return list;
}
