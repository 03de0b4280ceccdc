/**
 * Kafka sends the brokers do not acknowledge: kafkajs' idempotent producer
 * retries them for as long as it takes, so nothing fails. A send pending
 * longer than `kafka.sendStalledAfterMs` must still show: a warning (again
 * each such period while it lasts), `tsad_kafka_sends_pending` and
 * `tsad_kafka_oldest_pending_send_seconds`, and /readyz answering 503.
 *
 * On a broker of the file's own, whose process is stopped (SIGSTOP: it
 * takes connections but answers nothing, as a hung or cut-off broker) and
 * then continued: the daemon, with dead-letter records the topic refuses (so
 * a retry is always about to be sent), and the alert sink.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import kafkajs, { type Admin, type Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { createKafkaAlertSink } from '../../../src/adapters/kafka/index.ts';
import { createMetrics } from '../../../src/adapters/metrics/create-metrics.ts';
import { createDaemon, type Daemon } from '../../../src/app/daemon.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { SensorWindow, WindowScore, WindowScorer } from '../../../src/detector/index.ts';
import { type KafkaServer, startKafka } from '../../harness/kafka.ts';
import { randomName, waitFor } from '../../harness/services.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { committedOffsets, createTopic } from './fixtures.ts';

const scorer: WindowScorer = {
  version: 'stand-in',
  windowSize: 4,
  channels: ['value'],
  async scoreBatch(windows: readonly SensorWindow[]): Promise<WindowScore[]> {
    return windows.map((w) => ({
      score: 0,
      perChannel: new Float32Array(1),
      perStep: new Float32Array(w.size),
    }));
  },
};

type LogLine = { level: number; msg: string } & Record<string, unknown>;

/** A logger that keeps every line it writes (parsed), for assertions on what was logged. */
function recordingLogger() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

/** The value of the series of `name` with label producer="<producer>" in a Prometheus text page. */
function sample(page: string, name: string, producer: string): number | undefined {
  const match = new RegExp(`^${name}\\{producer="${producer}"\\} (\\S+)$`, 'm').exec(page);
  return match ? Number(match[1]) : undefined;
}

const stalledWarnings = (lines: LogLine[]) =>
  lines.filter((l) => l.level === 40 && / not acknowledged for /.test(l.msg));

