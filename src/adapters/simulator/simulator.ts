/**
 * A seeded generator of realistic multi-channel sensor readings with labelled
 * injected anomalies. It is pure (no clock, no I/O): the same options give
 * the same readings and labels, so tests can score detections against the
 * labels, and the embedded daemon mode and `tsad simulate` share one source.
 *
 * Each sensor is a machine with a shared latent load (a daily cycle plus a
 * slow random wander) that every channel follows with its own coupling, so
 * channels are correlated; on top of that each channel has a machine-cycle
 * oscillation, a slow trend and noise. Anomalies change one channel of one
 * sensor for a while: spike, level_shift, drift, stuck, noise_burst,
 * frequency_change.
 */
import type { Reading } from '../../detector/types.ts';
import { TsadError } from '../../errors.ts';
import { createRandom, type Random } from './random.ts';

/** The kinds of anomaly the simulator injects. */
export const ANOMALY_KINDS = [
  'spike',
  'level_shift',
  'drift',
  'stuck',
  'noise_burst',
  'frequency_change',
] as const;

export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** Where an anomaly was injected: one channel of one sensor, from startTs to endTs inclusive. */
export interface AnomalyLabel {
  sensor: string;
  kind: AnomalyKind;
  channel: string;
  /** Timestamp of the first affected reading (epoch ms). */
  startTs: number;
  /** Timestamp of the last affected reading (epoch ms, inclusive). */
  endTs: number;
  /**
   * Size of the change: the offset in channel units (spike, level_shift, and
   * drift at its end), the noise multiplier (noise_burst), the frequency
   * multiplier (frequency_change); 0 for stuck (the value freezes where it was).
   */
  magnitude: number;
}

/** What to simulate. */
export interface SimulatorOptions {
  /** Number of sensors (named pump-1, compressor-2, ...) or their names. */
  sensors: number | readonly string[];
  /** Channel names; temp, vibration, pressure, current, flow, humidity get realistic levels. */
  channels?: readonly string[];
  seed?: number;
  /** Timestamp of the first reading (default 2023-11-14T22:13:20Z, fixed for determinism). */
  startTs?: number;
  /** Time between two readings of one sensor (default 1000 ms); sensors are staggered within it. */
  intervalMs?: number;
  /** Readings per sensor; unset = endless. */
  points?: number;
  /** Exactly this many anomalies spread over sensors and time (needs `points`). */
  anomalies?: number;
  /** Without `anomalies`: mean readings of one sensor between two anomalies (default 1000). */
  anomalyEvery?: number;
  /**
   * Readings per sensor at the start without anomalies (default 300), so a
   * model can warm up on clean data. With `points` it is capped at a quarter of them.
   */
  cleanStart?: number;
  /** Kinds to inject (default all), used in a shuffled rotation. */
  kinds?: readonly AnomalyKind[];
}

/** A running simulation: pull readings in timestamp order; labels appear as anomalies begin. */
export interface Simulator extends Iterable<Reading> {
  readonly sensors: readonly string[];
  readonly channels: readonly string[];
  readonly intervalMs: number;
  /** Readings per sensor, or undefined when endless. */
  readonly points: number | undefined;
  /** The next reading (over all sensors, in timestamp order), or undefined at the end. */
  next(): Reading | undefined;
  /** Labels of the anomalies that began since the last call (in start order). */
  takeNewLabels(): AnomalyLabel[];
  /** Every label begun so far. */
  labels(): readonly AnomalyLabel[];
  /**
   * With `points` and `anomalies`: every label of the whole run, known in
   * advance. Undefined for an endless or rate-driven simulation.
   */
  plannedLabels(): readonly AnomalyLabel[] | undefined;
}

interface ChannelProfile {
  base: number;
  /** One "unit" of normal variation, in channel units. */
  scale: number;
  /** Noise standard deviation as a share of scale. */
  noise: number;
  /** How strongly the channel follows the sensor's load (negative = inverse). */
  coupling: number;
  /** Amplitude of the machine-cycle oscillation, in scales. */
  cycle: number;
  /** Trend per simulated day, in scales. */
  trendPerDay: number;
}

const PROFILES: Record<string, ChannelProfile> = {
  temp: { base: 60, scale: 4, noise: 0.08, coupling: 0.9, cycle: 0.5, trendPerDay: 0.05 },
  vibration: { base: 2.5, scale: 0.5, noise: 0.15, coupling: 0.6, cycle: 1, trendPerDay: 0.02 },
  pressure: { base: 4, scale: 0.3, noise: 0.1, coupling: 0.5, cycle: 0.8, trendPerDay: -0.02 },
  current: { base: 12, scale: 2, noise: 0.1, coupling: 1, cycle: 0.7, trendPerDay: 0.03 },
  flow: { base: 30, scale: 5, noise: 0.1, coupling: 0.8, cycle: 0.6, trendPerDay: 0 },
  humidity: { base: 45, scale: 6, noise: 0.08, coupling: -0.5, cycle: 0.2, trendPerDay: 0.01 },
};
const GENERIC: ChannelProfile = {
  base: 10,
  scale: 1,
  noise: 0.1,
  coupling: 0.7,
  cycle: 0.6,
  trendPerDay: 0,
};

