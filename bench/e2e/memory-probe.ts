/**
 * Child process of the end-to-end benchmark's memory phase: how much RSS the
 * per-sensor state of the daemon takes for many sensors. It fills the
 * pipeline's sliding-window store and the detector registry (built with the
 * daemon's settings: default config, `maxSensors` 1,000,000) directly, no
 * Kafka and no model, so the figure is the state alone, `readings`
 * readings per sensor: a window's worth into the store (every sensor then
 * holds a full window), then the rest with each window judged by the
 * detector under a synthetic score. Runs in a fresh process (with --expose-gc) so the baseline
 * is not the parent's tfjs and Kafka client. Usage:
 *
 *   node --expose-gc --import tsx bench/e2e/memory-probe.ts '<json options>'
 *
 * Prints one JSON object.
 */
import { alertPolicy, thresholdOptions } from '../../src/app/daemon.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDetectorRegistry, type ThresholdOptions } from '../../src/detector/index.ts';
import type { WindowScore } from '../../src/detector/types.ts';
import { createWindowStore } from '../../src/stream/sliding-window.ts';
import { sensorName, sensorValue } from './readings.ts';

/** What the parent asks for. */
export interface MemoryProbeOptions {
  sensors: number;
  windowSize: number;
  /** Readings per sensor in all (> windowSize): a window's worth, then the rest judged. */
  readings: number;
  /** Threshold method; default: the config default. */
  thresholdMethod?: ThresholdOptions['method'];
}

function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
}

async function main(options: MemoryProbeOptions): Promise<void> {
  const started = performance.now();
  const flags: Record<string, unknown> = { window: { size: options.windowSize, stride: 1 } };
  if (options.thresholdMethod !== undefined)
    flags['threshold'] = { method: options.thresholdMethod };
  const config = loadConfig({ env: {}, flags });
  // The daemon's registry: same threshold and alert settings, same sensor cap.
  const detector = createDetectorRegistry(
    {
      threshold: thresholdOptions(config),
      alert: alertPolicy(config),
    },
    { maxSensors: 1_000_000 },
  );
  const store = createWindowStore<null>({
    size: options.windowSize,
    stride: 1,
    maxLatenessMs: 0,
    maxSensors: options.sensors,
  });
  const names = Array.from({ length: options.sensors }, (_, i) => sensorName(i));
  settle();
  const baseline = rssMiB();
  let peak = baseline;
  const base = Date.UTC(2026, 0, 1);
  let windows = 0;
  let observed = 0;
  const score = (step: number): WindowScore => ({
    score: 0.01 + ((step * 7) % 13) / 1000,
    perChannel: new Float32Array(1),
    perStep: new Float32Array(options.windowSize),
  });

  const pass = (from: number, to: number, judge: boolean) => {
    for (let step = from; step < to; step++) {
      for (let i = 0; i < options.sensors; i++) {
        const out = store.push({
          reading: {
            sensor: names[i]!,
            ts: base + step * 1000,
            values: { value: sensorValue(i, step) },
          },
          origin: 'bench:0',
          ack: null,
          arrivedAt: 0,
        });
        windows += out.windows.length;
        if (judge) {
          for (const window of out.windows) {
            detector.observe({ window, score: score(step), modelVersion: 'bench' });
            observed++;
          }
        }
      }
      if (step % 8 === 0) peak = Math.max(peak, rssMiB());
    }
  };

  pass(0, options.windowSize, false);
  settle();
  const afterStore = rssMiB();
  pass(options.windowSize, Math.max(options.readings, options.windowSize + 1), true);
  settle();
  const afterDetector = rssMiB();
  peak = Math.max(peak, afterDetector);
  const perSensor = (mib: number) => Math.round((mib * 2 ** 20) / options.sensors);
  process.stdout.write(
    `${JSON.stringify({
      sensors: options.sensors,
      windowSize: options.windowSize,
      readingsPerSensor: Math.max(options.readings, options.windowSize + 1),
      thresholdMethod: config.threshold.method,
      storeSensors: store.sensorCount,
      detectorSensors: detector.size,
      windowsEmitted: windows,
      windowsJudged: observed,
      rssMiB: {
        baseline: round(baseline),
        afterWindowStore: round(afterStore),
        afterDetectors: round(afterDetector),
        peak: round(peak),
      },
      bytesPerSensor: {
        windowStore: perSensor(afterStore - baseline),
        detector: perSensor(afterDetector - afterStore),
        total: perSensor(afterDetector - baseline),
      },
      detectorBuffersBytesPerSensor: Math.round(detector.memoryBytes() / options.sensors),
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
