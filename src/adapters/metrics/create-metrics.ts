/**
 * The Prometheus side of tsad: every counter, gauge and histogram the daemon
 * exports, in a registry of its own (never prom-client's global default, so
 * two daemons in one process or a test never share series). The object that
 * createMetrics returns is the pipeline's observer and the InfluxDB sink's
 * observer at once; the composition root hands it to both.
 */
import client, { type Counter, Registry } from 'prom-client';
import type {
  DropReason,
  PipelineObserver,
  ProducerName,
  RejectReason,
  SinkDropReason,
  SinkErrorKind,
  SinkObserver,
  TrainingOutcome,
} from '../../stream/ports.ts';

/** Options of createMetrics; a plain object so the caller maps its config onto it. */
export interface MetricsOptions {
  /**
   * How many sensors (those with the highest latest score) get series of
   * their own in tsad_sensor_score and tsad_sensor_threshold. 0 = none. This
   * bounds the cardinality: never one series per sensor.
   */
  topSensors: number;
  /** Collect Node.js process metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series, e.g. `{ instance: 'tsad-1' }`. */
  defaultLabels?: Record<string, string>;
  /** Clock for the model age (epoch ms); injectable for tests. */
  now?: () => number;
}

/** The daemon's metrics: a pipeline observer with its registry and the sink observer for InfluxDB. */
export interface Metrics extends Required<PipelineObserver> {
  readonly registry: Registry;
  /** Hand this to the InfluxDB sink: it feeds the tsad_influx_* series. */
  readonly influx: SinkObserver;
  /** Stops tracking a sensor (e.g. it was removed); its top-N series go at the next scrape. */
  forgetSensor(sensor: string): void;
}

// Every label value of a bounded label, so each series exists (at 0) from the
// start: rate() and alert rules then see data before the first event, and a
// missing series always means "not exported", never "not happened yet".
// Written as records over the port's union types so that a value added to
// a union fails to compile here until it is listed (and gets its zero series).
const REJECT_REASONS = labelValues<RejectReason>({
  not_json: true,
  missing_field: true,
  bad_timestamp: true,
  future_timestamp: true,
  non_numeric: true,
  non_finite: true,
  too_large: true,
  unknown_channel: true,
  undecodable: true,
});
const DROP_REASONS = labelValues<DropReason>({
  late: true,
  duplicate: true,
  gap_restart: true,
  revoked: true,
  channel_change: true,
  evicted: true,
});
const ALERT_STATES = labelValues<'firing' | 'resolved'>({ firing: true, resolved: true });
const TRAINING_OUTCOMES = labelValues<TrainingOutcome>({
  success: true,
  failure: true,
  rejected: true,
});
const SINK_DROP_REASONS = labelValues<SinkDropReason>({
  queue_full: true,
  rejected: true,
  closed: true,
  shutdown: true,
});
const SINK_ERROR_KINDS = labelValues<SinkErrorKind>({
  unreachable: true,
  timeout: true,
  server: true,
  rejected: true,
  other: true,
});
const PRODUCERS = labelValues<ProducerName>({ alerts: true, dead_letters: true });

function labelValues<T extends string>(all: Record<T, true>): readonly T[] {
  return Object.keys(all) as T[];
}

const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const SCORING_SECONDS_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
const LATENCY_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TRAINING_SECONDS_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

interface SensorState {
  score: number;
  threshold: number;
}

/** Counts and amounts must be finite and non-negative; anything else is ignored, never thrown. */
function isAmount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}

