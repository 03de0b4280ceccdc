/**
 * `tsad bench model`: the model benchmark of bench/model (inference windows/s
 * and training epoch time, tsad's LSTM implementations beside Keras), and
 * `tsad bench e2e`: the daemon end to end on a real broker (bench/e2e), and
 * `tsad bench memory`: a whole embedded daemon's memory with many sensors. The
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

interface E2eCommandOptions {
  json: boolean;
  quick: boolean;
  brokers?: string;
  sensors?: string;
  seconds?: string;
  backlog?: string;
  batchSize?: string;
  latenessMs?: string;
  warmupSeconds?: string;
  model?: string;
  memorySensors?: string;
  strides: string;
  latencyFrom: string;
  scoringWorker: boolean;
}

interface MemoryCommandOptions {
  json: boolean;
  sensors?: string;
  seconds?: string;
  sampleMs?: string;
  config?: string;
  nodeFlags?: string;
}

/** Adds `tsad bench model`, `tsad bench e2e` and `tsad bench memory` to the program. */
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
  bench
    .command('e2e')
    .description('end-to-end throughput, latency and memory of the daemon on a real Kafka broker')
    .option('--json', 'print one JSON object (progress goes to stderr)', false)
    .option('--quick', 'smaller backlog and shorter phases (a smoke run, ~2.5 minutes)', false)
    .option('--brokers <list>', 'Kafka brokers (default: KAFKA_BROKERS, else start one)')
    .option('--sensors <n>', 'sensors in the Kafka phases (default 100)')
    .option(
      '--seconds <s>',
      'seconds of real-time production measured per live throughput and latency phase',
    )
    .option(
      '--warmup-seconds <s>',
      'seconds of real-time production before each live throughput and latency phase is measured (default 10)',
    )
    .option('--backlog <n>', 'readings per sensor in the throughput backlog')
    .option('--batch-size <n>', "the daemon's batching.maxBatchSize (default: its default, 64)")
    .option('--lateness-ms <ms>', "the daemon's input.maxLatenessMs (default 0)")
    .option('--model <dir>', 'a model directory (window 32) instead of training one')
    .option('--memory-sensors <n>', 'sensors of the memory phase, 0 to skip (default 100000)')
    .option('--strides <list>', 'window strides to measure, comma-separated', '1,8')
    .option(
      '--latency-from <list>',
      'run the latency phases at half of which maximum: live (produced while consumed), backlog, or both',
      'live',
    )
    .option('--no-scoring-worker', "score on the daemon's main thread instead of its worker")
    .action(async (options: E2eCommandOptions) => {
      const { runE2eBench, describeRateFrom } = await import('../../../bench/e2e/e2e-bench.ts');
      const brokers = options.brokers ?? process.env['KAFKA_BROKERS'] ?? '';
      const latencyFrom = [...new Set(options.latencyFrom.split(',').map((s) => s.trim()))].map(
        (from) => {
          if (from !== 'live' && from !== 'backlog')
            throw new Error(`--latency-from takes live and/or backlog, got ${from}`);
          return from;
        },
      );
      const report = await runE2eBench({
        brokers: brokers.split(',').filter((b) => b.length > 0),
        sensors: positive(options.sensors, 100),
        backlogPerSensor: positive(options.backlog, options.quick ? 1_500 : 6_000),
        maxWindowsPerPhase: options.quick ? 40_000 : 160_000,
        latencySeconds: positive(options.seconds, options.quick ? 8 : 20),
        warmUpSeconds: nonNegative(options.warmupSeconds, options.quick ? 4 : 10),
        strides: options.strides.split(',').map((s) => positive(s.trim(), 1)),
        latencyFrom,
        batchSize: positive(options.batchSize, 64),
        maxLatenessMs: nonNegative(options.latenessMs, 0),
        ...(options.model === undefined ? {} : { modelDir: options.model }),
        trainEpochs: options.quick ? 2 : 5,
        memorySensors: nonNegative(options.memorySensors, 100_000),
        maxPhaseSeconds: options.quick ? 60 : 180,
        scoreInWorker: options.scoringWorker,
        log: (message) => context.stderr.write(`${message}\n`),
      });
      if (options.json) {
        context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      for (const t of report.throughput) {
        context.stdout.write(
          `stride ${t.stride}: ${t.pipelineReadingsPerSec} readings/s through the daemon, ` +
            `${t.modelOnlyReadingsPerSec} model only (ratio ${t.ratio})\n`,
        );
      }
      for (const t of report.liveThroughput) {
        context.stdout.write(
          `stride ${t.stride}: ${t.readingsPerSec} readings/s through the daemon while produced` +
            (t.cpu?.machine
              ? ` (machine ${Math.round(t.cpu.machine.busyShare * 100)} % busy)`
              : '') +
            '\n',
        );
      }
      for (const l of report.latency) {
        context.stdout.write(
          `stride ${l.stride} at ${l.producedRate} of ${l.targetRate} readings/s (${describeRateFrom(l.rateFrom)})` +
            `${l.producerKeptUp ? '' : ' (the producer fell short)'}: latency ` +
            (l.latencyMs ? `p50 ${l.latencyMs.p50} ms, p99 ${l.latencyMs.p99} ms` : 'n/a') +
            (l.warmUpLatencyMs
              ? ` (the ${l.warmUpSeconds} s warm-up before: p99 ${l.warmUpLatencyMs.p99} ms)`
              : '') +
            (l.cpu?.machine
              ? `; machine ${Math.round(l.cpu.machine.busyShare * 100)} % busy` +
                ` (steal ${Math.round(l.cpu.machine.stealShare * 100)} %)`
              : '') +
            '\n',
        );
      }
      context.stdout.write(`memory: ${JSON.stringify(report.memory)}\n`);
    });

  bench
    .command('memory')
    .description(
      'RSS of a whole embedded daemon with many simulated sensors, sampled from /proc (Linux)',
    )
    .option('--json', 'print one JSON object (progress goes to stderr)', false)
    .option('--sensors <n>', 'simulated sensors, one channel each (default 100000)')
    .option('--seconds <s>', 'how long the daemon runs before SIGINT (default 150)')
    .option('--sample-ms <ms>', 'sampling interval (default 10000)')
    .option('--config <file>', "the daemon's config file, e.g. deploy/config/large-fleet.yaml")
    .option(
      '--node-flags <flags>',
      "the daemon's Node flags, space-separated, e.g. --optimize-for-size",
    )
    .action(async (options: MemoryCommandOptions) => {
      const { runDaemonMemoryBench } = await import('../../../bench/e2e/daemon-memory.ts');
      const report = await runDaemonMemoryBench({
        sensors: positive(options.sensors, 100_000),
        seconds: positive(options.seconds, 150),
        sampleMs: positive(options.sampleMs, 10_000),
        ...(options.config === undefined ? {} : { config: options.config }),
        nodeFlags: (options.nodeFlags ?? '').split(' ').filter((f) => f.length > 0),
        log: (message) => context.stderr.write(`${message}\n`),
      });
      if (options.json) {
        context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      context.stdout.write(`${JSON.stringify(report.summary)}\n`);
    });
}

function nonNegative(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected an integer ≥ 0, got ${text}`);
  return n;
}

function positive(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${text}`);
  return n;
}
