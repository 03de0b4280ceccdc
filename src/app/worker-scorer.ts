/**
 * Scoring off the main thread. tfjs-node executes kernels synchronously on
 * the thread that calls them, so a model scoring on the main thread blocks
 * the Kafka consumer, the decoder and the windowing for the length of every
 * batch: the pipeline then runs at 1 / (model time + everything else). With
 * the model in a worker thread the two overlap and the pipeline runs at
 * about the rate of the slower of them.
 *
 * One worker serves the daemon. `adopt` wraps a savable model (an
 * Autoencoder) in a SwitchableModel whose `scoreBatch` posts the windows to
 * the worker: the model is saved to a temporary directory and loaded there
 * once, and scores come back as packed typed arrays. The wrapper keeps the
 * model's other members (metadata, save) pointing at the original, which
 * stays loaded on this thread for retraining's validation and the registry.
 * Models that cannot be saved (test doubles) are returned unchanged, and if
 * the worker cannot load a model that model scores on this thread.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SensorWindow, WindowScore, WindowScorer } from '../detector/types.ts';
import { type ErrorCode, TsadError } from '../errors.ts';
import { unpackScores } from '../model/autoencoder.ts';
import { initBackend } from '../model/backend.ts';
import type { SwitchableModel } from './model-switch.ts';

/** Requests to the scoring worker. */
export type ScoringRequest =
  | { type: 'load'; id: number; key: string; dir: string }
  | {
      type: 'score';
      id: number;
      key: string;
      count: number;
      data: Float32Array;
      reconstruction: boolean;
    }
  | { type: 'dispose'; id: number; key: string };

/** Answers of the scoring worker. */
export type ScoringResponse =
  | { type: 'loaded'; id: number }
  | {
      type: 'scored';
      id: number;
      /** Requests scored in the same call as this one, on the first of them; 0 on the others. */
      merged: number;
      score: Float32Array;
      perChannel: Float32Array;
      perStep: Float32Array;
      reconstruction?: Float32Array;
    }
  | { type: 'error'; id: number; code: ErrorCode; retriable: boolean; message: string };

/** The daemon's scoring worker. */
export interface ScoringWorker {
  /** A model that scores in the worker (or `model` itself when it cannot be saved). */
  adopt(model: SwitchableModel): SwitchableModel;
  /** Loads an adopted model into the worker now rather than at its first batch. */
  warm(model: SwitchableModel): Promise<void>;
  /** Stops the worker; scoring calls still waiting reject. */
  close(): Promise<void>;
  /**
   * Scoring requests answered by the worker and the model calls they took:
   * fewer calls than requests when requests queued up and were merged.
   */
  stats(): { requests: number; calls: number };
}

/** What a model needs for the worker to load a copy of it. */
interface SavableScorer extends SwitchableModel {
  save(dir: string): Promise<void>;
}

const BOOTSTRAP = new URL('../model/training-worker-bootstrap.mjs', import.meta.url);
const ENTRY = new URL('./scoring-worker.ts', import.meta.url).href;

/**
 * Creates the scoring worker. The thread starts when the first adopted model
 * is first asked to score, on the main thread's tfjs backend (so both score
 * alike). `onFallback` hears of a model the worker could not load.
 */
