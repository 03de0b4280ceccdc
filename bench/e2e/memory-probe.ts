/**
 * Child process of the end-to-end benchmark's memory phase: how much memory
 * the per-sensor state of the daemon takes for many sensors. It fills the
 * pipeline's sliding-window store and one detector per sensor (the config
 * the environment gives, defaults otherwise, as the daemon builds them:
 * shared frozen settings, the configured `input.maxLatenessMs`, so every
 * sensor's reorder buffer holds what it holds in the daemon at one reading
 * per second) directly, no Kafka and no model, so the figure is the state
 * alone. Runs in a fresh process (with
 * --expose-gc) so the baseline is not the parent's tfjs and Kafka client.
 *
 * The detectors can be measured in three states (`state`):
 *
 * - `steady` (default): every detector past SPOT's warm-up with its peaks
 *   ring as a long-running daemon has it. Teaching 100,000 thresholds that
 *   much (about 25,000 windows each, a tail refit every few dozen) would take
 *   hours, so `templates` detectors are taught `taught` windows of synthetic
 *   float32 scores (chi-square noise, as window errors of Gaussian residuals
 *   are, and a short fault now and then: about 2 % of normal windows become
 *   peaks, as SPOT's 98 % peak level implies), and each sensor gets a copy of
 *   one (`SensorDetector.clone`: own buffers of the same size).
 * - `warm-up`: the same taught just short of nInit, so that after the
 *   probe's own windows every warm-up batch is full but not yet fitted: the
 *   cold start's largest state.
 * - `fresh`: the detectors are created by the registry and judge only the
 *   probe's own windows (`readings` per sensor; the phase this probe measured
 *   before 2026-11-28, which never reaches the end of warm-up).
 *
 * In every state each sensor then judges its windows of the probe's readings
 * through its detector. Usage:
 *
 *   node --expose-gc --import tsx bench/e2e/memory-probe.ts '<json options>'
 *
 * Prints one JSON object: RSS and V8 heap (with typed-array backing stores)
 * after a GC at each stage, and bytes per sensor of each.
 */
import { alertPolicy, thresholdOptions } from '../../src/app/daemon.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import {
  createDetectorRegistry,
  createSensorDetector,
  type DetectorInput,
  type DetectorResult,
  type SensorDetector,
  type ThresholdOptions,
} from '../../src/detector/index.ts';
import { mulberry32 } from '../../src/detector/seeded-random.ts';
import type { SensorWindow, WindowScore } from '../../src/detector/types.ts';
import { createWindowStore } from '../../src/stream/sliding-window.ts';
import { sensorName, sensorValue } from './readings.ts';

/** What the parent asks for. */
export interface MemoryProbeOptions {
  sensors: number;
  windowSize: number;
  /** Readings per sensor in all; at least a window's worth plus the reorder lag, plus 8 judged. */
  readings: number;
  /** Threshold method; default: the config default. */
  thresholdMethod?: ThresholdOptions['method'];
  /** See the module comment; default `steady`. */
  state?: 'steady' | 'warm-up' | 'fresh';
  /** Windows each template detector is taught (default: 26,000 steady, nInit − 1 warm-up). */
  taught?: number;
  /** Distinct template detectors copied to the sensors (default 64). */
  templates?: number;
  /** The reorder allowance; default: the config's `input.maxLatenessMs` (10 s). */
  maxLatenessMs?: number;
}

const INTERVAL_MS = 1000;

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

/** V8 heap plus typed-array backing stores (outside the heap, where SPOT's buffers live). */
function heapMiB(): number {
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.arrayBuffers) / 2 ** 20;
}

function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
}

/** Float32 window errors: mean of four squared normals, and a fault of 40 windows every 5,000. */
function syntheticScores(seed: number): (i: number) => number {
  // Seeded, so every run teaches the same templates.
  const random = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return (i) => {
    let sum = 0;
    for (let k = 0; k < 4; k++) sum += normal() ** 2;
    return Math.fround(sum / 4 + (i % 5000 < 40 && i > 5000 ? 30 : 0));
  };
}

