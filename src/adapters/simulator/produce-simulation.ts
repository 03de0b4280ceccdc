/**
 * Produces a simulation to Kafka for `tsad simulate`: readings as JSON
 * messages in the documented input format (key = sensor, so one sensor's
 * readings stay ordered in one partition), the labels of the injected
 * anomalies to a topic and/or a JSON-lines file, and a summary of what went
 * where. A small producer of its own: the daemon's Kafka adapter is a
 * different part with different needs (consumer groups, dead letters).
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Admin,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type Message,
  Partitioners,
} from 'kafkajs';
import type { Reading } from '../../detector/types.ts';
import { errorMessage, systemReason, TsadError } from '../../errors.ts';
import type { AnomalyKind, AnomalyLabel, Simulator } from './simulator.ts';

/** JSON field names of a reading message (the `input.fields` config section). */
export interface ReadingFields {
  sensor: string;
  timestamp: string;
  values: string;
}

/** Where and how fast to produce. */
export interface ProduceSimulationOptions {
  /** kafkajs client options (see kafkaClientOptions in src/config). */
  client: KafkaConfig;
  topic: string;
  /** Partitions of topics this creates when missing (default 3). */
  partitions?: number;
  simulator: Simulator;
  /** Readings per second over all sensors; 0 = as fast as possible. */
  ratePerSecond: number;
  fields?: ReadingFields;
  /** A topic that receives one JSON message per label (key = sensor) as the anomaly begins. */
  labelsTopic?: string;
  /** A file that receives one JSON line per label (truncated once Kafka is reachable). */
  labelsFile?: string;
  /** Stops producing (an endless simulation runs until this aborts). */
  signal?: AbortSignal;
  /** Called after every batch with the readings sent so far. */
  onProgress?: (sent: number) => void;
  /** kafkajs' log lines (warnings and errors), e.g. to the pino logger; default: dropped. */
  log?: (level: 'error' | 'warn', message: string, extra: Record<string, unknown>) => void;
}

/** What a simulation run produced, printed by `tsad simulate` as JSON. */
export interface SimulationSummary {
  brokers: string[];
  topic: string;
  labelsTopic: string | null;
  labelsFile: string | null;
  sensors: string[];
  channels: string[];
  /** Readings (messages) produced. */
  readings: number;
  firstTs: number | null;
  lastTs: number | null;
  intervalMs: number;
  durationMs: number;
  /** Readings per second achieved. */
  achievedRate: number;
  /** Whether the run was stopped before its end. */
  aborted: boolean;
  anomalies: {
    total: number;
    byKind: Partial<Record<AnomalyKind, number>>;
    bySensor: Record<string, number>;
    labels: AnomalyLabel[];
  };
}

/** The input message of one reading, in the documented format (docs/message-formats.md). */
export function encodeReading(reading: Reading, fields?: ReadingFields): Message {
  const f = fields ?? { sensor: 'sensor', timestamp: 'ts', values: 'values' };
  return {
    key: reading.sensor,
    value: JSON.stringify({
      [f.sensor]: reading.sensor,
      [f.timestamp]: reading.ts,
      [f.values]: reading.values,
    }),
  };
}

const BATCH_MAX = 500;
const BATCH_WINDOW_MS = 100;

/**
 * Runs the simulation into Kafka and resolves with its summary. Missing
 * topics are created first. Batches are sent one after another with acks
 * from all in-sync replicas, so when this resolves everything is stored.
 * Kafka failures reject with TSAD_ERR_KAFKA.
 */