export function createScoringWorker(
  options: { onFallback?: (version: string, error: unknown) => void } = {},
): ScoringWorker {
  let worker: Worker | undefined;
  const pending = new Map<
    number,
    { resolve(r: ScoringResponse): void; reject(e: unknown): void }
  >();
  let nextId = 1;
  let closed = false;
  let failure: unknown;

  const failAll = (error: unknown) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const counts = { requests: 0, calls: 0 };
  const onMessage = (response: ScoringResponse) => {
    if (response.type === 'scored') {
      counts.requests++;
      if (response.merged > 0) counts.calls++;
    }
    const p = pending.get(response.id);
    if (p === undefined) return;
    pending.delete(response.id);
    if (response.type === 'error') {
      p.reject(
        new TsadError(response.code, `scoring worker: ${response.message}`, {
          retriable: response.retriable,
        }),
      );
    } else {
      p.resolve(response);
    }
  };
  let starting: Promise<Worker> | undefined;
  const thread = () => {
    starting ??= initBackend().then((info) => {
      if (closed) throw new TsadError('TSAD_ERR_INTERNAL', 'scoring worker closed');
      const w = new Worker(BOOTSTRAP, { workerData: { entry: ENTRY, backend: info.backend } });
      // The worker must not keep the process alive once the daemon is done with it.
      w.unref();
      w.on('message', onMessage);
      w.on('error', (error) =>
        failAll(new TsadError('TSAD_ERR_INTERNAL', `scoring worker failed: ${error.message}`)),
      );
      w.on('exit', () => failAll(new TsadError('TSAD_ERR_INTERNAL', 'scoring worker exited')));
      worker = w;
      return w;
    });
    return starting;
  };

  const request = (message: ScoringRequest, transfer: ArrayBuffer[] = []) =>
    new Promise<ScoringResponse>((resolve, reject) => {
      if (closed || failure !== undefined || worker === undefined) {
        reject(failure ?? new TsadError('TSAD_ERR_INTERNAL', 'scoring worker closed'));
        return;
      }
      pending.set(message.id, { resolve, reject });
      worker.postMessage(message, transfer);
    });

  const load = async (model: SavableScorer, key: string): Promise<void> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tsad-score-'));
    try {
      await thread();
      await model.save(path.join(dir, 'model'));
      await request({ type: 'load', id: nextId++, key, dir: path.join(dir, 'model') });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  };

  let models = 0;
  const warmers = new WeakMap<SwitchableModel, () => Promise<void>>();
  return {
    warm: (model) => warmers.get(model)?.() ?? Promise.resolve(),
    adopt(model) {
      if (!isSavable(model)) return model;
      const key = `${model.version}#${++models}`;
      // Until the worker has it (or if it never does) the model scores here.
      let local = true;
      let loading: Promise<void> | undefined;
      // Loaded on first use: a model swapped out before it scores never costs a load.
      const loaded = () => {
        loading ??= load(model, key).then(
          () => {
            local = false;
          },
          (error: unknown) => options.onFallback?.(model.version, error),
        );
        return loading;
      };
      const width = model.channels.length;
      const steps = model.windowSize;
      const scoreInWorker = async (
        windows: readonly SensorWindow[],
        reconstruction: boolean,
      ): Promise<WindowScore[]> => {
        const length = steps * width;
        const data = new Float32Array(windows.length * length);
        for (let i = 0; i < windows.length; i++) {
          const w = windows[i]!;
          if (w.data.length !== length || w.size !== steps) {
            throw new TsadError(
              'TSAD_ERR_INPUT_INVALID',
              `window of sensor ${w.sensor} has ${w.size} steps and ${w.data.length} values; ` +
                `model ${model.version} expects ${steps} steps of ${width} channels`,
            );
          }
          data.set(w.data, i * length);
        }
        const response = await request(
          { type: 'score', id: nextId++, key, count: windows.length, data, reconstruction },
          [data.buffer as ArrayBuffer],
        );
        if (response.type !== 'scored') throw new TsadError('TSAD_ERR_INTERNAL', 'bad answer');
        return unpackScores(response, windows.length, width, steps);
      };
      let disposed = false;
      const adopted: SwitchableModel & SavableScorer & { readonly metadata?: unknown } = {
        version: model.version,
        windowSize: model.windowSize,
        channels: model.channels,
        get metadata() {
          return (model as { metadata?: unknown }).metadata;
        },
        save: (dir) => model.save(dir),
        async scoreBatch(windows, scoreOptions) {
          await loaded();
          if (local || disposed) return model.scoreBatch(windows, scoreOptions);
          return scoreInWorker(windows, scoreOptions?.reconstruction === true);
        },
        dispose() {
          if (disposed) return;
          disposed = true;
          model.dispose();
          void loading?.then(() => {
            if (!local && !closed) worker?.postMessage({ type: 'dispose', id: nextId++, key });
          });
        },
      };
      warmers.set(adopted, loaded);
      return adopted;
    },
    stats: () => ({ ...counts }),
    async close() {
      if (closed) return;
      closed = true;
      failAll(new TsadError('TSAD_ERR_INTERNAL', 'scoring worker closed'));
      await worker?.terminate();
    },
  };
}

function isSavable(model: WindowScorer): model is SavableScorer {
  return typeof (model as { save?: unknown }).save === 'function';
}
