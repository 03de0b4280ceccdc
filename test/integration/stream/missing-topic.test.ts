/**
 * A daemon started on an input topic that does not exist yet, on a broker
 * that creates topics on demand (`auto.create.topics.enable`, as the test
 * broker and Kafka's default): the broker answers the first metadata request
 * with UNKNOWN_TOPIC_OR_PARTITION while it creates the topic, and the daemon
 * must wait for it instead of failing to start.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { createDaemon, type Daemon } from '../../../src/app/daemon.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { SensorWindow, WindowScore, WindowScorer } from '../../../src/detector/index.ts';
import { randomName, services, waitFor } from '../../harness/services.ts';
import { kafkaClient, produce, readTopic, testLogger } from './fixtures.ts';

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

describe('an input topic that does not exist yet', () => {
  let kafka: Kafka;
  let admin: Admin;
  let daemon: Daemon | undefined;
  let autoCreate = true;

  before(async () => {
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
    const { brokers } = await admin.describeCluster();
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.BROKER,
          name: String(brokers[0]?.nodeId),
          configNames: ['auto.create.topics.enable'],
        },
      ],
    });
    autoCreate = resources[0]?.configEntries[0]?.configValue !== 'false';
  });

  after(async () => {
    await daemon?.stop();
    await admin?.disconnect();
  });

  it('is created by the broker and consumed when the broker creates topics on demand', async (t) => {
    if (!autoCreate) return t.skip('the broker does not create topics on demand');
    const topic = randomName('missing');
    const config = loadConfig({
      env: {},
      flags: {
        kafka: {
          brokers: services.kafkaBrokers,
          inputTopic: topic,
          alertTopic: `${topic}.alerts`,
          groupId: randomName('tsad'),
          fromBeginning: true,
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
    daemon = createDaemon({
      config,
      logger: testLogger,
      stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
      scorer,
      scoreInWorker: false,
    });
    await daemon.start();
    // Consuming: a malformed message reaches the dead-letter topic. (A
    // producer meets the same answer while the topic is being created: retry.)
    await waitFor(
      () => produce(kafka, topic, [{ key: 's-1', value: 'not json' }]).then(() => true),
      {
        what: `a message produced to ${topic}`,
        timeoutMs: 10_000,
      },
    );
    // The dead-letter topic is created by the daemon's first send to it.
    await waitFor(
      async () => ((await admin.listTopics()).includes(`${topic}.dlq`) ? true : undefined),
      {
        what: `${topic}.dlq created`,
        timeoutMs: 20_000,
      },
    );
    const records = await readTopic(kafka, `${topic}.dlq`, 1, 20_000);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.headers['tsad-reject-reason'], 'not_json');
    const report = await daemon.stop();
    assert.deepEqual(report.abandoned, []);
  });
});
