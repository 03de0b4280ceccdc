/**
 * `tsad bench memory`: the memory of a whole daemon with many sensors. Runs
 * `tsad run` in embedded mode (the built-in simulator, no Kafka) as a child
 * process with `sensors` simulated sensors of one channel at one reading a
 * second, replayed as fast as the daemon takes them, and samples the child's
 * `/proc/<pid>/status` (RSS, its high-water mark, anonymous RSS) and its
 * metrics endpoint (JS heap, external memory, windows scored) every
 * `sampleMs` for `seconds`, then stops it with SIGINT. Unlike the memory probe
 * (memory-probe.ts: the per-sensor state alone) this is everything an
 * operator's `ps` shows: Node, tfjs-node, the scoring and training workers,
 * the heap's slack and the windows in flight.
 *
 * The child gets this process's environment (so `MALLOC_ARENA_MAX=2` and
 * `TSAD_*` settings apply), minus `TSAD_KAFKA_BROKERS` and `TSAD_CONFIG`; a
 * config file is passed with `config`, V8 flags with `nodeFlags`. Linux only
 * (it reads `/proc`). docs/performance.md has the figures and the commands.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/harness/ports.ts';

/** What `tsad bench memory` asks for. */
export interface DaemonMemoryOptions {
  sensors: number;
  seconds: number;
  sampleMs: number;
  /** A YAML config file for the daemon (`--config`). */
  config?: string;
  /** Node flags for the daemon, e.g. `['--optimize-for-size']`. */
  nodeFlags: readonly string[];
  log: (message: string) => void;
}

/** One sample of the daemon. Memory in kB as `/proc` reports it; bytes from the metrics. */
export interface MemorySample {
  seconds: number;
  rssKb: number;
  hwmKb: number;
  rssAnonKb: number;
  heapUsedBytes: number | null;
  externalBytes: number | null;
  windowsScored: number | null;
  /** Trainings finished so far, the cold start's included (whether a peak is a training). */
  trainings: number | null;
}

/** The settled part of a run: from the third sample after the first scored window. */
export interface MemorySummary {
  /** Samples the summary covers (0: the run never settled; the other fields are null). */
  settledSamples: number;
  rssKb: { min: number; max: number } | null;
  peakKb: number;
  heapUsedBytes: { min: number; max: number } | null;
  /** Windows scored per second from the first sample with a scored window to the last. */
  windowsPerSecond: number | null;
  /** Windows scored per sensor by the end (how far into SPOT's warm-up the sensors got). */
  windowsPerSensor: number | null;
}

const BIN = fileURLToPath(new URL('../../bin/tsad.mjs', import.meta.url));

