/**
 * The training worker thread: trains an autoencoder on the windows it was
 * given, writes the model directory and reports progress, so that the main
 * thread's event loop stays free for scoring. Started by trainInWorker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage, isTsadError } from '../errors.ts';
import { initBackend } from './backend.ts';
import { trainAutoencoder } from './train.ts';
import type { TrainingJob, WorkerMessage } from './train-in-worker.ts';
import { windowsFromSeries } from './windows.ts';

const job = (workerData as { job: TrainingJob }).job;
const post = (message: WorkerMessage): void => parentPort!.postMessage(message);

try {
  await initBackend({ prefer: job.backend, warn: () => {} });
  const windows = windowsFromSeries(
    job.data,
    job.channels.length,
    job.config.windowSize,
    job.config.windowSize,
  );
  const model = await trainAutoencoder(windows, job.config, {
    channels: job.channels,
    onProgress: (progress) => post({ type: 'progress', progress }),
  });
  await model.save(job.outDir);
  post({ type: 'done', version: model.version });
  model.dispose();
} catch (error) {
  post({
    type: 'error',
    code: isTsadError(error) ? error.code : 'TSAD_ERR_MODEL_TRAINING_FAILED',
    message: errorMessage(error),
  });
}
