/**
 * Turns the pure simulator into a live source: readings paced in real time
 * at a given rate, as an async iterable the daemon's embedded mode consumes
 * (e.g. with RxJS `from()`), and the options that make the simulated
 * timestamps match the wall clock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/schema.ts';
import type { Reading } from '../../detector/types.ts';
import { createSimulator, type Simulator, type SimulatorOptions } from './simulator.ts';

/** How to pace. */
export interface PaceOptions {
  /** Readings per second over all sensors; 0 or Infinity = as fast as possible. */
  ratePerSecond: number;
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal;
  /** The clock (ms), for tests. Default Date.now. */
  now?: () => number;
}

/**
 * Yields the simulator's readings, reading k no earlier than k / rate
 * seconds after the first. A slow consumer is not buffered for: pulling is
 * the backpressure, and a consumer that falls behind gets the overdue
 * readings at once. As fast as possible still yields to the event loop every
 * thousand readings so timers and I/O keep running.
 */
export async function* pacedReadings(
  simulator: Simulator,
  options: PaceOptions,
): AsyncGenerator<Reading, void, undefined> {
  const now = options.now ?? Date.now;
  const paced = Number.isFinite(options.ratePerSecond) && options.ratePerSecond > 0;
  const spacingMs = paced ? 1000 / options.ratePerSecond : 0;
  const start = now();
  let count = 0;
  for (;;) {
    if (options.signal?.aborted) return;
    if (paced) {
      const wait = start + count * spacingMs - now();
      if (wait >= 1) {
        try {
          await sleep(wait, undefined, options.signal ? { signal: options.signal } : {});
        } catch {
          return; // aborted while waiting
        }
      }
    } else if (count % 1000 === 999) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const reading = simulator.next();
    if (reading === undefined) return;
    count++;
    yield reading;
  }
}

/**
 * Simulator options from the `simulator` config section for a live run that
 * starts at `startTs`: unless `intervalMs` is set, the per-sensor interval is
 * sensors / ratePerSecond seconds, so paced readings carry their wall-clock
 * time (lateness, gaps and end-to-end latency then mean what they say).
 */
export function simulatorOptionsFromConfig(
  section: Config['simulator'],
  startTs: number,
): SimulatorOptions {
  return {
    sensors: section.sensors,
    channels: section.channels,
    seed: section.seed,
    startTs,
    intervalMs: section.intervalMs ?? realTimeIntervalMs(section.sensors, section.ratePerSecond),
    anomalyEvery: section.anomalyEvery,
    cleanStart: section.cleanStart,
  };
}

/**
 * The per-sensor interval that makes timestamps follow the wall clock when
 * `sensors` share `ratePerSecond` readings per second (1000 ms when unpaced).
 */
export function realTimeIntervalMs(sensors: number, ratePerSecond: number): number {
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) return 1000;
  return Math.max(1, Math.round((sensors * 1000) / ratePerSecond));
}

/** The embedded mode's source: an endless simulator from config, paced at its rate. */
export interface SimulatorSource {
  simulator: Simulator;
  readings: AsyncIterable<Reading>;
}

/**
 * Creates the embedded daemon's input: an endless simulation from the
 * `simulator` config, paced at `ratePerSecond` until `signal` aborts. Labels
 * of the injected anomalies are available from `simulator.takeNewLabels()`.
 */
export function createSimulatorSource(
  section: Config['simulator'],
  options: { signal?: AbortSignal; now?: () => number } = {},
): SimulatorSource {
  const now = options.now ?? Date.now;
  const simulator = createSimulator(simulatorOptionsFromConfig(section, now()));
  const pace: PaceOptions = { ratePerSecond: section.ratePerSecond, now };
  if (options.signal !== undefined) pace.signal = options.signal;
  return { simulator, readings: pacedReadings(simulator, pace) };
}
