/**
 * The alert event: what goes out on the alert topic when a sensor's alert
 * starts firing and when it resolves. Its JSON form is described by
 * schemas/alert.schema.json and docs/alerts.md. Timestamps are ISO 8601 UTC
 * strings with milliseconds (`2026-01-02T03:04:05.678Z`), readable in any
 * consumer and sortable as text.
 */
import { createHash } from 'node:crypto';
import type { ThresholdMethod } from './thresholds/threshold.ts';
import type { SensorWindow, WindowScore } from './types.ts';

/** Version of the alert event's shape; bumped on any incompatible change. */
export const ALERT_SCHEMA_VERSION = 1;

/** One channel's part in a window's reconstruction error. */
export interface ChannelContribution {
  channel: string;
  /** Mean squared error of this channel over the window (normalised units). */
  error: number;
  /** This channel's share of the summed per-channel errors, in [0, 1]. */
  share: number;
}

/** The time step of the window with the largest reconstruction error. */
export interface PeakStep {
  /** Index of the step in the window (0 = oldest). */
  index: number;
  timestamp: string;
  /** Mean squared error over the channels at this step (normalised units). */
  error: number;
  /** Observed value of every channel at this step (original units). */
  observed: Record<string, number>;
  /** The model's reconstruction at this step, or null when it was not computed. */
  reconstructed: Record<string, number> | null;
}

/** Why the window looks anomalous. */
export interface AlertExplanation {
  /** Channels by descending share of the error. */
  channels: ChannelContribution[];
  peakStep: PeakStep;
}

/** An alert event. `endedAt` is null while firing. */
export interface AlertEvent {
  schemaVersion: typeof ALERT_SCHEMA_VERSION;
  /** sha256 of sensor and startedAt (hex, 32 chars): the same for the firing and resolved event, and across replays. */
  id: string;
  sensor: string;
  state: 'firing' | 'resolved';
  /** Event time (window end) at which the alert started firing. */
  startedAt: string;
  /** Event time (window end) at which it resolved; null while firing. */
  endedAt: string | null;
  /** Highest raw score seen during the episode so far. */
  peakScore: number;
  /** Raw score of the window that caused this event. */
  score: number;
  /** Calibrated score in [0, 1) of that window. */
  calibratedScore: number;
  /** Threshold (raw units) in force for that window. */
  threshold: number;
  method: ThresholdMethod;
  modelVersion: string;
  /** Time range of the window that caused this event. */
  window: { start: string; end: string };
  explanation: AlertExplanation;
}

/** ISO 8601 UTC with milliseconds, the one timestamp format of alert events. */
export function isoTime(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/**
 * The alert id: a hash of the sensor and the start time, so the firing and
 * resolved events of one episode share it and a replay of the same data yields
 * the same ids (consumers can deduplicate on it).
 */
export function alertId(sensor: string, startedAtMs: number): string {
  return createHash('sha256').update(`${sensor}\n${startedAtMs}`).digest('hex').slice(0, 32);
}

/**
 * Explains a scored window: channels ranked by their share of the error, and
 * the step with the largest error with its observed and reconstructed values.
 * Ties keep channel order so explanations are deterministic.
 */
export function explainWindow(window: SensorWindow, score: WindowScore): AlertExplanation {
  const channelCount = window.channels.length;
  let total = 0;
  for (let c = 0; c < channelCount; c++) total += Math.max(0, score.perChannel[c] ?? 0);
  const channels = window.channels
    .map((channel, c) => {
      const error = Math.max(0, score.perChannel[c] ?? 0);
      return { channel, error, share: total > 0 ? error / total : 1 / channelCount };
    })
    .sort((a, b) => b.error - a.error);

  let index = 0;
  for (let s = 1; s < window.size; s++) {
    if ((score.perStep[s] ?? 0) > (score.perStep[index] ?? 0)) index = s;
  }
  const observed: Record<string, number> = {};
  const reconstructed: Record<string, number> | null = score.reconstruction ? {} : null;
  for (let c = 0; c < channelCount; c++) {
    const name = window.channels[c]!;
    const at = index * channelCount + c;
    observed[name] = window.data[at] ?? Number.NaN;
    if (reconstructed && score.reconstruction) {
      reconstructed[name] = score.reconstruction[at] ?? Number.NaN;
    }
  }
  return {
    channels,
    peakStep: {
      index,
      timestamp: isoTime(window.timestamps[index] ?? window.endTs),
      error: score.perStep[index] ?? 0,
      observed,
      reconstructed,
    },
  };
}
