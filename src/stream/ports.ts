/**
 * Ports: the interfaces through which the pipeline reports what it does and
 * hands out its results. Adapters (Prometheus metrics, InfluxDB, Kafka, stdout)
 * implement them; the composition root (src/app, src/main.ts) wires them in.
 * The pipeline never imports an adapter.
 */
import type { WindowScore } from '../detector/types.ts';

/** Why a message was rejected (goes to the dead-letter topic). Bounded set: metric label. */
export type RejectReason =
  | 'not_json'
  | 'missing_field'
  | 'bad_timestamp'
  | 'future_timestamp'
  | 'non_numeric'
  | 'non_finite'
  | 'too_large'
  | 'unknown_channel'
  | 'undecodable';

/** Why a decoded reading was not windowed. Bounded set: metric label. */
export type DropReason =
  | 'late'
  | 'duplicate'
  | 'gap_restart'
  | 'revoked'
  | 'channel_change'
  | 'evicted';

/** One scored window with the detector's verdict, as sinks receive it. */
export interface ScoredWindow {
  sensor: string;
  startTs: number;
  endTs: number;
  modelVersion: string;
  score: WindowScore;
  /** Score in [0, 1] from the threshold's calibration. */
  calibratedScore: number;
  threshold: number;
  /** The alert state of the sensor after this window. */
  alertState: 'normal' | 'pending' | 'firing' | 'resolved';
}

/**
 * Counters and timings the pipeline reports; implemented by the Prometheus
 * adapter. Every method must be cheap and must never throw.
 */
export interface PipelineObserver {
  messageConsumed(topic: string): void;
  messageRejected(reason: RejectReason): void;
  /** `count` readings (1 if left out) were dropped for `reason`. */
  readingDropped(reason: DropReason, count?: number): void;
  /** A scoring call: how many windows and how long it took. */
  batchScored(windows: number, seconds: number): void;
  /** Seconds from the newest reading's timestamp to its score. */
  endToEndLatency(seconds: number): void;
  alertEmitted(state: 'firing' | 'resolved'): void;
  consumerLag(topic: string, partition: number, lag: number): void;
  /** A partition was revoked (rebalance): stop reporting its lag. Optional. */
  forgetPartition?(topic: string, partition: number): void;
  thresholdValue(sensor: string, threshold: number, score: number): void;
  /** A model became the one that scores (at start or after a retraining swap). Optional. */
  modelLoaded?(version: string, createdAtMs: number): void;
  /** A sensor's state was dropped (its partition was revoked): stop reporting it. Optional. */
  forgetSensor?(sensor: string): void;
  /** A training run ended; `loss` is the final validation loss when it succeeded. Optional. */
  trainingRun?(outcome: TrainingOutcome, seconds: number, loss?: number): void;
  /**
   * Sends of a producer not acknowledged yet, and how long the oldest has
   * waited (0 when none); reported every second by the Kafka producers. Optional.
   */
  pendingSends?(producer: ProducerName, sends: number, oldestSeconds: number): void;
}

/** Which producer a send went through: the alert topic's or the dead-letter topic's. Bounded set: metric label. */
export type ProducerName = 'alerts' | 'dead_letters';

/** How a training run ended. Bounded set: metric label. */
export type TrainingOutcome = 'success' | 'failure' | 'rejected';

/** Why a sink that may drop (InfluxDB) dropped points. Bounded set: metric label. */
export type SinkDropReason = 'queue_full' | 'rejected' | 'closed' | 'shutdown';

/** What kind of write failure a sink saw. Bounded set: metric label. */
export type SinkErrorKind = 'unreachable' | 'timeout' | 'server' | 'rejected' | 'other';

/**
 * What a sink that buffers and may drop points reports; implemented by the
 * Prometheus adapter. Every method must be cheap and must never throw.
 */
export interface SinkObserver {
  pointsWritten(count: number): void;
  pointsDropped(reason: SinkDropReason, count: number): void;
  writeFailed(kind: SinkErrorKind): void;
  /** Points waiting in the sink's queue. */
  queueDepth(points: number): void;
}

/** A sink observer that ignores everything. */
export const nullSinkObserver: SinkObserver = {
  pointsWritten() {},
  pointsDropped() {},
  writeFailed() {},
  queueDepth() {},
};

/** An observer that ignores everything (for tests and tools that need none). */
export const nullObserver: PipelineObserver = {
  messageConsumed() {},
  messageRejected() {},
  readingDropped() {},
  batchScored() {},
  endToEndLatency() {},
  alertEmitted() {},
  consumerLag() {},
  thresholdValue() {},
  modelLoaded() {},
  trainingRun() {},
};

/**
 * One message from the source (a Kafka record, a simulated reading). The
 * pipeline calls `ack` exactly once when the message is fully handled: its
 * readings placed in windows that are scored with their alerts delivered, or
 * the message dead-lettered. The source commits offsets from these acks.
 */
export interface SourceMessage {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (kafkajs' form). */
  offset: string;
  key: Buffer | string | null;
  value: Buffer | string | null;
  ack(): void;
  /**
   * Acks the message without holding its contents. Readings wait in the
   * reorder buffer for up to `input.maxLatenessMs` with their ack; a source
   * whose messages hold large buffers (a Kafka record's value is a slice of
   * the whole fetch) gives this so the buffer can be freed once decoded.
   */
  readonly ackHandle?: { ack(): void };
}

/**
 * Where alert events go (the alert topic, stdout). `send` resolves once the
 * events are durably delivered (Kafka: acknowledged by all in-sync replicas);
 * it may reject with a retriable TsadError, and the pipeline retries. The
 * event type is the detector's AlertEvent; only `id` and `state` are read here.
 */
export interface AlertSink<E extends AlertLike = AlertLike> {
  send(events: readonly E[]): Promise<void>;
}

/** The part of an alert event the pipeline itself looks at. */
export interface AlertLike {
  id: string;
  sensor: string;
  state: 'firing' | 'resolved';
}

/** A rejected message with why it was rejected, on its way to the dead-letter topic. */
export interface DeadLetter {
  message: SourceMessage;
  reason: RejectReason;
  detail: string;
}

/**
 * Where rejected messages go with their reason (the dead-letter topic).
 * `send` writes a batch of them (in one request where it can) and resolves
 * once every one is written. When it rejects, the caller sends the whole
 * batch again: some may have been written already, so the dead-letter topic
 * may hold a record twice, but never misses one whose message was acked.
 */
export interface DeadLetterSink {
  send(letters: readonly DeadLetter[]): Promise<void>;
}

/** A sink of every scored window (InfluxDB). Must not block: queue or drop and count. */
export interface ScoredWindowSink {
  write(window: ScoredWindow): void;
}

/** The logger the pipeline writes to (a pino logger fits). */
export interface PipelineLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}
