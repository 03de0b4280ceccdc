/**
 * The Kafka source's `tsad_consumer_lag_messages` against the real broker:
 * messages between the next offset to commit and the high watermark, kept
 * current while no batch arrives, and gone with a revoked partition; a series
 * for every assigned partition, also one that never had a message to fetch,
 * and growing with messages produced while no batch is handled. The
 * pipeline is a stand-in that acks only what the test says, as a stuck
 * dead-letter send or windows still being scored would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { createKafkaSource, type PipelineInput } from '../../../src/adapters/kafka/kafka-source.ts';
import { createMetrics, type Metrics } from '../../../src/adapters/metrics/create-metrics.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { SourceMessage } from '../../../src/stream/ports.ts';
import { randomName, services, waitFor } from '../../harness/services.ts';
import { committedOffsets, createTopic, kafkaClient } from './fixtures.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A pipeline that holds every message until the test acks it. */
function holdingPipeline() {
  const held = new Map<string, SourceMessage>();
  const pipeline: PipelineInput = {
    push(message) {
      held.set(`${message.partition}@${message.offset}`, message);
    },
    inFlight: () => held.size,
    waitForCapacity: async () => {},
    waitIdle: async () => {},
    flush() {},
    revoke: () => 0,
  };
  const ack = (partition: number, offsets: number[]) => {
    for (const offset of offsets) {
      const key = `${partition}@${offset}`;
      held.get(key)?.ack();
      held.delete(key);
    }
  };
  return { pipeline, held, ack };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** The lag series, partition → messages. */
async function lagSeries(metrics: Metrics): Promise<Record<string, number>> {
  const data = await metrics.registry.getSingleMetric('tsad_consumer_lag_messages')!.get();
  return Object.fromEntries(data.values.map((v) => [String(v.labels.partition), v.value]));
}

/** Waits until the lag series of `metrics` are `expected`; fails with the last ones seen. */
async function lagBecomes(metrics: Metrics, expected: Record<string, number>, timeoutMs = 15_000) {
  let seen: Record<string, number> = {};
  await waitFor(
    async () => {
      seen = await lagSeries(metrics);
      return isDeepStrictEqual(seen, expected) ? true : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `lag ${JSON.stringify(expected)}` },
  ).catch(() => assert.deepEqual(seen, expected, 'tsad_consumer_lag_messages by partition'));
}

describe('kafka source consumer lag', () => {
  const topic = randomName('lag');
  const groupId = randomName('tsad-lag');
  const config = loadConfig({
    env: {},
    flags: {
      kafka: {
        brokers: services.kafkaBrokers,
        inputTopic: topic,
        groupId,
        fromBeginning: true,
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 500,
      },
    },
  });
  const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
  const { pipeline, held, ack } = holdingPipeline();
  const source = createKafkaSource({
    config,
    kafka: kafkaClient(),
    logger: quiet,
    observer: metrics,
  });
  let kafka: Kafka;
  let admin: Admin;
  let other: Consumer | undefined;

  before(async () => {
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
    await createTopic(admin, topic, 2);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        ...range(0, 10).map((i) => ({ partition: 0, value: `m${i}` })),
        ...range(0, 4).map((i) => ({ partition: 1, value: `m${i}` })),
      ],
    });
    await producer.disconnect();
  });

  after(async () => {
    await other?.disconnect();
    await source.close();
    await admin?.disconnect();
  });

  it('counts from the next offset to commit, follows acks without new batches, and drops a revoked partition', async () => {
    await source.start(pipeline, async () => {});
    await waitFor(() => (held.size === 14 ? true : undefined), { what: 'all 14 messages pushed' });

    // Nothing acked: every message counts, though all of them were fetched.
    await lagBecomes(metrics, { '0': 10, '1': 4 });

    // Acks alone move it (nothing more is produced, so no batch arrives): offset 6 of
    // partition 0 stays pending and holds the commit, and the lag, back at 6.
    ack(0, [...range(0, 6), 7, 8, 9]);
    ack(1, range(0, 4));
    await lagBecomes(metrics, { '0': 4, '1': 0 });
    assert.deepEqual(
      await committedOffsets(admin, groupId, topic),
      new Map([
        [0, 6],
        [1, 4],
      ]),
    );
    ack(0, [6]);
    await lagBecomes(metrics, { '0': 0, '1': 0 });

    // A second member takes one partition: its series goes, the other's stays.
    other = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await other.connect();
    await other.subscribe({ topics: [topic], fromBeginning: true });
    await other.run({ eachMessage: async () => {} });
    let kept: string[] = [];
    await waitFor(
      async () => {
        kept = Object.keys(await lagSeries(metrics));
        return kept.length === 1 ? true : undefined;
      },
      { timeoutMs: 30_000, what: 'one partition left to the source' },
    ).catch(() => assert.equal(kept.length, 1, `lag series after the rebalance: ${kept}`));
  });
});