const MACHINES = ['pump', 'compressor', 'turbine', 'fan', 'motor', 'boiler'];
const DAY_MS = 86_400_000;

/** Durations in readings, and magnitudes, of each kind. */
const SHAPES: Record<AnomalyKind, { minSteps: number; maxSteps: number }> = {
  spike: { minSteps: 1, maxSteps: 3 },
  level_shift: { minSteps: 30, maxSteps: 80 },
  drift: { minSteps: 40, maxSteps: 120 },
  stuck: { minSteps: 30, maxSteps: 80 },
  noise_burst: { minSteps: 20, maxSteps: 60 },
  frequency_change: { minSteps: 40, maxSteps: 100 },
};

/** An anomaly in step units, before its timestamps are known. */
interface Planned {
  kind: AnomalyKind;
  channel: number;
  start: number;
  /** Inclusive. */
  end: number;
  magnitude: number;
  label?: AnomalyLabel;
}

interface ChannelState {
  profile: ChannelProfile;
  /** Machine-cycle phase, advanced per step. */
  phase: number;
  /**
   * Extra phase a frequency change accumulates (so the wave stays continuous);
   * dropped when it ends, so the data after an anomaly is as if it never happened.
   */
  extraPhase: number;
  stuckValue: number | undefined;
}

interface SensorState {
  name: string;
  index: number;
  /** Draws of the signal itself. */
  random: Random;
  /**
   * Draws of anomaly placement, kept apart from the signal's so that the same
   * seed gives the same normal data with or without anomalies.
   */
  planRandom: Random;
  offsetMs: number;
  /** Machine-cycle period in readings. */
  period: number;
  wander: number;
  channels: ChannelState[];
  /** Anomalies not yet ended, ordered by start. */
  queue: Planned[];
  /** Step after which the next endless-mode anomaly may be planned. */
  nextFree: number;
}