export async function produceSimulation(
  options: ProduceSimulationOptions,
): Promise<SimulationSummary> {
  const { simulator, signal } = options;
  const kafka = new Kafka({
    ...options.client,
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const level = entry.level === logLevel.ERROR ? 'error' : 'warn';
      const { message, ...extra } = entry.log;
      options.log?.(level, `kafkajs ${entry.namespace}: ${message}`, extra);
    },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const labelsFile = options.labelsFile;
  let labelsFd: number | undefined;
  const labels: AnomalyLabel[] = [];
  const started = Date.now();
  let sent = 0;
  let firstTs: number | null = null;
  let lastTs: number | null = null;
  let aborted = false;
  try {
    await wrap('connect to Kafka', async () => {
      await admin.connect();
      const topics = [options.topic, options.labelsTopic].filter((t) => t !== undefined);
      await ensureTopics(admin, topics, options.partitions ?? 3);
      await producer.connect();
    });
    // Truncated only now: a run that cannot reach Kafka keeps the previous labels.
    if (labelsFile !== undefined) {
      labelsFd = labelsFileCall(labelsFile, () => fs.openSync(labelsFile, 'w'));
    }

    const paced = options.ratePerSecond > 0 && Number.isFinite(options.ratePerSecond);
    const spacingMs = paced ? 1000 / options.ratePerSecond : 0;
    let done = false;
    while (!done) {
      if (signal?.aborted) {
        aborted = true;
        break;
      }
      const batch: Message[] = [];
      const batchStart = Date.now();
      while (batch.length < BATCH_MAX) {
        if (paced) {
          const wait = started + sent * spacingMs + batch.length * spacingMs - Date.now();
          // Send what we have rather than hold it while waiting for the next reading.
          if (wait > 0 && batch.length > 0 && Date.now() - batchStart >= BATCH_WINDOW_MS) break;
          if (wait >= 1) await pause(wait, signal);
          if (signal?.aborted) break;
        }
        const reading = simulator.next();
        if (reading === undefined) {
          done = true;
          break;
        }
        firstTs ??= reading.ts;
        lastTs = reading.ts;
        batch.push(encodeReading(reading, options.fields));
      }
      const fresh = simulator.takeNewLabels();
      if (batch.length > 0) {
        await wrap('produce readings', () =>
          producer.send({ topic: options.topic, messages: batch, acks: -1 }),
        );
        sent += batch.length;
      }
      if (fresh.length > 0) {
        labels.push(...fresh);
        if (labelsFile !== undefined && labelsFd !== undefined) {
          const fd = labelsFd;
          const lines = fresh.map((l) => `${JSON.stringify(l)}\n`).join('');
          labelsFileCall(labelsFile, () => fs.writeSync(fd, lines));
        }
        const labelsTopic = options.labelsTopic;
        if (labelsTopic !== undefined) {
          await wrap('produce labels', () =>
            producer.send({
              topic: labelsTopic,
              messages: fresh.map((l) => ({ key: l.sensor, value: JSON.stringify(l) })),
              acks: -1,
            }),
          );
        }
      }
      options.onProgress?.(sent);
    }
  } finally {
    if (labelsFd !== undefined) fs.closeSync(labelsFd);
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }

  const durationMs = Date.now() - started;
  const byKind: Partial<Record<AnomalyKind, number>> = {};
  const bySensor: Record<string, number> = {};
  for (const label of labels) {
    byKind[label.kind] = (byKind[label.kind] ?? 0) + 1;
    bySensor[label.sensor] = (bySensor[label.sensor] ?? 0) + 1;
  }
  return {
    brokers: [...(options.client.brokers as string[])],
    topic: options.topic,
    labelsTopic: options.labelsTopic ?? null,
    labelsFile: options.labelsFile ?? null,
    sensors: [...simulator.sensors],
    channels: [...simulator.channels],
    readings: sent,
    firstTs,
    lastTs,
    intervalMs: simulator.intervalMs,
    durationMs,
    achievedRate: durationMs > 0 ? Math.round((sent * 1000) / durationMs) : sent,
    aborted,
    anomalies: { total: labels.length, byKind, bySensor, labels },
  };
}

/** `call()` on the labels file `file`, a failure thrown as TSAD_ERR_OUTPUT_WRITE naming it. */
function labelsFileCall<T>(file: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw new TsadError(
      'TSAD_ERR_OUTPUT_WRITE',
      `cannot write labels file ${file}: ${systemReason(error)}`,
      { cause: error },
    );
  }
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal === undefined ? {} : { signal });
  } catch {
    // aborted: the caller checks the signal
  }
}

async function ensureTopics(admin: Admin, topics: string[], partitions: number): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  await admin.createTopics({
    topics: missing.map((topic) => ({ topic, numPartitions: partitions })),
    waitForLeaders: true,
  });
}

async function wrap<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const retriable = (error as { retriable?: unknown }).retriable;
    throw new TsadError('TSAD_ERR_KAFKA', `${what}: ${errorMessage(error)}`, {
      cause: error,
      ...(typeof retriable === 'boolean' ? { retriable } : {}),
    });
  }
}
