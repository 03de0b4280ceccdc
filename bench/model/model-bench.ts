/**
 * The model benchmark behind `tsad bench model`: inference throughput and the
 * time of one training epoch of the autoencoder, for each LSTM implementation
 * (the reference tfjs-layers LSTM and the fused native one) on the backend in
 * use, and the same architecture in Keras in the same run when Python
 * TensorFlow can be installed. Everything is measured after warm-up and
 * reported as the median of repeats; the result is one JSON-ready object.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { buildAutoencoderNetwork } from '../../src/model/architecture.ts';
import type { Autoencoder } from '../../src/model/autoencoder.ts';
import { initBackend } from '../../src/model/backend.ts';
import { resolveModelConfig } from '../../src/model/config.ts';
import { FlatAdam } from '../../src/model/flat-adam.ts';
import { compileFusedForward, fitEpoch } from '../../src/model/fused-lstm-forward.ts';
import { defaultLstmImplementation, type LstmImplementation } from '../../src/model/lstm.ts';
import { trainAutoencoder } from '../../src/model/train.ts';
import { type KerasReport, runKerasBench } from './keras-runner.ts';

/** One network shape to measure. */
export interface BenchModelConfig {
  name: string;
  windowSize: number;
  channels: number;
  /** Units of the one LSTM layer on each side. */
  units: number;
  codeSize: number;
}

/** The two configurations of issue 10: the seed design and a wider one. */
export const DEFAULT_BENCH_CONFIGS: readonly BenchModelConfig[] = [
  { name: 'w32-c1-u32', windowSize: 32, channels: 1, units: 32, codeSize: 16 },
  { name: 'w64-c8-u64', windowSize: 64, channels: 8, units: 64, codeSize: 32 },
];

/** What to run; every field has a default. */
export interface ModelBenchOptions {
  configs?: readonly BenchModelConfig[];
  /** Windows per inference call (and per timed repeat). */
  inferenceBatch?: number;
  inferenceRepeats?: number;
  trainWindows?: number;
  batchSize?: number;
  trainEpochs?: number;
  /** LSTM implementations to time; default both. */
  implementations?: readonly LstmImplementation[];
  /** Run the Keras side (default true). */
  keras?: boolean;
  /** Progress lines (stderr in the CLI). */
  log?: (message: string) => void;
}

/** Timings of one implementation on one configuration. */
export interface ImplementationTimings {
  /** What was timed: predict/fit, or the compiled fused forward the project scores and trains with. */
  path: string;
  /** Network forward pass (`predict` on one batch), windows per second. */
  inferenceWindowsPerSec: number;
  inferenceBatchMs: number;
  /** `Autoencoder.scoreData`: normalise, forward, errors, result objects. Default implementation only. */
  scoreWindowsPerSec?: number;
  /** One `fit` epoch over `trainWindows` windows, Adam on MSE. */
  trainEpochMs: number;
  /** The fastest repeat of each (the medians above are what the ratios use). */
  best: { inferenceWindowsPerSec: number; trainEpochMs: number };
}

/** The report `tsad bench model --json` prints. */
export interface ModelBenchReport {
  benchmark: 'model';
  date: string;
  /** `loadAverage`: the 1-minute load average when the run started and ended (timings move with it). */
  host: {
    cpus: number;
    cpuModel: string;
    node: string;
    loadAverage: { start: number; end: number };
  };
  backend: string;
  tensorflowVersion: string | null;
  tfjsVersion: string;
  env: Record<string, string | null>;
  options: Required<Omit<ModelBenchOptions, 'log' | 'configs'>>;
  defaultImplementation: LstmImplementation;
  keras: {
    available: boolean;
    reason: string | null;
    tensorflowVersion: string | null;
    kerasVersion: string | null;
  };
  results: Array<{
    config: BenchModelConfig;
    tsad: Partial<Record<LstmImplementation, ImplementationTimings>>;
    keras: {
      inferenceWindowsPerSec: number;
      inferenceBatchMs: number;
      trainEpochMs: number;
    } | null;
    /**
     * tsad over Keras with the default implementation, >= 1 means tsad is at
     * least as fast: windows/s ratio for inference, inverse time ratio for training.
     */
    ratios: { inference: number | null; score: number | null; training: number | null };
    /** The same ratios from the fastest repeat of each side (less sensitive to a busy machine). */
    ratiosBest: { inference: number | null; training: number | null };
  }>;
}

