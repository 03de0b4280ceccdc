/**
 * `tsad bench model`: the model benchmark of bench/model (inference windows/s
 * and training epoch time, tsad's LSTM implementations beside Keras). The
 * benchmark code lives in bench/ and is loaded only when the command runs.
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli.ts';

interface ModelCommandOptions {
  json: boolean;
  keras: boolean;
  quick: boolean;
  repeats?: string;
  epochs?: string;
  implementation?: string;
}

/** Adds `tsad bench model [--json] [--no-keras] [--quick]` to the program. */
export function registerBench(program: Command, context: CliContext): void {
  const bench = program.command('bench').description('run a benchmark and print its results');
  bench
    .command('model')
    .description('model inference and training speed, tfjs-layers vs fused LSTM vs Keras')
    .option('--json', 'print one JSON object (progress goes to stderr)', false)
    .option('--no-keras', 'skip the Keras comparison')
    .option('--quick', 'first configuration only, fewer repeats (a smoke run)', false)
    .option('--repeats <n>', 'timed inference repeats per measurement (default 5)')
    .option('--epochs <n>', 'timed training epochs per measurement (default 3)')
    .option('--implementation <name>', 'only this LSTM implementation: fused or layers')
    .action(async (options: ModelCommandOptions) => {
      const { DEFAULT_BENCH_CONFIGS, runModelBench } = await import(
        '../../../bench/model/model-bench.ts'
      );
      const implementation = options.implementation;
      if (
        implementation !== undefined &&
        implementation !== 'fused' &&
        implementation !== 'layers'
      ) {
        throw new Error(`--implementation must be fused or layers, got ${implementation}`);
      }
      const report = await runModelBench({
        configs: options.quick ? DEFAULT_BENCH_CONFIGS.slice(0, 1) : DEFAULT_BENCH_CONFIGS,
        inferenceRepeats: positive(options.repeats, options.quick ? 2 : 5),
        trainEpochs: positive(options.epochs, options.quick ? 1 : 3),
        keras: options.keras,
        ...(implementation === undefined ? {} : { implementations: [implementation] }),
        log: (message) => context.stderr.write(`${message}\n`),
      });
      if (options.json) {
        context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      for (const r of report.results) {
        const line = (
          name: string,
          t: { inferenceWindowsPerSec: number; trainEpochMs: number } | null | undefined,
        ) =>
          t == null
            ? `  ${name.padEnd(8)} n/a\n`
            : `  ${name.padEnd(8)} ${Math.round(t.inferenceWindowsPerSec).toString().padStart(8)} windows/s   ${t.trainEpochMs.toFixed(0).padStart(6)} ms/epoch\n`;
        context.stdout.write(`${r.config.name} (${report.backend}):\n`);
        context.stdout.write(line('layers', r.tsad.layers));
        context.stdout.write(line('fused', r.tsad.fused));
        context.stdout.write(line('keras', r.keras));
        context.stdout.write(
          `  ratios tsad/keras: inference ${r.ratios.inference ?? 'n/a'}, score ${r.ratios.score ?? 'n/a'}, training ${r.ratios.training ?? 'n/a'}\n`,
        );
      }
      if (!report.keras.available)
        context.stdout.write(`keras: unavailable (${report.keras.reason})\n`);
    });
}

function positive(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${text}`);
  return n;
}
