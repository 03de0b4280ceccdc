/**
 * Watches the sends of one Kafka producer. kafkajs' idempotent producer
 * retries a send that fails for a reason it counts as retriable (a broker
 * that does not answer, a partition without a leader, fewer in-sync replicas
 * than the topic's `min.insync.replicas`) with no limit on the attempts: the
 * send does not fail, it just does not end, and without the watch nothing
 * would say so. It counts the sends not settled
 * yet and reports them with the age of the oldest every second
 * (`observer.pendingSends`); while the oldest has waited `stalledAfterMs` or
 * longer it logs a warning, again every `stalledAfterMs`, and once it no
 * longer has, an info line.
 */
import type { PipelineObserver, ProducerName } from '../../stream/ports.ts';
import type { KafkaLogger } from './kafka-client.ts';

export interface SendWatchOptions {
  producer: ProducerName;
  /** The topic the producer sends to, for the log lines. */
  topic: string;
  stalledAfterMs: number;
  logger: KafkaLogger;
  observer: Pick<PipelineObserver, 'pendingSends'>;
}

export interface SendWatch {
  /** Counts `send` as pending until it settles; returns it. */
  track<T>(send: Promise<T>): Promise<T>;
  /** True while a send has been pending for `stalledAfterMs` or longer. */
  stalled(): boolean;
  /** Stops watching (the producer is closed): reports no sends pending from now on. */
  close(): void;
}

const CHECK_INTERVAL_MS = 1_000;

/** Creates the watch of one producer; its check timer does not keep the process alive. */
export function createSendWatch(options: SendWatchOptions): SendWatch {
  const { producer, topic, stalledAfterMs, logger, observer } = options;
  const what = producer === 'alerts' ? 'alert sends' : 'dead-letter sends';
  /** Start times of the sends not settled yet, in the order they started: the first is the oldest. */
  const pending = new Set<{ since: number }>();
  let warnedAt: number | undefined;

  const oldestAgeMs = (now: number) => {
    const oldest = pending.values().next().value;
    return oldest === undefined ? 0 : now - oldest.since;
  };

  const check = () => {
    const now = Date.now();
    const age = oldestAgeMs(now);
    observer.pendingSends?.(producer, pending.size, age / 1000);
    if (age >= stalledAfterMs) {
      if (warnedAt !== undefined && now - warnedAt < stalledAfterMs) return;
      warnedAt = now;
      const seconds = Math.round(age / 1000);
      logger.warn(
        { producer, topic, sends: pending.size, oldestSeconds: seconds },
        `Kafka ${what} to ${topic} not acknowledged for ${seconds} s (${pending.size} pending); kafkajs retries them until the brokers acknowledge them: is a broker down, a partition without a leader, or are fewer replicas in sync than the topic's min.insync.replicas?`,
      );
    } else if (warnedAt !== undefined) {
      warnedAt = undefined;
      logger.info({ producer, topic }, `Kafka ${what} to ${topic} no longer stalled`);
    }
  };
  const timer = setInterval(check, CHECK_INTERVAL_MS);
  timer.unref();

  return {
    track(send) {
      const entry = { since: Date.now() };
      pending.add(entry);
      return send.finally(() => pending.delete(entry));
    },
    stalled: () => oldestAgeMs(Date.now()) >= stalledAfterMs,
    close() {
      clearInterval(timer);
      pending.clear();
      observer.pendingSends?.(producer, 0, 0);
    },
  };
}