/** Default sensor names: pump-1, compressor-2, turbine-3, ... */
export function sensorNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${MACHINES[i % MACHINES.length]}-${i + 1}`);
}

/**
 * Creates a simulation. Readings come out in timestamp order: at every step
 * each sensor emits one reading, sensor i offset by i/n of the interval.
 * Throws TSAD_ERR_CONFIG_INVALID when the options cannot be met (e.g. more
 * anomalies than the points can hold).
 */
export function createSimulator(options: SimulatorOptions): Simulator {
  const names =
    typeof options.sensors === 'number' ? sensorNames(options.sensors) : [...options.sensors];
  const channelNames = [...(options.channels ?? ['temp', 'vibration', 'pressure'])];
  const seed = options.seed ?? 1;
  const startTs = options.startTs ?? 1_700_000_000_000;
  const intervalMs = options.intervalMs ?? 1000;
  const points = options.points;
  const kinds = [...(options.kinds ?? ANOMALY_KINDS)];
  const anomalyEvery = options.anomalyEvery ?? 1000;
  const cleanStart =
    points === undefined
      ? (options.cleanStart ?? 300)
      : Math.min(options.cleanStart ?? 300, Math.floor(points / 4));
  validate(names, channelNames, kinds, intervalMs, points, options.anomalies, anomalyEvery);

  const sensors: SensorState[] = names.map((name, index) => {
    const random = createRandom(seed, index + 1);
    const phase = random.uniform(0, 2 * Math.PI);
    return {
      name,
      index,
      random,
      planRandom: createRandom(seed, 100_000 + index),
      offsetMs: Math.floor((index * intervalMs) / names.length),
      period: random.int(24, 64),
      wander: 0,
      channels: channelNames.map((channel, c) => {
        const typical = PROFILES[channel] ?? GENERIC;
        return {
          profile: {
            ...typical,
            base: typical.base * random.uniform(0.95, 1.05),
            scale: typical.scale * random.uniform(0.9, 1.1),
          },
          phase: phase + c * 0.7,
          extraPhase: 0,
          stuckValue: undefined,
        };
      }),
      queue: [],
      nextFree: cleanStart,
    };
  });

  const schedule = createRandom(seed, 0);
  let kindRotation: AnomalyKind[] = [];
  const nextKind = (): AnomalyKind => {
    if (kindRotation.length === 0) kindRotation = schedule.shuffle(kinds);
    return kindRotation.pop() as AnomalyKind;
  };
  const plan = (
    sensor: SensorState,
    kind: AnomalyKind,
    start: number,
    maxSteps: number,
  ): Planned => {
    const shape = SHAPES[kind];
    const steps = Math.max(
      1,
      Math.min(maxSteps, sensor.planRandom.int(shape.minSteps, shape.maxSteps)),
    );
    const channel = sensor.planRandom.int(0, channelNames.length - 1);
    return {
      kind,
      channel,
      start,
      end: start + steps - 1,
      magnitude: drawMagnitude(kind, sensor.planRandom),
    };
  };

  const exact = points !== undefined && options.anomalies !== undefined;
  if (exact) planExactly(options.anomalies as number);

  function planExactly(total: number): void {
    const count = new Array<number>(sensors.length).fill(0);
    let order: number[] = [];
    for (let k = 0; k < total; k++) {
      if (order.length === 0) order = schedule.shuffle(sensors.map((s) => s.index));
      const index = order.pop() as number;
      count[index] = (count[index] ?? 0) + 1;
    }
    const span = (points as number) - cleanStart;
    for (const sensor of sensors) {
      const m = count[sensor.index] ?? 0;
      for (let j = 0; j < m; j++) {
        const segStart = cleanStart + Math.floor((j * span) / m);
        const segEnd = cleanStart + Math.floor(((j + 1) * span) / m);
        const room = segEnd - segStart;
        const planned = plan(sensor, nextKind(), segStart, Math.max(1, Math.floor(room * 0.6)));
        const steps = planned.end - planned.start + 1;
        const slack = Math.max(0, room - steps - 1);
        planned.start = segStart + 1 + sensor.planRandom.int(0, slack) - (room > steps ? 0 : 1);
        planned.end = planned.start + steps - 1;
        sensor.queue.push(planned);
      }
    }
  }

  /** Endless / rate mode: keeps one upcoming anomaly planned per sensor. */
  function planAhead(sensor: SensorState): void {
    if (exact || sensor.queue.length > 0) return;
    const gap = Math.round(sensor.planRandom.exponential(anomalyEvery));
    const start = sensor.nextFree + Math.max(1, gap);
    const planned = plan(sensor, nextKind(), start, Number.POSITIVE_INFINITY);
    if (points !== undefined && planned.end >= points) {
      sensor.nextFree = Number.POSITIVE_INFINITY;
      return;
    }
    sensor.queue.push(planned);
    // A quiet stretch after each anomaly so consecutive ones are told apart.
    sensor.nextFree = planned.end + 50;
  }

  const begun: AnomalyLabel[] = [];
  let unread = 0;
  let step = 0;
  let sensorIndex = 0;

  const tsOf = (sensor: SensorState, at: number) => startTs + at * intervalMs + sensor.offsetMs;

  function labelOf(sensor: SensorState, planned: Planned): AnomalyLabel {
    planned.label ??= {
      sensor: sensor.name,
      kind: planned.kind,
      channel: channelNames[planned.channel] as string,
      startTs: tsOf(sensor, planned.start),
      endTs: tsOf(sensor, planned.end),
      magnitude: planned.magnitude,
    };
    return planned.label;
  }

  function readingOf(sensor: SensorState, at: number): Reading {
    planAhead(sensor);
    const ts = tsOf(sensor, at);
    const { random } = sensor;
    sensor.wander = 0.9 * sensor.wander + 0.2 * random.normal();
    const daily = Math.sin((2 * Math.PI * (ts % DAY_MS)) / DAY_MS - Math.PI / 2);
    const load = 0.6 * daily + 0.3 * sensor.wander;
    const days = (ts - startTs) / DAY_MS;
    const active = sensor.queue.filter((a) => a.start <= at && at <= a.end);
    for (const anomaly of active) {
      if (anomaly.start === at) {
        begun.push(labelOf(sensor, anomaly));
        unread++;
      }
    }
    const values: Record<string, number> = {};
    sensor.channels.forEach((channel, c) => {
      const { profile } = channel;
      const here = active.find((a) => a.channel === c);
      const dPhase = (2 * Math.PI) / sensor.period;
      channel.phase += dPhase;
      channel.extraPhase =
        here?.kind === 'frequency_change' ? channel.extraPhase + dPhase * (here.magnitude - 1) : 0;
      const noiseFactor = here?.kind === 'noise_burst' ? here.magnitude : 1;
      const normal =
        profile.coupling * load +
        profile.cycle * Math.sin(channel.phase + channel.extraPhase) +
        profile.trendPerDay * days +
        profile.noise * noiseFactor * random.normal();
      if (here?.kind !== 'stuck') channel.stuckValue = undefined;
      const value = profile.base + profile.scale * normal;
      const shown = here === undefined ? value : applyOffset(here, at, value, channel);
      values[channelNames[c] as string] = round(shown);
    });
    sensor.queue = sensor.queue.filter((a) => a.end > at);
    return { sensor: sensor.name, ts, values };
  }

  function applyOffset(anomaly: Planned, at: number, value: number, channel: ChannelState): number {
    switch (anomaly.kind) {
      case 'spike':
      case 'level_shift':
        return value + anomaly.magnitude * channel.profile.scale;
      case 'drift': {
        const progress = (at - anomaly.start + 1) / (anomaly.end - anomaly.start + 1);
        return value + anomaly.magnitude * channel.profile.scale * progress;
      }
      case 'stuck':
        channel.stuckValue ??= value;
        return channel.stuckValue;
      default:
        return value;
    }
  }

  const simulator: Simulator = {
    sensors: names,
    channels: channelNames,
    intervalMs,
    points,
    next() {
      if (points !== undefined && step >= points) return undefined;
      const sensor = sensors[sensorIndex] as SensorState;
      const reading = readingOf(sensor, step);
      sensorIndex++;
      if (sensorIndex === sensors.length) {
        sensorIndex = 0;
        step++;
      }
      return reading;
    },
    takeNewLabels() {
      const fresh = begun.slice(begun.length - unread);
      unread = 0;
      return fresh;
    },
    labels: () => begun,
    plannedLabels() {
      if (!exact) return undefined;
      return sensors
        .flatMap((sensor) => sensor.queue.map((planned) => labelOf(sensor, planned)))
        .sort((a, b) => a.startTs - b.startTs);
    },
    *[Symbol.iterator]() {
      for (let reading = simulator.next(); reading !== undefined; reading = simulator.next()) {
        yield reading;
      }
    },
  };
  // Labels are fixed at planning time in exact mode, so later calls return the whole plan.
  const planned = simulator.plannedLabels();
  simulator.plannedLabels = () => planned;
  return simulator;
}

function drawMagnitude(kind: AnomalyKind, random: Random): number {
  switch (kind) {
    case 'spike':
      return random.sign() * random.uniform(3, 5);
    case 'level_shift':
      return random.sign() * random.uniform(1.5, 2.5);
    case 'drift':
      return random.sign() * random.uniform(2, 3);
    case 'noise_burst':
      return random.uniform(8, 12);
    case 'frequency_change':
      return random.next() < 0.5 ? random.uniform(2.5, 4) : random.uniform(0.25, 0.4);
    case 'stuck':
      return 0;
  }
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}

function validate(
  sensors: readonly string[],
  channels: readonly string[],
  kinds: readonly string[],
  intervalMs: number,
  points: number | undefined,
  anomalies: number | undefined,
  anomalyEvery: number,
): void {
  const problems: string[] = [];
  if (sensors.length === 0) problems.push('at least one sensor is needed');
  if (new Set(sensors).size !== sensors.length) problems.push('sensor names must be unique');
  if (channels.length === 0) problems.push('at least one channel is needed');
  if (new Set(channels).size !== channels.length) problems.push('channel names must be unique');
  if (kinds.length === 0) problems.push('at least one anomaly kind is needed');
  for (const kind of kinds) {
    if (!(ANOMALY_KINDS as readonly string[]).includes(kind)) {
      problems.push(`unknown anomaly kind ${kind} (expected one of ${ANOMALY_KINDS.join(', ')})`);
    }
  }
  if (!Number.isInteger(intervalMs) || intervalMs < 1)
    problems.push('intervalMs must be an integer ≥ 1');
  if (points !== undefined && (!Number.isInteger(points) || points < 1)) {
    problems.push('points must be an integer ≥ 1');
  }
  if (!(anomalyEvery >= 1)) problems.push('anomalyEvery must be ≥ 1');
  if (anomalies !== undefined) {
    if (!Number.isInteger(anomalies) || anomalies < 0) {
      problems.push('anomalies must be an integer ≥ 0');
    } else if (points === undefined) {
      problems.push('anomalies (an exact count) needs points');
    } else {
      const perSensor = Math.ceil(anomalies / Math.max(1, sensors.length));
      const span = points - Math.floor(points / 4);
      if (perSensor > 0 && span / perSensor < 8) {
        problems.push(
          `${anomalies} anomalies do not fit in ${points} points per sensor over ${sensors.length} sensors (each needs at least 8 readings of room)`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new TsadError('TSAD_ERR_CONFIG_INVALID', `invalid simulation: ${problems.join('; ')}`);
  }
}