/** Runs the benchmark and returns its report; see the module comment. */
export async function runModelBench(options: ModelBenchOptions = {}): Promise<ModelBenchReport> {
  const loadAtStart = os.loadavg()[0] ?? 0;
  const info = await initBackend();
  const log = options.log ?? (() => {});
  const configs = options.configs ?? DEFAULT_BENCH_CONFIGS;
  const opts = {
    inferenceBatch: options.inferenceBatch ?? 4096,
    inferenceRepeats: options.inferenceRepeats ?? 5,
    trainWindows: options.trainWindows ?? 512,
    batchSize: options.batchSize ?? 64,
    trainEpochs: options.trainEpochs ?? 3,
    implementations: options.implementations ?? (['layers', 'fused'] as LstmImplementation[]),
    keras: options.keras ?? true,
  };
  const defaultImplementation = defaultLstmImplementation();

  let keras: KerasReport | null = null;
  let kerasReason: string | null = opts.keras ? null : 'disabled by --no-keras';
  if (opts.keras) {
    log('keras: preparing the Python environment and timing the same models');
    const outcome = await runKerasBench({ configs, ...opts, log });
    if (outcome.ok) keras = outcome.report;
    else kerasReason = outcome.reason;
  }

  const results: ModelBenchReport['results'] = [];
  for (const config of configs) {
    const tsad: Partial<Record<LstmImplementation, ImplementationTimings>> = {};
    for (const implementation of opts.implementations) {
      log(`tsad: ${config.name} ${implementation}`);
      tsad[implementation] = await timeImplementation(config, implementation, opts);
    }
    const fromDefault = tsad[defaultImplementation];
    if (fromDefault !== undefined) {
      log(`tsad: ${config.name} scoreData (${defaultImplementation})`);
      fromDefault.scoreWindowsPerSec = await timeScoring(config, opts);
    }
    const k = keras?.results.find((r) => r.name === config.name) ?? null;
    const kerasTimings =
      k === null
        ? null
        : {
            inferenceWindowsPerSec: k.inferenceWindowsPerSec,
            inferenceBatchMs: k.inferenceBatchMs,
            trainEpochMs: k.trainEpochMs,
            best: k.best,
          };
    results.push({
      config,
      tsad,
      keras: kerasTimings,
      ratios: {
        inference:
          kerasTimings && fromDefault
            ? round(fromDefault.inferenceWindowsPerSec / kerasTimings.inferenceWindowsPerSec)
            : null,
        score:
          kerasTimings && fromDefault?.scoreWindowsPerSec !== undefined
            ? round(fromDefault.scoreWindowsPerSec / kerasTimings.inferenceWindowsPerSec)
            : null,
        training:
          kerasTimings && fromDefault
            ? round(kerasTimings.trainEpochMs / fromDefault.trainEpochMs)
            : null,
      },
      ratiosBest: {
        inference:
          kerasTimings && fromDefault
            ? round(
                fromDefault.best.inferenceWindowsPerSec / kerasTimings.best.inferenceWindowsPerSec,
              )
            : null,
        training:
          kerasTimings && fromDefault
            ? round(kerasTimings.best.trainEpochMs / fromDefault.best.trainEpochMs)
            : null,
      },
    });
  }

  return {
    benchmark: 'model',
    date: new Date().toISOString(),
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadAverage: { start: round(loadAtStart), end: round(os.loadavg()[0] ?? 0) },
    },
    backend: info.backend,
    tensorflowVersion: info.tensorflowVersion,
    tfjsVersion: info.tfjsVersion,
    env: Object.fromEntries(
      [
        'TF_ENABLE_ONEDNN_OPTS',
        'TF_CPU_ALLOCATOR_USE_BFC',
        'TF_NUM_INTRAOP_THREADS',
        'TF_NUM_INTEROP_THREADS',
        'OMP_NUM_THREADS',
      ].map((name) => [name, process.env[name] ?? null]),
    ),
    options: opts,
    defaultImplementation,
    keras: {
      available: keras !== null,
      reason: kerasReason,
      tensorflowVersion: keras?.tensorflowVersion ?? null,
      kerasVersion: keras?.kerasVersion ?? null,
    },
    results,
  };
}

/** Untimed inference calls before the timed ones; keras_bench.py makes two as well. */
const INFERENCE_WARMUP = 2;

type ResolvedOptions = {
  inferenceBatch: number;
  inferenceRepeats: number;
  trainWindows: number;
  batchSize: number;
  trainEpochs: number;
};

