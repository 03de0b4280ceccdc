/**
 * The embedded mode's input: the built-in simulator instead of Kafka, so
 * `npm start` with nothing configured shows the whole system working. The
 * simulation starts `backlogPerSensor` readings in the past and replays that
 * history as fast as the pipeline takes it (enough for the cold-start model
 * and the thresholds to warm up), then paces each reading at its own
 * timestamp, i.e. in real time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { realTimeIntervalMs } from '../adapters/simulator/paced-readings.ts';
import { createSimulator, type Simulator } from '../adapters/simulator/simulator.ts';
import type { Config } from '../config/schema.ts';
import type { Pipeline } from '../stream/pipeline.ts';
import type { DaemonSource } from './daemon.ts';

export interface EmbeddedSourceOptions {
  simulator: Config['simulator'];
  /** Readings of history per sensor replayed at full speed before real time. */
  backlogPerSensor: number;
  now?: () => number;
}

/** Simulated readings need no ack; one shared handle keeps none of them alive. */
const NO_ACK = { ack() {} };

/** Topic name the embedded readings are reported under (metrics label). */
export const EMBEDDED_TOPIC = 'simulator';

/** Creates the simulator source; it runs until stopped. */
export function createEmbeddedSource(options: EmbeddedSourceOptions): DaemonSource & {
  readonly simulator: Simulator;
} {
  const now = options.now ?? Date.now;
  const section = options.simulator;
  const intervalMs =
    section.intervalMs ?? realTimeIntervalMs(section.sensors, section.ratePerSecond);
  const startTs = now() - options.backlogPerSensor * intervalMs;
  const simulator = createSimulator({
    sensors: section.sensors,
    channels: section.channels,
    seed: section.seed,
    startTs,
    intervalMs,
    anomalyEvery: section.anomalyEvery,
    cleanStart: section.cleanStart,
  });
  const stopping = new AbortController();
  let loop: Promise<void> | undefined;
  let offset = 0;

  const run = async (pipeline: Pipeline, gate: () => Promise<void>) => {
    const signal = stopping.signal;
    while (!signal.aborted) {
      await gate();
      if (pipeline.inFlight() > 0) await pipeline.waitForCapacity();
      const reading = simulator.next();
      if (reading === undefined) return;
      const wait = reading.ts - now();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal });
        } catch {
          return;
        }
      } else if (offset % 500 === 499) {
        // Replaying history: yield now and then so timers and I/O keep running.
        await new Promise((resolve) => setImmediate(resolve));
      }
      pipeline.push({
        topic: EMBEDDED_TOPIC,
        partition: 0,
        offset: String(offset++),
        key: reading.sensor,
        value: JSON.stringify({ sensor: reading.sensor, ts: reading.ts, values: reading.values }),
        ack() {},
        ackHandle: NO_ACK,
      });
    }
  };

  let ended: Promise<void> = new Promise(() => {});
  return {
    kind: 'simulator',
    simulator,
    get ended() {
      return ended;
    },
    async start(pipeline, gate) {
      loop ??= run(pipeline, gate);
      ended = loop;
    },
    async stopConsuming() {
      stopping.abort();
      await loop;
    },
    async commit() {},
    async close() {
      stopping.abort();
      await loop;
    },
    connected: () => 'not_configured',
  };
}

/**
 * History each sensor needs before alerts can appear: the cold-start
 * windows (shared by all sensors), one window, the threshold's warm-up
 * scores, and room for a few anomalies.
 */
export function embeddedBacklog(config: Config): number {
  const t = config.threshold;
  const thresholdWarmup =
    t.method === 'spot'
      ? t.spot.nInit
      : t.method === 'dspot'
        ? t.dspot.nInit + t.dspot.depth
        : t.method === 'rolling'
          ? t.rolling.warmup
          : t.telemanom.warmup;
  const stride = config.window.stride;
  const coldStart = config.model.path
    ? 0
    : Math.ceil(config.model.warmupWindows / config.simulator.sensors);
  return (
    (coldStart + thresholdWarmup) * stride + config.window.size + config.simulator.anomalyEvery
  );
}
