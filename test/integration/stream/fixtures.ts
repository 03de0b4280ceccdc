/**
 * Shared fixtures of the streaming integration tests: a synthetic fleet of
 * sensors (a sine with noise per sensor, some with an injected level shift),
 * a small model trained once on its normal windows, the producer and topic
 * readers, and a daemon config for the real broker.
 */

import { type Admin, type IHeaders, Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { Config } from '../../../src/config/schema.ts';
import { mulberry32 } from '../../../src/detector/seeded-random.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import type { ScoredWindowSink } from '../../../src/stream/ports.ts';
import { untilLeadersServe } from '../../harness/kafka.ts';
import { services } from '../../harness/services.ts';
import { tempDir } from '../../harness/temp-dir.ts';

export const WINDOW = 16;
export const T0 = Date.UTC(2026, 0, 1);
export const INTERVAL_MS = 1_000;

export interface Fleet {
  sensors: string[];
  anomalous: Set<string>;
  /** First and last reading index of the injected anomaly. */
  anomalyFrom: number;
  anomalyTo: number;
}

/** Deterministic pseudo-random numbers (mulberry32). */
export const random = mulberry32;

/** The value of reading `i` of sensor number `s`; anomalous sensors shift by +2.5 in the anomaly range. */
export function readingValue(fleet: Fleet, s: number, i: number, noise: () => number): number {
  const sensor = fleet.sensors[s]!;
  const base = Math.sin((2 * Math.PI * i) / 40 + s * 0.7) + 0.1 * (noise() - 0.5);
  const shifted = fleet.anomalous.has(sensor) && i >= fleet.anomalyFrom && i <= fleet.anomalyTo;
  return shifted ? base + 2.5 : base;
}

export function makeFleet(count: number, anomalousCount: number, anomalyFrom = 1500): Fleet {
  const sensors = Array.from({ length: count }, (_, i) => `sensor-${String(i).padStart(3, '0')}`);
  const step = Math.floor(count / Math.max(1, anomalousCount));
  const anomalous = new Set(
    Array.from({ length: anomalousCount }, (_, k) => sensors[k * step + 3]!),
  );
  return { sensors, anomalous, anomalyFrom, anomalyTo: anomalyFrom + 60 };
}

/** JSON messages of readings `from..to-1` of every sensor, in time order, keyed by sensor. */
export function fleetMessages(fleet: Fleet, from: number, to: number, seed = 7) {
  const noise = random(seed + from);
  const out: Array<{ key: string; value: string }> = [];
  for (let i = from; i < to; i++) {
    fleet.sensors.forEach((sensor, s) => {
      const value = readingValue(fleet, s, i, noise);
      out.push({ key: sensor, value: JSON.stringify({ sensor, ts: T0 + i * INTERVAL_MS, value }) });
    });
  }
  return out;
}

/** Trains a small model on clean sine windows and saves it; once per test file. */
export async function trainSmallModel(): Promise<string> {
  await initBackend();
  const noise = random(99);
  const windows: Float32Array[] = [];
  for (let k = 0; k < 1500; k++) {
    const phase = (k % 40) * 0.7;
    const w = new Float32Array(WINDOW);
    for (let i = 0; i < WINDOW; i++) {
      w[i] = Math.sin((2 * Math.PI * (k + i)) / 40 + phase) + 0.1 * (noise() - 0.5);
    }
    windows.push(w);
  }
  const model = await trainAutoencoder(windows, {
    windowSize: WINDOW,
    hiddenUnits: [16],
    codeSize: 8,
    maxEpochs: 15,
    patience: 3,
    seed: 3,
  });
  const dir = tempDir('tsad-stream-model-');
  await model.save(dir);
  model.dispose();
  return dir;
}

export function kafkaClient(): Kafka {
  return new Kafka({
    clientId: 'tsad-stream-test',
    brokers: services.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
}

export async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions }],
    waitForLeaders: true,
  });
  await untilLeadersServe(admin, topic);
}

/** Produces messages in chunks with acks from all replicas. */
export async function produce(
  kafka: Kafka,
  topic: string,
  messages: Array<{ key: string; value: string }>,
) {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 5_000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5_000) });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface TopicRecord {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

/** Reads a whole topic from the beginning until it has `expected` records (or times out). */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<TopicRecord[]> {
  const records: TopicRecord[] = [];
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let done: () => void = () => {};
  const enough = new Promise<void>((resolve) => {
    done = resolve;
  });
  if (expected === 0) done();
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      records.push({
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? '',
        headers: headersOf(message.headers),
        partition,
        offset: message.offset,
      });
      if (records.length >= expected) done();
    },
  });
  // The timeout is unref'd so that it does not keep the test file alive once `enough` won.
  await Promise.race([enough, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  // A little longer, to catch records beyond the expected count.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await consumer.disconnect();
  return records;
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return out;
}

/** Sum of committed offsets of a group on a topic, per partition. */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, number>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((p) => [p.partition, Number(p.high)]));
}

/** The daemon's settings for a test: real broker, the small model, thresholds for this data. */
export function testConfig(options: {
  topic: string;
  alertTopic: string;
  groupId: string;
  modelDir: string;
  extra?: Record<string, unknown>;
}): Config {
  return loadConfig({
    env: {},
    flags: {
      kafka: {
        brokers: services.kafkaBrokers,
        inputTopic: options.topic,
        alertTopic: options.alertTopic,
        groupId: options.groupId,
        fromBeginning: true,
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 1_000,
      },
      input: { maxLatenessMs: 2_000 },
      window: { size: WINDOW, stride: 1 },
      batching: { maxBatchSize: 1024, maxDelayMs: 20, highWaterMark: 20_000 },
      model: { path: options.modelDir },
      threshold: { method: 'spot', spot: { q: 1e-5, nInit: 400 } },
      alerts: { stdout: false, cooldownMs: 0 },
      metrics: { enabled: false },
      log: { level: 'warn', format: 'json' },
      ...options.extra,
    },
  });
}

/** A scored-window sink recording, per sensor, the end timestamps of the windows scored. */
export function recordScored(into: Map<string, Set<number>>): ScoredWindowSink {
  return {
    write(w) {
      const set = into.get(w.sensor) ?? new Set<number>();
      into.set(w.sensor, set);
      set.add(w.endTs);
    },
  };
}

/** A quiet logger for in-process daemons (warnings and errors still show). */
export const testLogger = pino({ level: 'warn' }, pino.destination(2));