function modelConfig(config: BenchModelConfig, batchSize: number) {
  return resolveModelConfig({
    windowSize: config.windowSize,
    hiddenUnits: [config.units],
    codeSize: config.codeSize,
    batchSize,
  });
}

async function timeImplementation(
  config: BenchModelConfig,
  implementation: LstmImplementation,
  opts: ResolvedOptions,
): Promise<ImplementationTimings> {
  const cfg = modelConfig(config, opts.batchSize);
  const network = buildAutoencoderNetwork(cfg, config.channels, implementation);
  const optimizer = tf.train.adam(cfg.learningRate);
  network.compile({ optimizer, loss: 'meanSquaredError' });
  const x = tf.randomNormal(
    [opts.inferenceBatch, config.windowSize, config.channels],
    0,
    1,
    'float32',
    1,
  );
  const train = tf.randomNormal(
    [opts.trainWindows, config.windowSize, config.channels],
    0,
    1,
    'float32',
    2,
  );
  // The fused implementation is timed on the path the project runs it on:
  // Autoencoder scoring and trainAutoencoder use the compiled forward (and
  // fitEpoch with FlatAdam), not predict and fit.
  const forward = implementation === 'fused' ? compileFusedForward(network) : null;
  const flatAdam =
    forward === null ? null : new FlatAdam(forward.variables, { learningRate: cfg.learningRate });
  try {
    const predictOnce = async (): Promise<void> => {
      const y = forward
        ? forward(x as tf.Tensor3D)
        : (network.predict(x, { batchSize: opts.inferenceBatch }) as tf.Tensor);
      await y.data();
      y.dispose();
    };
    // Two warm-up calls, as keras_bench.py gives predict: the allocator's pool
    // grows over the first large calls.
    const inference = await timeRepeats(predictOnce, INFERENCE_WARMUP, opts.inferenceRepeats);
    const fitOnce = async (): Promise<void> => {
      if (forward && flatAdam) {
        await fitEpoch(forward, flatAdam, train as tf.Tensor3D, opts.batchSize);
        return;
      }
      await network.fit(train, train, {
        epochs: 1,
        batchSize: opts.batchSize,
        shuffle: false,
        verbose: 0,
      });
    };
    const training = await timeRepeats(fitOnce, 1, opts.trainEpochs);
    return {
      path: forward ? 'compileFusedForward + fitEpoch' : 'predict + fit',
      inferenceWindowsPerSec: round(opts.inferenceBatch / (inference.median / 1000)),
      inferenceBatchMs: round(inference.median),
      trainEpochMs: round(training.median),
      best: {
        inferenceWindowsPerSec: round(opts.inferenceBatch / (inference.best / 1000)),
        trainEpochMs: round(training.best),
      },
    };
  } finally {
    tf.dispose([x, train]);
    optimizer.dispose();
    flatAdam?.dispose();
    network.dispose();
  }
}

/** Times the scoring path the stream uses, on a model trained for one epoch. */
async function timeScoring(config: BenchModelConfig, opts: ResolvedOptions): Promise<number> {
  const length = config.windowSize * config.channels;
  const windows = (n: number, seed: number): Float32Array[] => {
    let state = seed;
    return Array.from({ length: n }, () =>
      Float32Array.from({ length }, () => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state / 2 ** 31;
      }),
    );
  };
  const channels = Array.from({ length: config.channels }, (_, i) => `c${i}`);
  let model: Autoencoder | undefined;
  try {
    model = await trainAutoencoder(
      windows(opts.trainWindows, 1),
      { ...modelConfig(config, opts.batchSize), maxEpochs: 1 },
      { channels },
    );
    const batch = windows(opts.inferenceBatch, 2);
    const scorer = model;
    const { median } = await timeRepeats(
      async () => {
        await scorer.scoreData(batch);
      },
      INFERENCE_WARMUP,
      opts.inferenceRepeats,
    );
    return round(opts.inferenceBatch / (median / 1000));
  } finally {
    model?.dispose();
  }
}

async function timeRepeats(
  run: () => Promise<void>,
  warmup: number,
  repeats: number,
): Promise<{ median: number; best: number }> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const mid = times.length / 2;
  const median =
    times.length % 2 === 1
      ? (times[Math.floor(mid)] as number)
      : ((times[mid - 1] as number) + (times[mid] as number)) / 2;
  return { median, best: times[0] as number };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
