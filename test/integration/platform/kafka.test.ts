import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { randomName, services, waitFor } from '../../harness/services.ts';

let kafka: Kafka;
let admin: Admin;

before(async () => {
  kafka = new Kafka({
    clientId: 'tsad-platform-test',
    brokers: services.kafkaBrokers,
    logLevel: logLevel.WARN,
  });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
});

test('a message produced to the real broker is consumed back with its key, value and headers', async () => {
  const topic = randomName('platform-kafka');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });

  const producer = kafka.producer();
  await producer.connect();
  const sent = Array.from({ length: 20 }, (_, i) => ({
    key: `sensor-${i % 3}`,
    value: JSON.stringify({ ts: 1_700_000_000_000 + i, value: i * 1.5 }),
    headers: { seq: String(i) },
  }));
  await producer.send({ topic, messages: sent });
  await producer.disconnect();

  const received: { key: string; value: string; seq: string; offset: string }[] = [];
  const consumer = kafka.consumer({ groupId: randomName('platform-group') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({
          key: message.key?.toString() ?? '',
          value: message.value?.toString() ?? '',
          seq: message.headers?.['seq']?.toString() ?? '',
          offset: message.offset,
        });
      },
    });
    await waitFor(() => (received.length >= sent.length ? true : undefined), {
      what: `${sent.length} messages on ${topic}`,
      timeoutMs: 30_000,
    });
  } finally {
    await consumer.disconnect();
  }

  assert.deepEqual(
    received.map((m) => ({ key: m.key, value: m.value, seq: m.seq })),
    sent.map((m) => ({ key: m.key, value: m.value, seq: m.headers.seq })),
  );
  assert.deepEqual(
    received.map((m) => m.offset),
    sent.map((_, i) => String(i)),
  );
  const offsets = await admin.fetchTopicOffsets(topic);
  assert.equal(offsets[0]?.high, String(sent.length));
  await admin.deleteTopics({ topics: [topic] });
});