/**
 * Creates the tsad metrics in a fresh Registry. Bounded labels (reasons,
 * states, outcomes) are initialised to zero; per-sensor series exist only for
 * the `topSensors` sensors with the highest latest score, recomputed at each
 * scrape. Every observer method is cheap, ignores invalid numbers and never
 * throws, as the PipelineObserver port requires.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.defaultMetrics ?? true) client.collectDefaultMetrics({ register: registry });
  const now = options.now ?? Date.now;
  const topSensors = Math.max(0, Math.floor(options.topSensors));
  const registers = [registry];

  // Counted here and added to the counter when it is read: messageConsumed is
  // called for every message (tens of thousands a second), and prom-client's
  // inc hashes and validates its labels on every call.
  const consumedSinceRead = new Map<string, number>();
  new client.Counter({
    name: 'tsad_messages_consumed_total',
    help: 'Messages read from the input topic.',
    labelNames: ['topic'],
    registers,
    collect() {
      for (const [topic, count] of consumedSinceRead) this.inc({ topic }, count);
      consumedSinceRead.clear();
    },
  });
  const rejected = new client.Counter({
    name: 'tsad_messages_rejected_total',
    help: 'Messages rejected by the decoder (sent to the dead-letter topic), by reason.',
    labelNames: ['reason'],
    registers,
  });
  const dropped = new client.Counter({
    name: 'tsad_readings_dropped_total',
    help: 'Decoded readings that were not windowed, by reason.',
    labelNames: ['reason'],
    registers,
  });
  const windowsScored = new client.Counter({
    name: 'tsad_windows_scored_total',
    help: 'Windows scored by the model.',
    registers,
  });
  const batchSize = new client.Histogram({
    name: 'tsad_scoring_batch_size',
    help: 'Windows per scoring call (micro-batch size).',
    buckets: BATCH_SIZE_BUCKETS,
    registers,
  });
  const scoringSeconds = new client.Histogram({
    name: 'tsad_scoring_duration_seconds',
    help: 'Wall time of one scoring call (one micro-batch through the model).',
    buckets: SCORING_SECONDS_BUCKETS,
    registers,
  });
  const endToEnd = new client.Histogram({
    name: 'tsad_end_to_end_latency_seconds',
    help: "Seconds from the newest reading's timestamp in a window to its score.",
    buckets: LATENCY_SECONDS_BUCKETS,
    registers,
  });
  const alerts = new client.Counter({
    name: 'tsad_alerts_total',
    help: 'Alert events emitted, by state (firing, resolved).',
    labelNames: ['state'],
    registers,
  });
  const lag = new client.Gauge({
    name: 'tsad_consumer_lag_messages',
    help: 'Messages between the next offset to commit and the high watermark, per assigned partition.',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const sendsPending = new client.Gauge({
    name: 'tsad_kafka_sends_pending',
    help: 'Kafka sends not acknowledged by the brokers yet, by producer (alerts, dead_letters).',
    labelNames: ['producer'],
    registers,
  });
  const oldestPendingSend = new client.Gauge({
    name: 'tsad_kafka_oldest_pending_send_seconds',
    help: 'How long the oldest Kafka send not acknowledged yet has waited, by producer; 0 when none.',
    labelNames: ['producer'],
    registers,
  });

  let model: { version: string; createdAtMs: number } | undefined;
  const modelInfo = new client.Gauge({
    name: 'tsad_model_info',
    help: 'The model that scores: 1 for its version, absent before a model is loaded.',
    labelNames: ['version'],
    registers,
  });
  new client.Gauge({
    name: 'tsad_model_age_seconds',
    help: 'Seconds since the scoring model was trained, by version (absent before a model is loaded).',
    // The label is what lets the series be absent before a model is loaded: an
    // unlabelled prom-client gauge always reports a value, and 0 would read as "fresh".
    labelNames: ['version'],
    registers,
    collect() {
      this.reset();
      if (model)
        this.set({ version: model.version }, Math.max(0, (now() - model.createdAtMs) / 1000));
    },
  });
  const trainingRuns = new client.Counter({
    name: 'tsad_training_runs_total',
    help: 'Training runs, by outcome (success, failure, rejected = trained but not swapped in).',
    labelNames: ['outcome'],
    registers,
  });
  const trainingSeconds = new client.Histogram({
    name: 'tsad_training_duration_seconds',
    help: 'Wall time of one training run.',
    buckets: TRAINING_SECONDS_BUCKETS,
    registers,
  });
  const trainingLoss = new client.Gauge({
    name: 'tsad_training_last_loss',
    help: 'Final validation loss of the last successful training run.',
    registers,
  });

  // Every scored sensor, those whose threshold is still warming up (+Infinity)
  // included: they count in tsad_sensors but have no threshold to show yet.
  const sensors = new Map<string, SensorState>();
  // Sorting all sensors at each scrape is cheap next to a scrape (thousands of
  // sensors: well under a millisecond) and keeps the observer methods O(1).
  const top = (): [string, SensorState][] => {
    if (topSensors === 0) return [];
    return [...sensors.entries()]
      .filter(([, state]) => Number.isFinite(state.threshold))
      .sort((a, b) => b[1].score - a[1].score)
      .slice(0, topSensors);
  };
  new client.Gauge({
    name: 'tsad_sensor_score',
    help: 'Latest window score of each of the top-N sensors by score (N = metrics.topSensors).',
    labelNames: ['sensor'],
    registers,
    collect() {
      this.reset();
      for (const [sensor, state] of top()) this.set({ sensor }, state.score);
    },
  });
  new client.Gauge({
    name: 'tsad_sensor_threshold',
    help: 'Current threshold of each of the top-N sensors by score (N = metrics.topSensors).',
    labelNames: ['sensor'],
    registers,
    collect() {
      this.reset();
      for (const [sensor, state] of top()) this.set({ sensor }, state.threshold);
    },
  });
  new client.Gauge({
    name: 'tsad_sensors',
    help: 'Sensors with at least one scored window since start.',
    registers,
    collect() {
      this.set(sensors.size);
    },
  });
  new client.Gauge({
    name: 'tsad_sensors_above_threshold',
    help: 'Sensors whose latest window score is above their threshold.',
    registers,
    collect() {
      let above = 0;
      for (const state of sensors.values()) if (state.score > state.threshold) above++;
      this.set(above);
    },
  });
  new client.Gauge({
    name: 'tsad_threshold_max',
    help: 'Highest current threshold over all sensors (0 before the first window).',
    registers,
    collect() {
      let max = 0;
      for (const { threshold } of sensors.values())
        if (Number.isFinite(threshold)) max = Math.max(max, threshold);
      this.set(max);
    },
  });

  const influxWritten = new client.Counter({
    name: 'tsad_influx_points_written_total',
    help: 'Points written to InfluxDB.',
    registers,
  });
  const influxDropped = new client.Counter({
    name: 'tsad_influx_points_dropped_total',
    help: 'Points given up on, by reason (queue_full, rejected, closed, shutdown).',
    labelNames: ['reason'],
    registers,
  });
  const influxErrors = new client.Counter({
    name: 'tsad_influx_write_errors_total',
    help: 'Failed InfluxDB write requests, by kind (unreachable, timeout, server, rejected, other).',
    labelNames: ['kind'],
    registers,
  });
  const influxQueue = new client.Gauge({
    name: 'tsad_influx_queue_points',
    help: 'Points waiting to be written to InfluxDB.',
    registers,
  });

  zeroLabels(rejected, 'reason', REJECT_REASONS);
  zeroLabels(dropped, 'reason', DROP_REASONS);
  zeroLabels(alerts, 'state', ALERT_STATES);
  zeroLabels(trainingRuns, 'outcome', TRAINING_OUTCOMES);
  zeroLabels(influxDropped, 'reason', SINK_DROP_REASONS);
  zeroLabels(influxErrors, 'kind', SINK_ERROR_KINDS);
  influxQueue.set(0);
  for (const producer of PRODUCERS) {
    sendsPending.set({ producer }, 0);
    oldestPendingSend.set({ producer }, 0);
  }

  const influx: SinkObserver = {
    pointsWritten(count) {
      if (isAmount(count)) influxWritten.inc(count);
    },
    pointsDropped(reason, count) {
      if (isAmount(count) && SINK_DROP_REASONS.includes(reason))
        influxDropped.inc({ reason }, count);
    },
    writeFailed(kind) {
      influxErrors.inc({ kind: SINK_ERROR_KINDS.includes(kind) ? kind : 'other' });
    },
    queueDepth(points) {
      if (isAmount(points)) influxQueue.set(points);
    },
  };

  return {
    registry,
    influx,
    messageConsumed(topic) {
      consumedSinceRead.set(topic, (consumedSinceRead.get(topic) ?? 0) + 1);
    },
    messageRejected(reason) {
      if (REJECT_REASONS.includes(reason)) rejected.inc({ reason });
    },
    readingDropped(reason, count = 1) {
      if (DROP_REASONS.includes(reason) && isAmount(count)) dropped.inc({ reason }, count);
    },
    batchScored(windows, seconds) {
      if (!isAmount(windows)) return;
      windowsScored.inc(windows);
      batchSize.observe(windows);
      if (isAmount(seconds)) scoringSeconds.observe(seconds);
    },
    endToEndLatency(seconds) {
      // A reading stamped slightly in the future (clock skew) counts as zero latency.
      if (Number.isFinite(seconds)) endToEnd.observe(Math.max(0, seconds));
    },
    alertEmitted(state) {
      if (ALERT_STATES.includes(state)) alerts.inc({ state });
    },
    consumerLag(topic, partition, messages) {
      if (isAmount(messages)) lag.set({ topic, partition: String(partition) }, messages);
    },
    forgetPartition(topic, partition) {
      lag.remove({ topic, partition: String(partition) });
    },
    pendingSends(producer, sends, oldestSeconds) {
      if (!PRODUCERS.includes(producer) || !isAmount(sends) || !isAmount(oldestSeconds)) return;
      sendsPending.set({ producer }, sends);
      oldestPendingSend.set({ producer }, oldestSeconds);
    },
    thresholdValue(sensor, threshold, score) {
      // +Infinity is a threshold still warming up: the window was scored all the same.
      if (!Number.isFinite(score) || Number.isNaN(threshold) || threshold === -Infinity) return;
      const state = sensors.get(sensor);
      if (state) {
        state.score = score;
        state.threshold = threshold;
      } else {
        sensors.set(sensor, { score, threshold });
      }
    },
    modelLoaded(version, createdAtMs) {
      if (!Number.isFinite(createdAtMs)) return;
      model = { version, createdAtMs };
      modelInfo.reset();
      modelInfo.set({ version }, 1);
    },
    trainingRun(outcome, seconds, loss) {
      if (!TRAINING_OUTCOMES.includes(outcome)) return;
      trainingRuns.inc({ outcome });
      if (isAmount(seconds)) trainingSeconds.observe(seconds);
      if (outcome === 'success' && loss !== undefined && Number.isFinite(loss)) {
        trainingLoss.set(loss);
      }
    },
    forgetSensor(sensor) {
      sensors.delete(sensor);
    },
  };
}

function zeroLabels<L extends string>(
  counter: Counter<L>,
  label: L,
  values: readonly string[],
): void {
  for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
}
