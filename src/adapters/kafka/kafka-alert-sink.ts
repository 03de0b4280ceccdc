/**
 * Alerts to the alert topic. Each event is one record keyed by sensor (so a
 * sensor's events stay in order on one partition), valued with the event's
 * JSON (schemas/alert.schema.json), and sent with `acks: -1`: `send` resolves
 * only once every in-sync replica has it. The producer is idempotent, and the
 * event id is deterministic (sensor + start time), so a replay after a crash
 * produces records consumers can deduplicate on the `tsad-alert-id` header.
 * kafkajs retries a send the brokers do not acknowledge with no limit on the
 * attempts; a send watch (send-watch.ts) makes one that waits too long show.
 */
import { type Kafka, Partitioners, type Producer } from 'kafkajs';
import type { AlertSink, PipelineObserver } from '../../stream/ports.ts';
import { type KafkaLogger, kafkaError } from './kafka-client.ts';
import { createSendWatch } from './send-watch.ts';

export interface KafkaAlertEvent {
  id: string;
  sensor: string;
  state: 'firing' | 'resolved';
}

export interface KafkaAlertSink<E extends KafkaAlertEvent> extends AlertSink<E> {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** True while a send has waited `stalledAfterMs` or longer for the brokers (see send-watch.ts). */
  stalled(): boolean;
}

export interface KafkaAlertSinkOptions {
  logger: KafkaLogger;
  /** Told every second how many sends are pending and how old the oldest is. */
  observer: Pick<PipelineObserver, 'pendingSends'>;
  /** A send pending this long is logged as a warning and makes stalled() true (`kafka.sendStalledAfterMs`). */
  stalledAfterMs: number;
}

/** Creates the alert producer for `topic`; call connect() before sending. */
export function createKafkaAlertSink<E extends KafkaAlertEvent>(
  kafka: Kafka,
  topic: string,
  options: KafkaAlertSinkOptions,
): KafkaAlertSink<E> {
  // Named, so kafkajs does not warn at every start that its default changed in 2.0.
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const sends = createSendWatch({ producer: 'alerts', topic, ...options });
  let closed = false;
  return {
    async connect() {
      try {
        await producer.connect();
      } catch (error) {
        throw kafkaError('cannot connect the alert producer', error);
      }
    },
    async send(events) {
      if (events.length === 0) return;
      if (closed) throw kafkaError('alert producer closed', undefined);
      try {
        await sends.track(
          producer.send({
            topic,
            acks: -1,
            messages: events.map((event) => ({
              key: event.sensor,
              value: JSON.stringify(event),
              headers: { 'tsad-alert-id': event.id, 'tsad-alert-state': event.state },
            })),
          }),
        );
      } catch (error) {
        throw kafkaError(`alert send to ${topic} failed`, error);
      }
    },
    async disconnect() {
      closed = true;
      sends.close();
      await producer.disconnect();
    },
    stalled: () => sends.stalled(),
  };
}
