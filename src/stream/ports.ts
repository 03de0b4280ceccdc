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
export type DropReason = 'late' | 'duplicate' | 'gap_restart' | 'revoked';

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
}

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
};
