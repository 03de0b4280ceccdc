import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../src/adapters/metrics/create-metrics.ts';

/** Value of one series from the registry, or undefined when it does not exist. */
async function value(
  metrics: ReturnType<typeof createMetrics>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  const match = data.values.find(
    (v) =>
      Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want) &&
      Object.keys(v.labels).length === Object.keys(labels).length + ('le' in v.labels ? 1 : 0),
  );
  return match?.value;
}

async function series(metrics: ReturnType<typeof createMetrics>, name: string) {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  // prom-client fills metricName for histogram parts, though its type leaves it out.
  return (await metric.get()).values as {
    value: number;
    labels: Record<string, string | number>;
    metricName?: string;
  }[];
}

describe('createMetrics', () => {
  it('names every tsad metric by convention: tsad_ prefix, counters end in _total', async () => {
    const metrics = createMetrics({ topSensors: 3, defaultMetrics: false });
    const all = await metrics.registry.getMetricsAsJSON();
    assert.ok(all.length >= 20);
    for (const metric of all) {
      assert.match(metric.name, /^tsad_[a-z0-9_]+$/);
      if (String(metric.type) === 'counter') assert.match(metric.name, /_total$/);
      else assert.doesNotMatch(metric.name, /_total$/);
    }
  });

  it('uses its own registry, so two instances do not share series', async () => {
    const a = createMetrics({ topSensors: 0, defaultMetrics: false });
    const b = createMetrics({ topSensors: 0, defaultMetrics: false });
    a.messageConsumed('in');
    assert.equal(await value(a, 'tsad_messages_consumed_total', { topic: 'in' }), 1);
    assert.equal(await value(b, 'tsad_messages_consumed_total', { topic: 'in' }), undefined);
  });

  it('collects default process metrics into the tsad registry when asked', async () => {
    const metrics = createMetrics({ topSensors: 0 });
    const text = await metrics.registry.metrics();
    assert.match(text, /^process_cpu_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  it('starts bounded label sets at zero so alert rules see series before the first event', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    assert.equal(await value(metrics, 'tsad_messages_rejected_total', { reason: 'not_json' }), 0);
    assert.equal(await value(metrics, 'tsad_readings_dropped_total', { reason: 'late' }), 0);
    assert.equal(await value(metrics, 'tsad_alerts_total', { state: 'firing' }), 0);
    assert.equal(await value(metrics, 'tsad_training_runs_total', { outcome: 'failure' }), 0);
    assert.equal(
      await value(metrics, 'tsad_influx_points_dropped_total', { reason: 'queue_full' }),
      0,
    );
    assert.equal(
      await value(metrics, 'tsad_influx_write_errors_total', { kind: 'unreachable' }),
      0,
    );
  });

  it('counts messages, rejects, drops, windows and alerts by their labels', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    metrics.messageConsumed('readings');
    metrics.messageConsumed('readings');
    metrics.messageRejected('non_finite');
    metrics.readingDropped('duplicate');
    metrics.readingDropped('revoked', 3);
    metrics.readingDropped('revoked', Number.NaN);
    metrics.batchScored(16, 0.02);
    metrics.batchScored(4, 0.004);
    metrics.alertEmitted('firing');
    metrics.alertEmitted('firing');
    metrics.alertEmitted('resolved');
    assert.equal(await value(metrics, 'tsad_messages_consumed_total', { topic: 'readings' }), 2);
    assert.equal(await value(metrics, 'tsad_messages_rejected_total', { reason: 'non_finite' }), 1);
    assert.equal(await value(metrics, 'tsad_readings_dropped_total', { reason: 'duplicate' }), 1);
    assert.equal(await value(metrics, 'tsad_readings_dropped_total', { reason: 'revoked' }), 3);
    assert.equal(await value(metrics, 'tsad_windows_scored_total'), 20);
    assert.equal(await value(metrics, 'tsad_alerts_total', { state: 'firing' }), 2);
    assert.equal(await value(metrics, 'tsad_alerts_total', { state: 'resolved' }), 1);
    const sizes = await series(metrics, 'tsad_scoring_batch_size');
    assert.equal(sizes.find((v) => v.metricName === 'tsad_scoring_batch_size_sum')?.value, 20);
    assert.equal(sizes.find((v) => v.metricName === 'tsad_scoring_batch_size_count')?.value, 2);
    const seconds = await series(metrics, 'tsad_scoring_duration_seconds');
    const le5ms = seconds.find(
      (v) => v.metricName === 'tsad_scoring_duration_seconds_bucket' && v.labels.le === 0.005,
    );
    assert.equal(le5ms?.value, 1);
  });

  it('records end-to-end latency, counting a reading from the future as zero', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    metrics.endToEndLatency(0.3);
    metrics.endToEndLatency(-0.2);
    const values = await series(metrics, 'tsad_end_to_end_latency_seconds');
    assert.equal(values.find((v) => v.metricName?.endsWith('_count'))?.value, 2);
    assert.equal(values.find((v) => v.metricName?.endsWith('_sum'))?.value, 0.3);
  });

  it('keeps one lag gauge per topic and partition, holding the latest value', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    metrics.consumerLag('readings', 0, 10);
    metrics.consumerLag('readings', 1, 3);
    metrics.consumerLag('readings', 0, 7);
    assert.equal(
      await value(metrics, 'tsad_consumer_lag_messages', { topic: 'readings', partition: '0' }),
      7,
    );
    assert.equal(
      await value(metrics, 'tsad_consumer_lag_messages', { topic: 'readings', partition: '1' }),
      3,
    );
  });

  it('reports the Kafka sends pending and the age of the oldest per producer, at 0 from the start', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    for (const producer of ['alerts', 'dead_letters']) {
      assert.equal(await value(metrics, 'tsad_kafka_sends_pending', { producer }), 0);
      assert.equal(await value(metrics, 'tsad_kafka_oldest_pending_send_seconds', { producer }), 0);
    }
    metrics.pendingSends('dead_letters', 3, 42.5);
    assert.equal(await value(metrics, 'tsad_kafka_sends_pending', { producer: 'dead_letters' }), 3);
    assert.equal(
      await value(metrics, 'tsad_kafka_oldest_pending_send_seconds', { producer: 'dead_letters' }),
      42.5,
    );
    assert.equal(await value(metrics, 'tsad_kafka_sends_pending', { producer: 'alerts' }), 0);
  });

  it('removes the lag series of a partition that is forgotten (revoked)', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    metrics.consumerLag('readings', 0, 10);
    metrics.consumerLag('readings', 1, 3);
    metrics.forgetPartition('readings', 1);
    const partitions = (await series(metrics, 'tsad_consumer_lag_messages')).map(
      (v) => v.labels.partition,
    );
    assert.deepEqual(partitions, ['0']);
  });

  it('exports per-sensor series only for the top-N sensors by latest score', async () => {
    const metrics = createMetrics({ topSensors: 2, defaultMetrics: false });
    for (let i = 0; i < 50; i++) metrics.thresholdValue(`s${i}`, 1, i / 10);
    metrics.thresholdValue('s3', 0.8, 9);
    const scores = await series(metrics, 'tsad_sensor_score');
    assert.deepEqual(
      scores.map((v) => [v.labels.sensor, v.value]),
      [
        ['s3', 9],
        ['s49', 4.9],
      ],
    );
    const thresholds = await series(metrics, 'tsad_sensor_threshold');
    assert.deepEqual(
      thresholds.map((v) => [v.labels.sensor, v.value]),
      [
        ['s3', 0.8],
        ['s49', 1],
      ],
    );
    assert.equal(await value(metrics, 'tsad_sensors'), 50);
    // s11..s49 score above their threshold of 1, and s3 (9 > 0.8).
    assert.equal(await value(metrics, 'tsad_sensors_above_threshold'), 40);
    assert.equal(await value(metrics, 'tsad_threshold_max'), 1);
  });

  it('exports no per-sensor series when topSensors is 0', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    for (let i = 0; i < 10; i++) metrics.thresholdValue(`s${i}`, 1, i);
    assert.equal((await series(metrics, 'tsad_sensor_score')).length, 0);
    assert.equal((await series(metrics, 'tsad_sensor_threshold')).length, 0);
    assert.equal(await value(metrics, 'tsad_sensors'), 10);
  });

  it('counts sensors whose threshold is still warming up in tsad_sensors, and only there', async () => {
    const metrics = createMetrics({ topSensors: 5, defaultMetrics: false });
    for (let i = 0; i < 3; i++) metrics.thresholdValue(`warm${i}`, Number.POSITIVE_INFINITY, 50);
    metrics.thresholdValue('ready', 2, 1);
    assert.equal(await value(metrics, 'tsad_sensors'), 4);
    assert.deepEqual(
      (await series(metrics, 'tsad_sensor_threshold')).map((v) => [v.labels.sensor, v.value]),
      [['ready', 2]],
    );
    assert.equal(await value(metrics, 'tsad_sensors_above_threshold'), 0);
    assert.equal(await value(metrics, 'tsad_threshold_max'), 2);
    metrics.forgetSensor('warm0');
    assert.equal(await value(metrics, 'tsad_sensors'), 3);
  });

  it('drops a forgotten sensor from the top-N at the next scrape', async () => {
    const metrics = createMetrics({ topSensors: 5, defaultMetrics: false });
    metrics.thresholdValue('a', 1, 2);
    metrics.thresholdValue('b', 1, 3);
    metrics.forgetSensor('b');
    assert.deepEqual(
      (await series(metrics, 'tsad_sensor_score')).map((v) => v.labels.sensor),
      ['a'],
    );
  });

  it('reports the model version as an info gauge and its age from the injected clock', async () => {
    let now = 1_000_000;
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false, now: () => now });
    assert.equal((await series(metrics, 'tsad_model_info')).length, 0);
    assert.equal((await series(metrics, 'tsad_model_age_seconds')).length, 0);
    metrics.modelLoaded('v1', now - 60_000);
    now += 30_000;
    assert.equal(await value(metrics, 'tsad_model_info', { version: 'v1' }), 1);
    assert.equal(await value(metrics, 'tsad_model_age_seconds', { version: 'v1' }), 90);
    metrics.modelLoaded('v2', now);
    const info = await series(metrics, 'tsad_model_info');
    assert.deepEqual(
      info.map((v) => v.labels.version),
      ['v2'],
    );
    const ages = await series(metrics, 'tsad_model_age_seconds');
    assert.deepEqual(
      ages.map((v) => [v.labels.version, v.value]),
      [['v2', 0]],
    );
  });

  it('counts training runs by outcome and keeps the loss of the last successful one', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    metrics.trainingRun('success', 12, 0.04);
    metrics.trainingRun('failure', 3);
    metrics.trainingRun('failure', 2, 99);
    assert.equal(await value(metrics, 'tsad_training_runs_total', { outcome: 'success' }), 1);
    assert.equal(await value(metrics, 'tsad_training_runs_total', { outcome: 'failure' }), 2);
    assert.equal(await value(metrics, 'tsad_training_last_loss'), 0.04);
    const durations = await series(metrics, 'tsad_training_duration_seconds');
    assert.equal(durations.find((v) => v.metricName?.endsWith('_sum'))?.value, 17);
  });

  it('feeds the tsad_influx_* series through its sink observer', async () => {
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    metrics.influx.pointsWritten(100);
    metrics.influx.pointsDropped('queue_full', 7);
    metrics.influx.writeFailed('unreachable');
    metrics.influx.queueDepth(42);
    assert.equal(await value(metrics, 'tsad_influx_points_written_total'), 100);
    assert.equal(
      await value(metrics, 'tsad_influx_points_dropped_total', { reason: 'queue_full' }),
      7,
    );
    assert.equal(
      await value(metrics, 'tsad_influx_write_errors_total', { kind: 'unreachable' }),
      1,
    );
    assert.equal(await value(metrics, 'tsad_influx_queue_points'), 42);
  });

  it('never throws on invalid numbers or unknown labels, and ignores them', async () => {
    const metrics = createMetrics({ topSensors: 1, defaultMetrics: false });
    assert.doesNotThrow(() => {
      metrics.batchScored(-1, Number.NaN);
      metrics.batchScored(Number.POSITIVE_INFINITY, 1);
      metrics.endToEndLatency(Number.NaN);
      metrics.consumerLag('t', 0, -5);
      metrics.thresholdValue('s', Number.NaN, 1);
      metrics.modelLoaded('v', Number.NaN);
      metrics.trainingRun('success', -1, Number.NaN);
      metrics.messageRejected('bogus' as never);
      metrics.alertEmitted('pending' as never);
      metrics.influx.pointsWritten(-3);
      metrics.influx.pointsDropped('queue_full', Number.NaN);
      metrics.influx.writeFailed('weird' as never);
      metrics.pendingSends('bogus' as never, 1, 1);
      metrics.pendingSends('alerts', -1, Number.NaN);
    });
    assert.equal(await value(metrics, 'tsad_windows_scored_total'), 0);
    assert.equal(
      (await series(metrics, 'tsad_end_to_end_latency_seconds')).find((v) =>
        v.metricName?.endsWith('_count'),
      )?.value,
      0,
    );
    assert.equal((await series(metrics, 'tsad_consumer_lag_messages')).length, 0);
    assert.equal(await value(metrics, 'tsad_sensors'), 0);
    assert.equal((await series(metrics, 'tsad_model_info')).length, 0);
    assert.equal(await value(metrics, 'tsad_influx_write_errors_total', { kind: 'other' }), 1);
    const text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /bogus|"pending"|weird/);
    assert.equal(await value(metrics, 'tsad_kafka_sends_pending', { producer: 'alerts' }), 0);
  });
});