describe('Kafka sends a stopped broker does not acknowledge', () => {
  let server: KafkaServer;
  let kafka: Kafka;
  let admin: Admin;
  let daemon: Daemon | undefined;
  /** Whether the broker process is stopped with SIGSTOP (continued in after() if a test failed). */
  let frozen = false;
  const freeze = (signal: 'SIGSTOP' | 'SIGCONT') => {
    process.kill(server.process.pid, signal);
    frozen = signal === 'SIGSTOP';
  };

  before(async () => {
    server = await startKafka({ dir: tempDir('tsad-stall-kafka-') });
    kafka = new kafkajs.Kafka({
      clientId: 'tsad-stall-test',
      brokers: [server.brokers],
      logLevel: logLevel.NOTHING,
    });
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    if (frozen) freeze('SIGCONT');
    await daemon?.stop();
    await admin?.disconnect();
    await server?.process.stop();
  });

  it('a dead-letter send held up by a stopped broker is warned about, counted in the metrics and makes /readyz 503, until the broker continues', async () => {
    const topic = randomName('stall');
    const dlqTopic = `${topic}.dlq`;
    const groupId = randomName('tsad');
    await createTopic(admin, topic, 1);
    // Refuses records without a key (INVALID_RECORD): the daemon retries them every few seconds.
    await admin.createTopics({
      topics: [
        {
          topic: dlqTopic,
          numPartitions: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      waitForLeaders: true,
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [0, 1, 2].map((i) => ({ key: null, value: `not json ${i}` })),
    });
    await producer.disconnect();
    const { logger, lines } = recordingLogger();
    const config = loadConfig({
      env: {},
      flags: {
        kafka: {
          brokers: [server.brokers],
          inputTopic: topic,
          alertTopic: `${topic}.alerts`,
          groupId,
          fromBeginning: true,
          sessionTimeoutMs: 30_000,
          heartbeatIntervalMs: 1_000,
          sendStalledAfterMs: 1_000,
        },
        window: { size: 4, stride: 1 },
        model: { backend: 'cpu' },
        retraining: { enabled: false },
        alerts: { stdout: false },
        metrics: { enabled: true, host: '127.0.0.1', port: 0 },
        shutdown: { timeoutMs: 5_000 },
      },
    });
    daemon = createDaemon({
      config,
      logger,
      stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
      scorer,
      scoreInWorker: false,
    });
    await daemon.start();
    const address = daemon.metricsAddress();
    assert.ok(address);
    const url = (path: string) => `http://127.0.0.1:${address.port}${path}`;
    await waitFor(
      () => (lines.some((l) => l.msg.startsWith('dead-letter send refused')) ? true : undefined),
      { what: 'the refusal logged', timeoutMs: 30_000 },
    );
    assert.equal((await fetch(url('/readyz'))).status, 200);

    freeze('SIGSTOP');
    // The next retry (at most 5 s away) waits for the broker.
    await waitFor(() => (stalledWarnings(lines).length > 0 ? true : undefined), {
      what: 'a warning about the send',
      timeoutMs: 15_000,
    });
    const [warning] = stalledWarnings(lines);
    assert.match(warning?.msg ?? '', new RegExp(dlqTopic));
    assert.equal(warning?.['producer'], 'dead_letters');
    const readyz = await fetch(url('/readyz'));
    assert.equal(readyz.status, 503);
    const body = (await readyz.json()) as { checks: Record<string, string> };
    assert.equal(body.checks['kafkaSends'], 'stalled');
    const page = await (await fetch(url('/metrics'))).text();
    assert.equal(sample(page, 'tsad_kafka_sends_pending', 'dead_letters'), 1);
    assert.ok((sample(page, 'tsad_kafka_oldest_pending_send_seconds', 'dead_letters') ?? 0) >= 1);
    assert.equal(sample(page, 'tsad_kafka_sends_pending', 'alerts'), 0);
    // Said again while it lasts: once per sendStalledAfterMs.
    await waitFor(() => (stalledWarnings(lines).length >= 2 ? true : undefined), {
      what: 'the warning repeated',
      timeoutMs: 5_000,
    });

    freeze('SIGCONT');
    await waitFor(() => (lines.some((l) => / no longer stalled/.test(l.msg)) ? true : undefined), {
      what: 'the end of the stall logged',
      timeoutMs: 30_000,
    });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: dlqTopic,
          configEntries: [{ name: 'cleanup.policy', value: 'delete' }],
        },
      ],
    });
    await waitFor(
      async () => ((await committedOffsets(admin, groupId, topic)).get(0) === 3 ? true : undefined),
      { what: 'the offsets committed', timeoutMs: 60_000, intervalMs: 250 },
    );
    await waitFor(async () => ((await fetch(url('/readyz'))).status === 200 ? true : undefined), {
      what: '/readyz 200 again',
      timeoutMs: 30_000,
    });
    const later = await (await fetch(url('/metrics'))).text();
    assert.equal(sample(later, 'tsad_kafka_sends_pending', 'dead_letters'), 0);
    assert.equal(sample(later, 'tsad_kafka_oldest_pending_send_seconds', 'dead_letters'), 0);
    const report = await daemon.stop();
    assert.deepEqual(report.abandoned, []);
  });

  it('an alert send held up by a stopped broker is warned about, shows in the metrics and makes the sink report it stalled, until the broker continues', async () => {
    const topic = randomName('stall-alerts');
    await createTopic(admin, topic, 1);
    const { logger, lines } = recordingLogger();
    const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
    const sink = createKafkaAlertSink(kafka, topic, {
      logger,
      observer: metrics,
      stalledAfterMs: 1_000,
    });
    await sink.connect();
    const event = (id: string) => ({ id, sensor: 's-1', state: 'firing' as const });
    await sink.send([event('a-1')]);
    assert.equal(sink.stalled(), false);

    freeze('SIGSTOP');
    const pending = sink.send([event('a-2')]);
    await waitFor(() => (stalledWarnings(lines).length > 0 ? true : undefined), {
      what: 'a warning about the send',
      timeoutMs: 15_000,
    });
    assert.match(stalledWarnings(lines)[0]?.msg ?? '', new RegExp(topic));
    assert.equal(stalledWarnings(lines)[0]?.['producer'], 'alerts');
    assert.equal(sink.stalled(), true);
    const page = await metrics.registry.metrics();
    assert.equal(sample(page, 'tsad_kafka_sends_pending', 'alerts'), 1);
    assert.ok((sample(page, 'tsad_kafka_oldest_pending_send_seconds', 'alerts') ?? 0) >= 1);
    assert.equal(sample(page, 'tsad_kafka_sends_pending', 'dead_letters'), 0);

    freeze('SIGCONT');
    await pending;
    assert.equal(sink.stalled(), false);
    await waitFor(() => (lines.some((l) => / no longer stalled/.test(l.msg)) ? true : undefined), {
      what: 'the end of the stall logged',
      timeoutMs: 5_000,
    });
    const later = await metrics.registry.metrics();
    assert.equal(sample(later, 'tsad_kafka_sends_pending', 'alerts'), 0);
    assert.equal(sample(later, 'tsad_kafka_oldest_pending_send_seconds', 'alerts'), 0);
    await sink.disconnect();
  });
});
