/**
 * Dead-letter records the real broker refuses: one too large for the
 * dead-letter topic arrives with its value cut and the source offset is
 * committed; a refusal of another kind (a compacted dead-letter topic and a
 * message without a key) is logged once, holds the offset back, and the
 * message arrives once the topic accepts it; many refused records are retried
 * in a few produce requests, not one each. An in-process daemon with a
 * stand-in model: only malformed messages are sent.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { pino } from 'pino';
import { createKafkaClient, createKafkaSource } from '../../../src/adapters/kafka/index.ts';
import { createDaemon, type Daemon, type DaemonSource } from '../../../src/app/daemon.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { Config } from '../../../src/config/schema.ts';
import type { SensorWindow, WindowScore, WindowScorer } from '../../../src/detector/index.ts';
import { nullObserver } from '../../../src/stream/ports.ts';
import { randomName, services, waitFor } from '../../harness/services.ts';
import {
  committedOffsets,
  createTopic,
  kafkaClient,
  produce,
  readTopic,
  testLogger,
} from './fixtures.ts';

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

/** A logger that keeps every line it writes (parsed), for assertions on what was logged. */
function recordingLogger() {
  const lines: Array<{ level: number; msg: string; err?: { message: string } }> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

function daemonConfig(topic: string, groupId: string): Config {
  return loadConfig({
    env: {},
    flags: {
      kafka: {
        brokers: services.kafkaBrokers,
        inputTopic: topic,
        alertTopic: `${topic}.alerts`,
        groupId,
        fromBeginning: true,
        maxMessageBytes: 65_536,
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 1_000,
      },
      window: { size: 4, stride: 1 },
      model: { backend: 'cpu' },
      retraining: { enabled: false },
      alerts: { stdout: false },
      metrics: { enabled: false },
      shutdown: { timeoutMs: 5_000 },
    },
  });
}

function startDaemon(
  topic: string,
  groupId: string,
  logger = testLogger,
  source?: DaemonSource,
): Daemon {
  return createDaemon({
    config: daemonConfig(topic, groupId),
    logger,
    stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
    scorer,
    scoreInWorker: false,
    ...(source ? { source } : {}),
  });
}

/** The daemon's Kafka source, on a client whose producers count the Produce requests they make. */
function countingSource(config: Config, logger: pino.Logger) {
  const kafka = createKafkaClient(config, logger);
  const produceRequests = { count: 0 };
  const producer = kafka.producer.bind(kafka);
  kafka.producer = (options) => {
    const made = producer(options);
    made.on(made.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'Produce') produceRequests.count++;
    });
    return made;
  };
  const source = createKafkaSource({ config, kafka, logger, observer: nullObserver });
  return { source, produceRequests };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('dead-letter records the broker refuses', () => {
  let kafka: Kafka;
  let admin: Admin;
  const daemons: Daemon[] = [];
  const dlqTopics: string[] = [];

  const committedTo = (groupId: string, topic: string, offset: number) =>
    waitFor(
      async () =>
        (await committedOffsets(admin, groupId, topic)).get(0) === offset ? true : undefined,
      { what: `offset ${offset} of ${topic} committed`, timeoutMs: 30_000, intervalMs: 250 },
    );

  before(async () => {
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
  });

  /** Makes a dead-letter topic accept any record: the topic's defaults again. */
  const acceptEverything = (dlqTopic: string) =>
    admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: dlqTopic,
          configEntries: [
            { name: 'cleanup.policy', value: 'delete' },
            { name: 'max.message.bytes', value: '1048588' },
          ],
        },
      ],
    });

  /**
   * An input topic holding `count` keyless malformed messages and its
   * dead-letter topic, compacted, which refuses their keyless records.
   */
  const refusedDeadLetters = async (prefix: string, count: number) => {
    const topic = randomName(prefix);
    const groupId = randomName('tsad');
    const dlqTopic = `${topic}.dlq`;
    await createTopic(admin, topic, 1);
    dlqTopics.push(dlqTopic);
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
      messages: Array.from({ length: count }, (_, i) => ({ key: null, value: `not json ${i}` })),
    });
    await producer.disconnect();
    return { topic, groupId, dlqTopic };
  };

  after(async () => {
    // A daemon whose dead-letter sends are stuck (a test that failed) gives
    // them up at stop but keeps its consumer, and the test process would not end.
    for (const dlqTopic of dlqTopics) await acceptEverything(dlqTopic);
    for (const daemon of daemons) await daemon.stop();
    await admin?.disconnect();
  });

  it('sends a record too large for the dead-letter topic with its value cut, and commits its offset', async () => {
    const topic = randomName('dlq-large');
    const groupId = randomName('tsad');
    await createTopic(admin, topic, 1);
    dlqTopics.push(`${topic}.dlq`);
    await admin.createTopics({
      topics: [
        {
          topic: `${topic}.dlq`,
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: '2048' }],
        },
      ],
      waitForLeaders: true,
    });
    // Under kafka.maxMessageBytes, so rejected as not JSON, with its whole value.
    const large = `{"sensor": "s-1", "ts": ${'9'.repeat(30_000)}`;
    await produce(kafka, topic, [
      { key: 's-1', value: 'not json' },
      { key: 's-1', value: large },
    ]);

    const daemon = startDaemon(topic, groupId);
    daemons.push(daemon);
    await daemon.start();
    await committedTo(groupId, topic, 2);

    const records = await readTopic(kafka, `${topic}.dlq`, 2, 10_000);
    assert.equal(records.length, 2);
    const [small, cut] = records as [(typeof records)[0], (typeof records)[0]];
    assert.equal(small.value, 'not json');
    assert.equal(small.headers['tsad-original-value-bytes'], undefined);
    assert.equal(cut.headers['tsad-reject-reason'], 'not_json');
    assert.equal(cut.headers['tsad-source-topic'], topic);
    assert.equal(cut.headers['tsad-source-offset'], '1');
    assert.ok((cut.headers['tsad-reject-detail'] ?? '').length > 0);
    assert.equal(cut.headers['tsad-original-value-bytes'], String(large.length));
    assert.ok(cut.value.length > 0 && cut.value.length < 2048, `kept ${cut.value.length} bytes`);
    assert.ok(large.startsWith(cut.value), 'the value kept is the start of the original');

    const report = await daemon.stop();
    assert.deepEqual(report.abandoned, []);
  });

  it('logs a refusal of another kind once, holds the offset back, and delivers once the topic accepts the record', async () => {
    const topic = randomName('dlq-refused');
    const groupId = randomName('tsad');
    const dlqTopic = `${topic}.dlq`;
    await createTopic(admin, topic, 1);
    dlqTopics.push(dlqTopic);
    // A compacted topic refuses records without a key (INVALID_RECORD).
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
    const daemon = startDaemon(topic, groupId, logger);
    daemons.push(daemon);
    await daemon.start();
    const refusals = () => lines.filter((l) => l.msg.startsWith('dead-letter send refused'));
    await waitFor(() => (refusals().length > 0 ? true : undefined), {
      what: 'the refusal logged',
      timeoutMs: 30_000,
    });
    // The 3 messages are tried again, together, after 0.1, 0.2, 0.4 and 0.8 s.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // Said once: no warning or error line repeats, tsad's or kafkajs'.
    const loud = lines.filter((l) => l.level >= 40).map((l) => l.msg);
    assert.deepEqual(loud, [...new Set(loud)]);
    assert.equal(refusals().length, 1);
    assert.match(refusals()[0]?.err?.message ?? '', new RegExp(`${dlqTopic}.*INVALID_RECORD`));
    // Committed up to the first refused message, not past it.
    assert.equal((await committedOffsets(admin, groupId, topic)).get(0), 0);

    await acceptEverything(dlqTopic);
    await committedTo(groupId, topic, 3);
    const records = await readTopic(kafka, dlqTopic, 3, 10_000);
    assert.deepEqual(records.map((r) => r.value).sort(), [
      'not json 0',
      'not json 1',
      'not json 2',
    ]);
    assert.equal(lines.filter((l) => l.msg === 'dead-letter sends accepted again').length, 1);
  });

  it('retries many refused records in a few produce requests, not one each, and delivers each once accepted', async () => {
    const count = 300;
    const { topic, groupId, dlqTopic } = await refusedDeadLetters('dlq-batch', count);

    const { logger, lines } = recordingLogger();
    const { source, produceRequests } = countingSource(daemonConfig(topic, groupId), logger);
    const daemon = startDaemon(topic, groupId, logger, source);
    daemons.push(daemon);
    await daemon.start();
    await waitFor(
      () => (lines.some((l) => l.msg.startsWith('dead-letter send refused')) ? true : undefined),
      { what: 'the refusal logged', timeoutMs: 30_000 },
    );
    // Past every record's first attempt, while the refused records are retried.
    await sleep(3_000);
    const before = produceRequests.count;
    await sleep(3_000);
    const retries = produceRequests.count - before;
    assert.ok(
      retries <= 6,
      `${retries} produce requests in 3 s of retrying ${count} refused records`,
    );
    assert.equal((await committedOffsets(admin, groupId, topic)).get(0), 0);

    await acceptEverything(dlqTopic);
    await committedTo(groupId, topic, count);
    const records = await readTopic(kafka, dlqTopic, count, 10_000);
    assert.equal(records.length, count);
    assert.equal(new Set(records.map((r) => r.value)).size, count);
  });

  it('sends a retried batch the topic refuses as too large one record at a time, each whole if it fits', async () => {
    const topic = randomName('dlq-split');
    const groupId = randomName('tsad');
    const dlqTopic = `${topic}.dlq`;
    const count = 20;
    await createTopic(admin, topic, 1);
    dlqTopics.push(dlqTopic);
    // Refuses every keyless record first (compacted); then only records over 2 KiB.
    await admin.createTopics({
      topics: [
        {
          topic: dlqTopic,
          numPartitions: 1,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'max.message.bytes', value: '2048' },
          ],
        },
      ],
      waitForLeaders: true,
    });
    const values = Array.from({ length: count }, (_, i) => `not json ${i} ${'x'.repeat(600)}`);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: values.map((value) => ({ key: null, value })),
    });
    await producer.disconnect();

    const { logger, lines } = recordingLogger();
    const daemon = startDaemon(topic, groupId, logger);
    daemons.push(daemon);
    await daemon.start();
    await waitFor(
      () => (lines.some((l) => l.msg.startsWith('dead-letter send refused')) ? true : undefined),
      { what: 'the refusal logged', timeoutMs: 30_000 },
    );
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: dlqTopic,
          configEntries: [
            { name: 'cleanup.policy', value: 'delete' },
            { name: 'max.message.bytes', value: '2048' },
          ],
        },
      ],
    });
    await committedTo(groupId, topic, count);
    const records = await readTopic(kafka, dlqTopic, count, 10_000);
    assert.deepEqual(records.map((r) => r.value).sort(), [...values].sort());
    assert.ok(records.every((r) => r.headers['tsad-original-value-bytes'] === undefined));
    // The batch of 20 (about 13 kB) was refused as a whole before.
    assert.ok(lines.some((l) => /larger than the max message size/.test(l.msg)));
  });

  it('gives up the records still refused at a stop in one summary line, and leaves their offsets uncommitted', async () => {
    const count = 300;
    const { topic, groupId } = await refusedDeadLetters('dlq-stop', count);

    const { logger, lines } = recordingLogger();
    const daemon = startDaemon(topic, groupId, logger);
    daemons.push(daemon);
    await daemon.start();
    await waitFor(
      () => (lines.some((l) => l.msg.startsWith('dead-letter send refused')) ? true : undefined),
      { what: 'the refusal logged', timeoutMs: 30_000 },
    );
    await sleep(1_000);
    const report = await daemon.stop();

    assert.deepEqual(report.abandoned, [`drain pipeline (${count} windows or sends given up)`]);
    assert.equal(lines.filter((l) => l.msg === 'dead-letter send abandoned').length, 0);
    const summaries = lines.filter((l) => l.msg.startsWith('dead-letter sends abandoned'));
    assert.equal(summaries.length, 1);
    const summary = summaries[0] as unknown as Record<string, unknown>;
    assert.equal(summary['level'], 50);
    assert.equal(summary['messages'], count);
    assert.deepEqual(summary['reasons'], { not_json: count });
    assert.deepEqual(summary['partitions'], {
      [`${topic}:0`]: { messages: count, firstOffset: '0', lastOffset: String(count - 1) },
    });
    assert.match((summary['err'] as { message: string }).message, /INVALID_RECORD/);
    assert.equal((await committedOffsets(admin, groupId, topic)).get(0), 0);
  });
});
