/**
 * Runs bench/model/keras_bench.py in a private Python virtual environment
 * (created on first use under ~/.cache/tsad/bench-venv, with tensorflow-cpu
 * from PyPI; wheels in ~/.cache/tsad/wheels are used first when present), so
 * the model benchmark can put Keras's numbers beside tsad's from the same run
 * on the same machine. Any failure is returned as a reason, never thrown: the
 * benchmark then reports Keras as null.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The TensorFlow release that matches tfjs-node's libtensorflow. */
export const KERAS_TENSORFLOW = 'tensorflow-cpu==2.21.0';

/** What keras_bench.py prints. */
export interface KerasReport {
  tensorflowVersion: string;
  kerasVersion: string | null;
  results: Array<{
    name: string;
    params: number;
    inferenceWindowsPerSec: number;
    inferenceBatchMs: number;
    trainEpochMs: number;
    best: { inferenceWindowsPerSec: number; trainEpochMs: number };
  }>;
}

/** Inputs of keras_bench.py (the configs and sizes of the tsad side). */
export interface KerasBenchInput {
  configs: readonly {
    name: string;
    windowSize: number;
    channels: number;
    units: number;
    codeSize: number;
  }[];
  inferenceBatch: number;
  inferenceRepeats: number;
  trainWindows: number;
  batchSize: number;
  trainEpochs: number;
  log?: (message: string) => void;
}

// Keras runs with the environment the process started with: backend.ts later
// sets TF_ENABLE_ONEDNN_OPTS=0 for tfjs-node, which must not leak into Keras's
// defaults.
const STARTUP_ENV = { ...process.env };

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'keras_bench.py');

/** Prepares the environment and runs the Keras side; resolves to its report or a reason. */
export async function runKerasBench(
  input: KerasBenchInput,
): Promise<{ ok: true; report: KerasReport } | { ok: false; reason: string }> {
  const cache = path.join(os.homedir(), '.cache', 'tsad');
  const venv = process.env['TSAD_BENCH_VENV'] ?? path.join(cache, 'bench-venv');
  const python = path.join(venv, 'bin', 'python');
  const log = input.log ?? (() => {});
  if (!existsSync(python)) {
    log(`keras: creating ${venv}`);
    const made = await run('python3', ['-m', 'venv', venv], 120_000);
    if (made.code !== 0)
      return { ok: false, reason: `python3 -m venv failed: ${tail(made.stderr)}` };
  }
  const probe = await run(python, ['-c', 'import tensorflow'], 120_000);
  if (probe.code !== 0) {
    log(`keras: installing ${KERAS_TENSORFLOW} into ${venv} (one-off)`);
    const wheels = path.join(cache, 'wheels');
    const args = ['-m', 'pip', 'install', '--quiet', KERAS_TENSORFLOW];
    if (existsSync(wheels)) args.push('--find-links', wheels);
    const installed = await run(python, args, 20 * 60_000);
    if (installed.code !== 0) {
      return {
        ok: false,
        reason: `pip install ${KERAS_TENSORFLOW} failed: ${tail(installed.stderr)}`,
      };
    }
  }
  const { log: _log, ...options } = input;
  const bench = await run(python, [SCRIPT, JSON.stringify(options)], 30 * 60_000);
  if (bench.code !== 0)
    return { ok: false, reason: `keras_bench.py failed: ${tail(bench.stderr)}` };
  const last = bench.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return { ok: true, report: JSON.parse(last) as KerasReport };
  } catch {
    return { ok: false, reason: `keras_bench.py printed no JSON: ${tail(bench.stdout)}` };
  }
}

function run(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      env: { ...STARTUP_ENV, TF_CPP_MIN_LOG_LEVEL: '2' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error) => resolve({ code: -1, stdout, stderr: error.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
}