/** Runs the daemon, samples it, stops it, and returns the JSON report. */
export async function runDaemonMemoryBench(options: DaemonMemoryOptions) {
  if (process.platform !== 'linux') throw new Error('tsad bench memory reads /proc: Linux only');
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TSAD_SIMULATOR_SENSORS: String(options.sensors),
    TSAD_SIMULATOR_CHANNELS: 'value',
    TSAD_SIMULATOR_RATE_PER_SECOND: '0',
    TSAD_SIMULATOR_INTERVAL_MS: '1000',
    TSAD_METRICS_HOST: '127.0.0.1',
    TSAD_METRICS_PORT: String(port),
    TSAD_LOG_LEVEL: 'warn',
  };
  delete env['TSAD_KAFKA_BROKERS'];
  delete env['TSAD_CONFIG'];
  const args = [...options.nodeFlags, BIN, 'run'];
  if (options.config !== undefined) args.push('--config', options.config);
  options.log(`memory: ${options.sensors} sensors, ${options.seconds} s: node ${args.join(' ')}`);
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const startedAt = new Date().toISOString();
  const started = performance.now();
  const samples: MemorySample[] = [];
  while (running && performance.now() - started < options.seconds * 1000) {
    await Promise.race([sleep(options.sampleMs), exited]);
    if (!running) break;
    const status = readStatus(child.pid!);
    const metrics = await readMetrics(port);
    const sample: MemorySample = {
      seconds: Math.round((performance.now() - started) / 100) / 10,
      rssKb: status['VmRSS'] ?? 0,
      hwmKb: status['VmHWM'] ?? 0,
      rssAnonKb: status['RssAnon'] ?? 0,
      heapUsedBytes: metrics['nodejs_heap_size_used_bytes'] ?? null,
      externalBytes: metrics['nodejs_external_memory_bytes'] ?? null,
      windowsScored: metrics['tsad_windows_scored_total'] ?? null,
      trainings: metrics['tsad_training_duration_seconds_count'] ?? null,
    };
    samples.push(sample);
    options.log(`  ${JSON.stringify(sample)}`);
  }
  if (!running) {
    throw new Error(`the daemon exited early (code ${await exited}): ${stderr.trim()}`);
  }
  const stopAt = performance.now();
  child.kill('SIGINT');
  const exitCode = await exited;
  return {
    benchmark: 'daemon-memory',
    startedAt,
    machine: { cpus: os.cpus().length, node: process.version, loadAverageEnd: os.loadavg() },
    settings: {
      sensors: options.sensors,
      seconds: options.seconds,
      sampleMs: options.sampleMs,
      config: options.config ?? null,
      nodeFlags: options.nodeFlags,
      mallocArenaMax: process.env['MALLOC_ARENA_MAX'] ?? null,
    },
    summary: summariseMemory(samples, options.sensors),
    stop: {
      exitCode,
      ms: Math.round(performance.now() - stopAt),
      // Why a stop failed (the daemon logs warnings and errors only here).
      ...(exitCode === 0 ? {} : { stderrTail: stderr.trim().split('\n').slice(-5) }),
    },
    samples,
  };
}

/** The settled range of a run's samples (exported for its test). */
export function summariseMemory(samples: readonly MemorySample[], sensors: number): MemorySummary {
  const peakKb = Math.max(0, ...samples.map((s) => s.hwmKb));
  const firstScored = samples.findIndex((s) => (s.windowsScored ?? 0) > 0);
  const settled = firstScored < 0 ? [] : samples.slice(firstScored + 2);
  if (settled.length === 0) {
    return {
      settledSamples: 0,
      rssKb: null,
      peakKb,
      heapUsedBytes: null,
      windowsPerSecond: null,
      windowsPerSensor: null,
    };
  }
  const range = (values: number[]) => ({ min: Math.min(...values), max: Math.max(...values) });
  const heaps = settled.flatMap((s) => (s.heapUsedBytes === null ? [] : [s.heapUsedBytes]));
  const first = samples[firstScored]!;
  const last = settled[settled.length - 1]!;
  const span = last.seconds - first.seconds;
  return {
    settledSamples: settled.length,
    rssKb: range(settled.map((s) => s.rssKb)),
    peakKb,
    heapUsedBytes: heaps.length > 0 ? range(heaps) : null,
    windowsPerSecond:
      span > 0 ? Math.round(((last.windowsScored ?? 0) - (first.windowsScored ?? 0)) / span) : null,
    windowsPerSensor: Math.round(((last.windowsScored ?? 0) / sensors) * 10) / 10,
  };
}

function readStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const match = /^(\w+):\s+(\d+) kB$/.exec(line);
      if (match) out[match[1]!] = Number(match[2]);
    }
  } catch {
    // The child has just exited: the caller sees that next.
  }
  return out;
}

/** The unlabelled samples of the metrics endpoint; empty while it is not up. */
async function readMetrics(port: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    for (const line of (await response.text()).split('\n')) {
      const match = /^([a-z_]+) ([0-9.e+-]+)$/.exec(line);
      if (match) out[match[1]!] = Number(match[2]);
    }
  } catch {
    // Not serving yet (the cold start) or busy: the sample has no metrics.
  }
  return out;
}
