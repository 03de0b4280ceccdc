/**
 * The scoring worker thread. tfjs-node runs its kernels synchronously on the
 * calling thread, so scoring on the main thread stops the Kafka consumer, the
 * decoder and the windowing for as long as each batch takes. Here the models
 * score in their own thread while the main event loop keeps feeding the
 * pipeline. Started by createScoringWorker (worker-scorer.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage, isTsadError } from '../errors.ts';
import type { Autoencoder, PackedScores } from '../model/autoencoder.ts';
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
  message: errorMessage(error),
});

/** Most windows scored in one merged call: bounds the wait of the first request in it. */
const MAX_MERGED_WINDOWS = 1024;

type ScoreRequest = Extract<ScoringRequest, { type: 'score' }>;

/** Loads or disposes a model (score requests go to `score`). */
async function handle(request: Exclude<ScoringRequest, ScoreRequest>): Promise<void> {
  if (request.type === 'load') {
    const model = await loadAutoencoder(request.dir);
    models.set(request.key, model);
    post({ type: 'loaded', id: request.id });
    return;
  }
  models.get(request.key)?.dispose();
  models.delete(request.key);
}

/**
 * Scores several requests of one model in one call and answers each with its
 * own part. A call costs a fixed overhead plus a cost per window that falls
 * with the batch size, so when requests queue up here (the model is behind)
 * merging them lets the worker catch up; when it keeps up each request comes
 * alone and is scored as it is.
 */
async function score(requests: readonly ScoreRequest[]): Promise<void> {
  const first = requests[0]!;
  const model = models.get(first.key);
  if (model === undefined) throw new Error(`model ${first.key} is not loaded in the worker`);
  let data = first.data;
  if (requests.length > 1) {
    data = new Float32Array(requests.reduce((sum, r) => sum + r.data.length, 0));
    let at = 0;
    for (const r of requests) {
      data.set(r.data, at);
      at += r.data.length;
    }
  }
  // Scored and answered as packed typed arrays: one structured clone of many small objects costs more.
  const packed = await model.scorePacked(data, { reconstruction: first.reconstruction });
  if (requests.length === 1) {
    answer(first.id, packed, 1);
    return;
  }
  const steps = model.windowSize;
  const channels = model.channels.length;
  let offset = 0;
  for (const r of requests) {
    const end = offset + r.count;
    answer(
      r.id,
      {
        score: packed.score.slice(offset, end),
        perChannel: packed.perChannel.slice(offset * channels, end * channels),
        perStep: packed.perStep.slice(offset * steps, end * steps),
        ...(packed.reconstruction
          ? {
              reconstruction: packed.reconstruction.slice(
                offset * steps * channels,
                end * steps * channels,
              ),
            }
          : {}),
      },
      r === first ? requests.length : 0,
    );
    offset = end;
  }
}

/** Posts one request's scores; `merged` is the number of requests in its call, on the first of them only. */
function answer(id: number, packed: PackedScores, merged: number): void {
  const { score, perChannel, perStep, reconstruction } = packed;
  const buffers = [score.buffer, perChannel.buffer, perStep.buffer] as ArrayBuffer[];
  if (reconstruction) buffers.push(reconstruction.buffer as ArrayBuffer);
  post(
    {
      type: 'scored',
      id,
      merged,
      score,
      perChannel,
      perStep,
      ...(reconstruction ? { reconstruction } : {}),
    },
    buffers,
  );
}

// Requests are handled in order, one call at a time: the thread has one
// TensorFlow session to run them on anyway, and order keeps a model's load
// before its scores. Requests that arrive while a call runs wait in the inbox;
// consecutive score requests of one model there are merged into one call.
const inbox: ScoringRequest[] = [];
let pumping = false;

async function pump(): Promise<void> {
  pumping = true;
  while (inbox.length > 0) {
    const request = inbox.shift()!;
    const group: ScoringRequest[] = [request];
    if (request.type === 'score') {
      let windows = request.count;
      for (;;) {
        const next = inbox[0];
        if (
          next?.type !== 'score' ||
          next.key !== request.key ||
          next.reconstruction !== request.reconstruction ||
          windows + next.count > MAX_MERGED_WINDOWS
        ) {
          break;
        }
        windows += next.count;
        group.push(inbox.shift()!);
      }
    }
    try {
      await ready;
      if (request.type === 'score') await score(group as ScoreRequest[]);
      else await handle(request);
    } catch (error) {
      for (const r of group) if (r.type !== 'dispose') post(failure(r.id, error));
    }
  }
  pumping = false;
}

port.on('message', (request: ScoringRequest) => {
  inbox.push(request);
  // After the messages already waiting are delivered, so they can be merged.
  if (!pumping) {
    pumping = true;
    setImmediate(() => void pump());
  }
});
