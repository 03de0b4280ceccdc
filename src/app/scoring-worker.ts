/**
 * The scoring worker thread. tfjs-node runs its kernels synchronously on the
 * calling thread, so scoring on the main thread stops the Kafka consumer, the
 * decoder and the windowing for as long as each batch takes. Here the models
 * score in their own thread while the main event loop keeps feeding the
 * pipeline. Started by createScoringWorker (worker-scorer.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isTsadError } from '../errors.ts';
import type { Autoencoder } from '../model/autoencoder.ts';
import { initBackend } from '../model/backend.ts';
import { loadAutoencoder } from '../model/load-autoencoder.ts';
import type { ScoringRequest, ScoringResponse } from './worker-scorer.ts';

const { backend } = workerData as { backend: 'tensorflow' | 'wasm' | 'cpu' };
const port = parentPort!;
const models = new Map<string, Autoencoder>();
const ready = initBackend({ prefer: backend, warn: () => {} });

const post = (response: ScoringResponse, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(response, transfer);

const failure = (id: number, error: unknown): ScoringResponse => ({
  type: 'error',
  id,
  code: isTsadError(error) ? error.code : 'TSAD_ERR_INTERNAL',
  retriable: isTsadError(error) ? error.retriable : true,
  message: error instanceof Error ? error.message : String(error),
});

async function handle(request: ScoringRequest): Promise<void> {
  await ready;
  if (request.type === 'load') {
    const model = await loadAutoencoder(request.dir);
    models.set(request.key, model);
    post({ type: 'loaded', id: request.id });
    return;
  }
  if (request.type === 'dispose') {
    models.get(request.key)?.dispose();
    models.delete(request.key);
    return;
  }
  const model = models.get(request.key);
  if (model === undefined) throw new Error(`model ${request.key} is not loaded in the worker`);
  // Scored and answered as packed typed arrays: one structured clone of many small objects costs more.
  const { score, perChannel, perStep, reconstruction } = await model.scorePacked(request.data, {
    reconstruction: request.reconstruction,
  });
  const buffers = [score.buffer, perChannel.buffer, perStep.buffer] as ArrayBuffer[];
  if (reconstruction) buffers.push(reconstruction.buffer as ArrayBuffer);
  post(
    {
      type: 'scored',
      id: request.id,
      score,
      perChannel,
      perStep,
      ...(reconstruction ? { reconstruction } : {}),
    },
    buffers,
  );
}

// Requests are handled one at a time, in order: the thread has one TensorFlow
// session to run them on anyway, and order keeps a model's load before its scores.
let queue: Promise<void> = Promise.resolve();
port.on('message', (request: ScoringRequest) => {
  queue = queue.then(() =>
    handle(request).catch((error: unknown) => {
      if (request.type !== 'dispose') post(failure(request.id, error));
    }),
  );
});
