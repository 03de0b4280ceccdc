/**
 * Training in a worker thread. TensorFlow.js keeps the thread that trains busy
 * for seconds at a time; the daemon must keep scoring meanwhile, so retraining
 * runs in a worker that writes a model directory, which this thread then
 * loads (and checks) like any other model.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { SensorWindow } from '../detector/types.ts';
import { type ErrorCode, TsadError } from '../errors.ts';
import type { Autoencoder } from './autoencoder.ts';
import type { BackendName } from './backend.ts';
import { type ModelConfig, resolveModelConfig } from './config.ts';
import { loadAutoencoder } from './load-autoencoder.ts';
import type { TrainingProgress } from './train.ts';

/** What the worker is asked to do (its workerData). */
export interface TrainingJob {
  /** All windows back to back, each `windowSize * channels` values. */
  data: Float32Array;
  channels: string[];
  config: ModelConfig;
  outDir: string;
  backend: BackendName;
}

/** Messages from the worker. */
export type WorkerMessage =
  | { type: 'progress'; progress: TrainingProgress }
  | { type: 'done'; version: string }
  | { type: 'error'; code: ErrorCode; message: string };

/** Options of trainInWorker. */
export interface TrainInWorkerOptions {
  /** Channel names; required for raw multichannel windows, as for trainAutoencoder. */
  channels?: readonly string[];
  onProgress?: (progress: TrainingProgress) => void;
  /** Where the worker writes the model; a temporary directory (removed after loading) if unset. */
  outDir?: string;
  /** Terminates the worker; the promise rejects with the abort reason. */
  signal?: AbortSignal;
}

const BOOTSTRAP = new URL('./training-worker-bootstrap.mjs', import.meta.url);
const ENTRY = new URL('./training-worker.ts', import.meta.url).href;

/**
 * Trains an autoencoder in a worker thread on the same backend as this
 * thread, then loads the model it wrote. Same windows, config and errors as
 * trainAutoencoder; progress events arrive on this thread's event loop.
 */
export async function trainInWorker(
  windows: readonly Float32Array[] | readonly SensorWindow[],
  config: Partial<ModelConfig> = {},
  options: TrainInWorkerOptions = {},
): Promise<Autoencoder> {
  const cfg = resolveModelConfig(config);
  const first = windows[0];
  if (first === undefined)
    throw new TsadError('TSAD_ERR_INPUT_INVALID', 'training needs at least one window');
  const data = windows.map((w) => (w instanceof Float32Array ? w : w.data));
  const channels = [
    ...(options.channels ??
      (first instanceof Float32Array
        ? first.length === cfg.windowSize
          ? ['value']
          : []
        : first.channels)),
  ];
  const length = cfg.windowSize * channels.length;
  if (channels.length === 0 || data.some((w) => w.length !== length)) {
    throw new TsadError(
      'TSAD_ERR_INPUT_INVALID',
      `every window must hold ${cfg.windowSize} steps of the channel(s) [${channels.join(', ')}]` +
        (channels.length === 0 ? '; pass the channel names for multichannel windows' : ''),
    );
  }
  const packed = new Float32Array(data.length * length);
  data.forEach((w, i) => {
    packed.set(w, i * length);
  });
  const tempDir =
    options.outDir === undefined
      ? await fs.mkdtemp(path.join(os.tmpdir(), 'tsad-train-'))
      : undefined;
  const outDir = options.outDir ?? path.join(tempDir!, 'model');
  const job: TrainingJob = {
    data: packed,
    channels,
    config: cfg,
    outDir,
    backend: tf.getBackend() as BackendName,
  };
  try {
    await runWorker(job, options);
    return await loadAutoencoder(outDir, { windowSize: cfg.windowSize, channels });
  } finally {
    if (tempDir !== undefined) await fs.rm(tempDir, { recursive: true, force: true });
  }
}

function runWorker(job: TrainingJob, options: TrainInWorkerOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason);
      return;
    }
    const worker = new Worker(BOOTSTRAP, {
      workerData: { entry: ENTRY, job },
      transferList: [job.data.buffer as ArrayBuffer],
    });
    let settled = false;
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = (): void => finish(options.signal?.reason ?? new Error('training aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') options.onProgress?.(message.progress);
      else if (message.type === 'done') finish();
      else finish(new TsadError(message.code, message.message));
    });
    worker.on('error', (error) =>
      finish(
        new TsadError(
          'TSAD_ERR_MODEL_TRAINING_FAILED',
          `training worker failed: ${error.message}`,
          {
            cause: error,
          },
        ),
      ),
    );
    worker.on('exit', (code) =>
      finish(
        new TsadError(
          'TSAD_ERR_MODEL_TRAINING_FAILED',
          `training worker exited (code ${code}) before finishing`,
        ),
      ),
    );
  });
}
