/**
 * tsad's producers name their partitioner, so kafkajs does not log its
 * "switched default partitioner" warning at every Kafka start. kafkajs warns
 * once per process when a producer is created without one, before any
 * connection, so this needs no broker (and runs in its own process, as every
 * test file does).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKafkaAlertSink } from '../../../../src/adapters/kafka/kafka-alert-sink.ts';
import { createKafkaClient } from '../../../../src/adapters/kafka/kafka-client.ts';
import { createKafkaSource } from '../../../../src/adapters/kafka/kafka-source.ts';
import { loadConfig } from '../../../../src/config/load-config.ts';
import { nullObserver } from '../../../../src/stream/ports.ts';

test('creating the alert sink and the source (alert and dead-letter producers) logs no kafkajs partitioner warning', () => {
  // scripts/run-tests.mjs silences the warning for every test; this one needs it on.
  delete process.env.KAFKAJS_NO_PARTITIONER_WARNING;
  const config = loadConfig({ env: {}, flags: { kafka: { brokers: ['broker.invalid:9092'] } } });
  const lines: string[] = [];
  const record = (_fields: unknown, message: string) => lines.push(message);
  const logger = { debug: record, info: record, warn: record, error: record };
  const kafka = createKafkaClient(config, logger);
  createKafkaAlertSink(kafka, 'alerts', {
    logger,
    observer: nullObserver,
    stalledAfterMs: 30_000,
  });
  createKafkaSource({ config, kafka, logger, observer: nullObserver });
  assert.deepEqual(
    lines.filter((line) => /partitioner/i.test(line)),
    [],
  );
  // The check can fail: a producer without a partitioner does log it.
  kafka.producer();
  assert.equal(lines.filter((line) => /switched default partitioner/.test(line)).length, 1);
});
