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
  | 'non_numeric'
  | 'non_finite'
  | 'too_large'
  | 'unknown_channel';

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
  readingDropped(reason: DropReason): void;
  /** A scoring call: how many windows and how long it took. */
  batchScored(windows: number, seconds: number): void;
  /** Seconds from the newest reading's timestamp to its score. */
  endToEndLatency(seconds: number): void;
  alertEmitted(state: 'firing' | 'resolved'): void;
  consumerLag(topic: string, partition: number, lag: number): void;
  thresholdValue(sensor: string, threshold: number, score: number): void;
  /** A model became the one that scores (at start or after a retraining swap). Optional. */
  modelLoaded?(version: string, createdAtMs: number): void;
  /** A training run ended; `loss` is the final validation loss when it succeeded. Optional. */
  trainingRun?(outcome: TrainingOutcome, seconds: number, loss?: number): void;
}

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
