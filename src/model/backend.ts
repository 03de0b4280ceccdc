/**
 * TensorFlow.js backend selection. The native backend (`@tensorflow/tfjs-node`,
 * libtensorflow) is the one tsad is built for; the WASM and pure-JS backends
 * are fallbacks that work everywhere but are much slower, so falling back is
 * announced loudly and reported by `tsad doctor`.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { errorMessage } from '../errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** The backend tfjs runs on now. */
  backend: BackendName;
  /** libtensorflow's version when the native backend is in use. */
  tensorflowVersion: string | null;
  tfjsVersion: string;
  /** Why a fallback is in use (undefined on the native backend). */
  fallbackReason?: string;
}

export interface InitBackendOptions {
  /** Which backend to use; `auto` tries native, then WASM, then pure JS. */
  prefer?: 'auto' | BackendName;
  /** Called once with a warning when a fallback backend is chosen. */
  warn?: (message: string) => void;
}

const require = createRequire(import.meta.url);
let current: Promise<BackendInfo> | undefined;

/**
 * Loads and selects a backend once per process; later calls return the same
 * result. Set `prefer` to force one (tests of the fallback path do).
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  current ??= selectBackend(options.prefer ?? 'auto', options.warn ?? defaultWarn);
  return current;
}

function defaultWarn(message: string): void {
  process.stderr.write(`\n*** WARNING: ${message}\n\n`);
}

async function selectBackend(
  prefer: 'auto' | BackendName,
  warn: (message: string) => void,
): Promise<BackendInfo> {
  const reasons: string[] = [];
  if (prefer === 'auto' || prefer === 'tensorflow') {
    try {
      return await useNative();
    } catch (error) {
      reasons.push(`native TensorFlow unavailable: ${firstLine(error)}`);
    }
  }
  if (prefer !== 'cpu') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return fallback('wasm', reasons, warn);
      }
      reasons.push('WASM backend failed to initialise');
    } catch (error) {
      reasons.push(`WASM backend unavailable: ${firstLine(error)}`);
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return fallback('cpu', reasons, warn);
}

async function useNative(): Promise<BackendInfo> {
  // oneDNN's per-op setup costs more than it saves on the small LSTM kernels
  // tsad runs (measured about 2x slower inference), and TF's info logs are
  // noise on stdout. Both must be set before libtensorflow loads.
  process.env['TF_ENABLE_ONEDNN_OPTS'] ??= '0';
  process.env['TF_CPP_MIN_LOG_LEVEL'] ??= '2';
  // TensorFlow's default CPU allocator is malloc, which hands the large
  // activation buffers of a batch (tens of MB each) back to the kernel when
  // they are freed, so every batch page-faults them in again: 230,000 minor
  // faults and 0.4 s of system time per 4096 windows of the 64-step model.
  // The BFC allocator keeps freed memory for the next batch.
  process.env['TF_CPU_ALLOCATOR_USE_BFC'] ??= 'true';
  const node = require('@tensorflow/tfjs-node') as typeof tf;
  if (!(await node.setBackend('tensorflow'))) throw new Error('setBackend("tensorflow") failed');
  await node.ready();
  const binding = (node.backend() as unknown as { binding: { TF_Version: string } }).binding;
  return {
    backend: 'tensorflow',
    tensorflowVersion: binding.TF_Version,
    tfjsVersion: tf.version.tfjs,
  };
}

function fallback(
  backend: BackendName,
  reasons: string[],
  warn: (message: string) => void,
): BackendInfo {
  const reason = reasons.join('; ') || `backend ${backend} was requested`;
  if (reasons.length > 0) {
    warn(
      `tsad is running on the ${backend.toUpperCase()} fallback backend, which is many times ` +
        `slower than native TensorFlow. Reason: ${reason}. Fix: re-run ` +
        '`node scripts/install-tensorflow.mjs`, then `npx tsad doctor`.',
    );
  }
  return { backend, tensorflowVersion: null, tfjsVersion: tf.version.tfjs, fallbackReason: reason };
}

function firstLine(error: unknown): string {
  const message = errorMessage(error);
  return message.split('\n')[0] ?? message;
}
