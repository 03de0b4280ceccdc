/**
 * The benchmark's raw producer against the real broker: what it writes is
 * accepted (the broker checks each batch's CRC) and read back by kafkajs
 * with the same keys, values, timestamps, partitions and order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Admin, Kafka } from 'kafkajs';
import { connectRawProducer, type RawRecord } from '../../../bench/e2e/raw-producer.ts';
import { randomName, services } from '../../harness/services.ts';
import { createTopic, kafkaClient } from '../stream/fixtures.ts';

interface Read {
  key: string;
  value: string;
  partition: number;
  offset: number;
  timestamp: number;
}

/** Reads `topic` from the beginning until `expected` records came (fails after 30 s). */
async function readAll(kafka: Kafka, topic: string, expected: number): Promise<Read[]> {
  const records: Read[] = [];
  const consumer = kafka.consumer({ groupId: randomName('raw-reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`read ${records.length} of ${expected}`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          records.push({
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
            partition,
            offset: Number(message.offset),
            timestamp: Number(message.timestamp),
          });
          if (records.length >= expected) resolve();
        },
      });
    }).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return records;
}

describe('raw producer (bench/e2e)', () => {
  let kafka: Kafka;
  let admin: Admin;

  before(async () => {
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
  });
  after(async () => {
    await admin.disconnect();
  });

  it('delivers every record to its partition in order, with key, value and timestamp', async (t) => {
    const topic = randomName('raw-producer');
    await createTopic(admin, topic, 3);
    const producer = await connectRawProducer({ brokers: services.kafkaBrokers, topic });
    // Closed however the test ends: an open socket kept this file alive until
    // the broker dropped the idle connection, 10 minutes later.
    t.after(() => producer.close());
    assert.equal(producer.partitions, 3);
    const t0 = Date.now();
    const sent: Array<RawRecord & { partition: number }> = [];
    const sends: Promise<void>[] = [];
    // Pipelined sends of uneven sizes, one partition left empty in some, and a
    // value long enough for two-byte varints.
    for (let request = 0; request < 20; request++) {
      const byPartition: RawRecord[][] = [[], [], []];
      for (let i = 0; i < 1 + request * 7; i++) {
        const partition = request % 4 === 0 ? i % 2 : i % 3;
        const record = {
          key: `k-${request}-${i}`,
          value: i === 0 ? 'x'.repeat(300) : `{"n":${request * 1000 + i}}`,
          timestamp: t0 + request * 10 + (i % 5),
        };
        byPartition[partition]!.push(record);
        sent.push({ ...record, partition });
      }
      sends.push(producer.send(byPartition));
    }
    await Promise.all(sends);
    await producer.close();

    const read = await readAll(kafka, topic, sent.length);
    assert.equal(read.length, sent.length);
    for (let partition = 0; partition < 3; partition++) {
      const expected = sent.filter((r) => r.partition === partition);
      const got = read.filter((r) => r.partition === partition).sort((a, b) => a.offset - b.offset);
      assert.deepEqual(
        got.map((r) => [r.key, r.value, r.timestamp]),
        expected.map((r) => [r.key, r.value, r.timestamp]),
      );
    }
  });

  it('keeps timestamps that are out of order within a batch', async (t) => {
    const topic = randomName('raw-producer-ts');
    await createTopic(admin, topic, 1);
    const producer = await connectRawProducer({ brokers: services.kafkaBrokers, topic });
    t.after(() => producer.close());
    const base = Date.UTC(2026, 0, 1);
    await producer.send([
      [
        { key: 'a', value: '1', timestamp: base + 5 },
        { key: 'b', value: '2', timestamp: base },
        { key: 'c', value: '3', timestamp: base + 123_456 },
      ],
    ]);
    await producer.close();
    const timestamps = (await readAll(kafka, topic, 3)).map((r) => r.timestamp);
    assert.deepEqual(timestamps, [base + 5, base, base + 123_456]);
  });

  it('rejects a send the broker refuses, and every send after it', async (t) => {
    const topic = randomName('raw-producer-big');
    await createTopic(admin, topic, 1);
    const producer = await connectRawProducer({ brokers: services.kafkaBrokers, topic });
    t.after(() => producer.close());
    // Above the broker's default message.max.bytes (1 MB): MESSAGE_TOO_LARGE (10).
    const huge = [{ key: 'k', value: 'x'.repeat(1_100_000), timestamp: Date.now() }];
    await assert.rejects(producer.send([huge]), /Kafka error 10/);
    await assert.rejects(producer.send([[{ key: 'k', value: 'ok', timestamp: Date.now() }]]));
    await producer.close();
  });
});