describe('kafka source consumer lag of partitions without batches', () => {
  const topic = randomName('lag-idle');
  const groupId = randomName('tsad-lag-idle');
  const config = loadConfig({
    env: {},
    flags: {
      kafka: {
        brokers: services.kafkaBrokers,
        inputTopic: topic,
        groupId,
        fromBeginning: true,
        // The test holds the batch handler for up to about 10 s.
        sessionTimeoutMs: 30_000,
        heartbeatIntervalMs: 1_000,
      },
    },
  });
  const metrics = createMetrics({ topSensors: 0, defaultMetrics: false });
  const { pipeline, held } = holdingPipeline();
  const source = createKafkaSource({
    config,
    kafka: kafkaClient(),
    logger: quiet,
    observer: metrics,
  });
  let kafka: Kafka;
  let admin: Admin;
  // The batch handler waits at this gate while `hold` is set.
  let hold: Promise<void> | undefined;
  let release = () => {};
  let gateEntered = 0;

  before(async () => {
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
    await createTopic(admin, topic, 3);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        ...range(0, 10).map((i) => ({ partition: 0, value: `m${i}` })),
        ...range(0, 4).map((i) => ({ partition: 2, value: `m${i}` })),
      ],
    });
    await producer.disconnect();
    // Partition 2 is consumed up to its end already: nothing of it will be fetched.
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 2, offset: '4' }] });
  });

  after(async () => {
    release();
    await source.close();
    await admin?.disconnect();
  });

  it('has a series for every assigned partition, also one never fetched from, and counts messages produced while no batch is handled', async () => {
    await source.start(pipeline, async () => {
      gateEntered++;
      await hold;
    });
    await waitFor(() => (held.size === 10 ? true : undefined), { what: '10 messages pushed' });
    // Partition 1 never had a message, partition 2 none after its committed offset.
    await lagBecomes(metrics, { '0': 10, '1': 0, '2': 0 });

    // The batch handler held on a new message of partition 0: no batch of
    // partition 1 or 2 is handled, and their lag still follows what is produced.
    hold = new Promise((resolve) => {
      release = resolve;
    });
    const entered = gateEntered;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: 'm10' }] });
    await waitFor(() => (gateEntered > entered ? true : undefined), { what: 'the gate entered' });
    await producer.send({
      topic,
      acks: -1,
      messages: [
        ...range(0, 3).map((i) => ({ partition: 1, value: `n${i}` })),
        ...range(0, 2).map((i) => ({ partition: 2, value: `n${i}` })),
      ],
    });
    await producer.disconnect();
    await lagBecomes(metrics, { '0': 11, '1': 3, '2': 2 }, 10_000);
    assert.equal(held.size, 10, 'no batch handled meanwhile');
    release();
    hold = undefined;
    await waitFor(() => (held.size === 16 ? true : undefined), { what: '16 messages pushed' });
    await lagBecomes(metrics, { '0': 11, '1': 3, '2': 2 });
  });
});
