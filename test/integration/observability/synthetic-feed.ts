// A small synthetic run of the pipeline's outputs: the observer events and the
// ScoredWindows / alert events / readings that `tsad run` produces, fed into
// the metrics and InfluxDB adapters directly, so the observability tests do
// not depend on the whole daemon. Timestamps are wall-clock "now", so the
// dashboards' `now() - 1h` time filters see them.
import type { InfluxAlert, InfluxSink } from '../../../src/adapters/influx/influx-sink.ts';
import type { Metrics } from '../../../src/adapters/metrics/create-metrics.ts';
import type { ScoredWindow } from '../../../src/stream/ports.ts';

export const FEED_TOPIC = 'tsad-readings';
export const FEED_MODEL_VERSION = 'synthetic-v1';

export interface FeedOptions {
  metrics: Metrics;
  sink: InfluxSink;
  sensors: readonly string[];
  /** Milliseconds between ticks; each tick scores one window per sensor. */
  tickMs?: number;
}

export interface Feed {
  /** Ticks run so far. */
  readonly ticks: number;
  /** Windows handed to the sink so far (accepted or not). */
  readonly windows: number;
  /** Longest time one tick's synchronous work took (observer + sink calls), ms. */
  readonly slowestTickMs: number;
  stop(): Promise<void>;
}

/**
 * Starts feeding: every tick, one reading and one scored window per sensor,
 * consumer lag for two partitions, a reject and a late drop every 10 ticks,
 * and an alert episode on the first sensor (firing at tick 5, resolved at 25,
 * again every 40 ticks). Before the first tick a model is loaded and two
 * training runs (one success, one failure) are reported.
 */
export function startFeed(options: FeedOptions): Feed {
  const { metrics, sink, sensors } = options;
  const tickMs = options.tickMs ?? 50;
  const startedAt = Date.now();
  metrics.modelLoaded(FEED_MODEL_VERSION, startedAt - 3_600_000);
  metrics.trainingRun('success', 12.5, 0.0123);
  metrics.trainingRun('failure', 2.5);
  let ticks = 0;
  let windows = 0;
  let slowestTickMs = 0;
  let lag = 100;

  const tick = () => {
    const began = performance.now();
    const now = Date.now();
    const phase = ticks % 40;
    for (const [i, sensor] of sensors.entries()) {
      const value = Math.sin((ticks + i * 7) / 5);
      metrics.messageConsumed(FEED_TOPIC);
      sink.writeReading({
        sensor,
        ts: now,
        values: { temperature: 20 + value, pressure: 1 + value / 10 },
      });
      const anomalous = i === 0 && phase >= 5 && phase < 25;
      const score = anomalous ? 0.9 + value / 10 : 0.05 + Math.abs(value) / 20;
      const threshold = 0.5;
      const window: ScoredWindow = {
        sensor,
        startTs: now - 30 * tickMs,
        endTs: now,
        modelVersion: FEED_MODEL_VERSION,
        score: {
          score,
          perChannel: new Float32Array([score, score]),
          perStep: new Float32Array(30).fill(score),
        },
        calibratedScore: Math.min(0.999, score),
        threshold,
        alertState: anomalous ? 'firing' : 'normal',
      };
      metrics.thresholdValue(sensor, threshold, score);
      metrics.endToEndLatency((Date.now() - now) / 1000 + 0.02);
      sink.writeWindow(window);
      windows++;
      if (i === 0 && (phase === 5 || phase === 25)) {
        const state = phase === 5 ? 'firing' : 'resolved';
        metrics.alertEmitted(state);
        sink.writeAlert(alertEvent(sensor, state, now, score, threshold));
      }
    }
    metrics.batchScored(sensors.length, 0.002 + Math.random() * 0.003);
    if (ticks % 10 === 3) metrics.messageRejected('non_finite');
    if (ticks % 10 === 7) metrics.readingDropped('late');
    lag += ticks % 2 === 0 ? 3 : -1;
    metrics.consumerLag(FEED_TOPIC, 0, lag);
    metrics.consumerLag(FEED_TOPIC, 1, Math.floor(lag / 2));
    ticks++;
    slowestTickMs = Math.max(slowestTickMs, performance.now() - began);
  };

  tick();
  const timer = setInterval(tick, tickMs);
  return {
    get ticks() {
      return ticks;
    },
    get windows() {
      return windows;
    },
    get slowestTickMs() {
      return slowestTickMs;
    },
    async stop() {
      clearInterval(timer);
    },
  };
}

function alertEvent(
  sensor: string,
  state: 'firing' | 'resolved',
  at: number,
  score: number,
  threshold: number,
): InfluxAlert {
  const iso = new Date(at).toISOString();
  return {
    id: `${sensor}-${at}`,
    sensor,
    state,
    score,
    peakScore: score,
    threshold,
    modelVersion: FEED_MODEL_VERSION,
    window: { start: new Date(at - 1_500).toISOString(), end: iso },
  };
}
