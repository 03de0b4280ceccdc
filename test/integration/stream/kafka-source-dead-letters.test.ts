/**
 * Dead-letter records the real broker refuses: one too large for the
 * dead-letter topic arrives with its value cut and the source offset is
 * committed; a refusal of another kind (a compacted dead-letter topic and a
 * message without a key) is logged once, holds the offset back, and the
 * message arrives once the topic accepts it. An in-process daemon with a
 * stand-in model: only malformed messages are sent.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { pino } from 'pino';
import { createDaemon, type Daemon } from '../../../src/app/daemon.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { SensorWindow, WindowScore, WindowScorer } from '../../../src/detector/index.ts';
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

function startDaemon(topic: string, groupId: string, logger = testLogger): Daemon {
  const config = loadConfig({
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
  return createDaemon({
    config,
    logger,
    stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
    scorer,
    scoreInWorker: false,
  });
}

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
    // Each of the 3 messages is tried again after 0.1, 0.2, 0.4 and 0.8 s.
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
});