async function main(options: MemoryProbeOptions): Promise<void> {
  const started = performance.now();
  const state = options.state ?? 'steady';
  const flags: Record<string, unknown> = { window: { size: options.windowSize, stride: 1 } };
  if (options.thresholdMethod !== undefined)
    flags['threshold'] = { method: options.thresholdMethod };
  // The environment's settings apply (TSAD_CONFIG, TSAD_*), as in the daemon,
  // so a fleet's settings can be probed: TSAD_THRESHOLD_SPOT_MAX_PEAKS=100 …
  const config = loadConfig({ env: process.env, flags });
  const detectorConfig = { threshold: thresholdOptions(config), alert: alertPolicy(config) };
  const maxLatenessMs = options.maxLatenessMs ?? config.input.maxLatenessMs;
  const lag = Math.ceil(maxLatenessMs / INTERVAL_MS);
  const readings = Math.max(options.readings, options.windowSize + lag + 8);

  // The daemon's registry (same settings, same sensor cap) in the fresh
  // state; in the others the sensors' copies of the templates, in a Map as
  // the registry holds them.
  const registry = createDetectorRegistry(detectorConfig, { maxSensors: 1_000_000 });
  const copies = new Map<string, SensorDetector>();
  const observe = (input: DetectorInput): DetectorResult =>
    state === 'fresh' ? registry.observe(input) : copies.get(input.window.sensor)!.observe(input);

  const store = createWindowStore<null>({
    size: options.windowSize,
    stride: 1,
    maxLatenessMs,
    maxGapMs: config.input.maxGapMs,
    maxSensors: options.sensors,
  });
  const names = Array.from({ length: options.sensors }, (_, i) => sensorName(i));
  settle();
  const baseline = { rss: rssMiB(), heap: heapMiB() };
  let peak = baseline.rss;
  const base = Date.UTC(2026, 0, 1);

  // Templates first (their garbage is collected before the store is measured).
  const templateCount = options.templates ?? 64;
  const nInit =
    detectorConfig.threshold.method === 'spot' || detectorConfig.threshold.method === 'dspot'
      ? (detectorConfig.threshold.nInit ?? 1000)
      : 0;
  // In the warm-up state the sensors' own windows must not end the warm-up.
  const judgedPerSensor = readings - (options.windowSize + lag - 1);
  const taught = options.taught ?? (state === 'warm-up' ? nInit - 1 - judgedPerSensor : 26_000);
  let templatePeaksBytes = 0;
  const templates: SensorDetector[] = [];
  if (state !== 'fresh') {
    for (let t = 0; t < templateCount; t++) {
      const detector = createSensorDetector(`template-${t}`, detectorConfig);
      const window: SensorWindow = {
        sensor: detector.sensor,
        channels: ['value'],
        size: options.windowSize,
        data: new Float32Array(options.windowSize),
        startTs: 0,
        endTs: 0,
        timestamps: new Float64Array(options.windowSize),
      };
      const score: WindowScore = {
        score: 0,
        perChannel: new Float32Array(1),
        perStep: new Float32Array(options.windowSize),
      };
      const next = syntheticScores(t + 1);
      // Taught long before the probe's own readings, so their windows come after.
      const start = base - (taught + 10) * INTERVAL_MS;
      for (let i = 0; i < taught; i++) {
        window.endTs = start + i * INTERVAL_MS;
        score.score = next(i);
        detector.observe({ window, score, modelVersion: 'bench' });
      }
      templatePeaksBytes += detector.memoryBytes();
      templates.push(detector);
    }
  }
  settle();
  const afterTemplates = { rss: rssMiB(), heap: heapMiB() };

  let windows = 0;
  let observed = 0;
  let warmingUp = 0;
  const score = (step: number): WindowScore => ({
    score: Math.fround(0.01 + ((step * 7) % 13) / 1000),
    perChannel: new Float32Array(1),
    perStep: new Float32Array(options.windowSize),
  });

  const pass = (from: number, to: number, judge: boolean) => {
    for (let step = from; step < to; step++) {
      for (let i = 0; i < options.sensors; i++) {
        const out = store.push({
          reading: {
            sensor: names[i]!,
            ts: base + step * INTERVAL_MS,
            values: { value: sensorValue(i, step) },
          },
          origin: 'bench:0',
          ack: null,
          arrivedAt: 0,
        });
        windows += out.windows.length;
        if (judge) {
          for (const window of out.windows) {
            if (observe({ window, score: score(step), modelVersion: 'bench' }).warmingUp)
              warmingUp++;
            observed++;
          }
        }
      }
      if (step % 8 === 0) peak = Math.max(peak, rssMiB());
    }
  };

  const firstWindowAt = options.windowSize + lag - 1;
  pass(0, firstWindowAt, false);
  settle();
  const afterStore = { rss: rssMiB(), heap: heapMiB() };
  if (state !== 'fresh') {
    for (let i = 0; i < options.sensors; i++) {
      copies.set(names[i]!, templates[i % templateCount]!.clone(names[i]!));
    }
  }
  pass(firstWindowAt, readings, true);
  templates.length = 0;
  settle();
  const afterDetector = { rss: rssMiB(), heap: heapMiB() };
  peak = Math.max(peak, afterDetector.rss);
  const perSensor = (mib: number) => Math.round((mib * 2 ** 20) / options.sensors);
  let buffers = 0;
  for (const detector of copies.values()) buffers += detector.memoryBytes();
  buffers += registry.memoryBytes();
  const held = state === 'fresh' ? registry.size : copies.size;
  process.stdout.write(
    `${JSON.stringify({
      sensors: options.sensors,
      windowSize: options.windowSize,
      state,
      readingsPerSensor: readings,
      maxLatenessMs,
      thresholdMethod: config.threshold.method,
      templates: state === 'fresh' ? 0 : templateCount,
      taughtPerTemplate: state === 'fresh' ? 0 : taught,
      storeSensors: store.sensorCount,
      pendingReadings: store.pendingCount(),
      detectorSensors: held,
      windowsEmitted: windows,
      windowsJudged: observed,
      windowsJudgedWarmingUp: warmingUp,
      rssMiB: {
        baseline: round(baseline.rss),
        afterTemplates: round(afterTemplates.rss),
        afterWindowStore: round(afterStore.rss),
        afterDetectors: round(afterDetector.rss),
        peak: round(peak),
      },
      heapAndArrayBuffersMiB: {
        baseline: round(baseline.heap),
        afterTemplates: round(afterTemplates.heap),
        afterWindowStore: round(afterStore.heap),
        afterDetectors: round(afterDetector.heap),
      },
      bytesPerSensor: {
        windowStore: perSensor(afterStore.rss - afterTemplates.rss),
        detector: perSensor(afterDetector.rss - afterStore.rss),
        total: perSensor(afterDetector.rss - baseline.rss),
      },
      heapAndArrayBuffersBytesPerSensor: {
        windowStore: perSensor(afterStore.heap - afterTemplates.heap),
        detector: perSensor(afterDetector.heap - afterStore.heap),
        total: perSensor(afterDetector.heap - baseline.heap),
      },
      detectorBuffersBytesPerSensor: Math.round(buffers / Math.max(1, held)),
      templateBuffersBytes:
        templateCount > 0 && state !== 'fresh' ? Math.round(templatePeaksBytes / templateCount) : 0,
      maxRssMiB: round(process.resourceUsage().maxRSS / 1024),
      seconds: round((performance.now() - started) / 1000),
    })}\n`,
  );
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

const arg = process.argv[2];
if (arg === undefined) {
  process.stderr.write('usage: memory-probe.ts <json options>\n');
  process.exit(2);
}
main(JSON.parse(arg) as MemoryProbeOptions).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
  process.exit(1);
});
