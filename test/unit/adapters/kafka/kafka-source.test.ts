/**
 * The Kafka source's `connected()` (what /readyz reports) driven through the
 * consumer's instrumentation events, with a fake client in place of a broker:
 * the event names are kafkajs' own, taken from a consumer that never connects.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kafka } from 'kafkajs';
import {
  createKafkaSource,
  type PipelineInput,
} from '../../../../src/adapters/kafka/kafka-source.ts';
import { loadConfig } from '../../../../src/config/load-config.ts';
import type { PipelineObserver } from '../../../../src/stream/ports.ts';

const config = loadConfig({ env: {}, flags: { kafka: { brokers: ['broker:9092'] } } });
const events = new Kafka({ brokers: ['broker:9092'] }).consumer({ groupId: 'events' }).events;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A kafkajs client whose consumer only records listeners; `emit` plays an event to them. */
function fakeKafka() {
  const listeners = new Map<string, Array<(event: { payload: unknown }) => void>>();
  const consumer = {
    events,
    on(name: string, listener: (event: { payload: unknown }) => void) {
      listeners.set(name, [...(listeners.get(name) ?? []), listener]);
      return () => {};
    },
    connect: async () => {},
    subscribe: async () => {},
    run: async () => {},
    pause() {},
    commitOffsets: async () => {},
    disconnect: async () => {},
  };
  const producer = { connect: async () => {}, disconnect: async () => {}, send: async () => {} };
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    fetchTopicOffsets: async () => [],
    fetchOffsets: async () => [],
  };
  const kafka = {
    consumer: () => consumer,
    producer: () => producer,
    admin: () => admin,
  } as unknown as Kafka;
  const emit = (name: string, payload: unknown = {}) => {
    for (const listener of listeners.get(name) ?? []) listener({ payload });
  };
  return { kafka, emit };
}

const pipeline: PipelineInput = {
  push() {},
  inFlight: () => 0,
  waitForCapacity: async () => {},
  waitIdle: async () => {},
  flush() {},
  revoke: () => 0,
};

async function startedSource() {
  const { kafka, emit } = fakeKafka();
  const source = createKafkaSource({
    config,
    kafka,
    logger: quiet,
    observer: {} as PipelineObserver,
  });
  await source.start(pipeline, async () => {});
  emit(events.GROUP_JOIN, { memberAssignment: { [config.kafka.inputTopic]: [0] } });
  return { source, emit };
}

describe('kafka source connected()', () => {
  it('is connected again once the consumer kafkajs restarted after a crash rejoins its group', async () => {
    const { source, emit } = await startedSource();
    assert.equal(source.connected(), true);
    // What kafkajs' onCrash does for a broker that went away: disconnect, then CRASH with restart.
    emit(events.DISCONNECT);
    emit(events.CRASH, { error: new Error('Connection error'), restart: true });
    assert.equal(source.connected(), false);
    emit(events.GROUP_JOIN, { memberAssignment: { [config.kafka.inputTopic]: [0, 1] } });
    assert.equal(source.connected(), true);
    await source.close();
    assert.equal(source.connected(), false);
  });

  it('stays disconnected and ends with an error after a crash kafkajs does not restart from', async () => {
    const { source, emit } = await startedSource();
    emit(events.CRASH, { error: new Error('not retriable'), restart: false });
    assert.equal(source.connected(), false);
    await assert.rejects(source.ended, /Kafka consumer stopped after an error/);
    await source.close();
  });
});
