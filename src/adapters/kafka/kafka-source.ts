/**
 * The Kafka input: a consumer in a consumer group feeding the pipeline from
 * kafkajs' `eachBatch`, with offsets handled by hand.
 *
 * - Backpressure: the batch handler waits whenever the pipeline has more
 *   than its high-water mark in flight, and at the end of the batch until
 *   every window its messages produced is scored and the alerts delivered;
 *   kafkajs fetches the partition's next batch only after that.
 * - At-least-once: auto-commit is off. Each message is tracked until the
 *   pipeline acks it; a partition's commit position is its lowest un-acked
 *   offset (readings waiting for reordering hold it back), committed after
 *   every batch and at shutdown.
 * - Rebalances: on each group join the sensors of partitions no longer
 *   assigned are dropped from the pipeline and their tracking forgotten (the
 *   new owner replays from the committed offset); sensors of newly assigned
 *   partitions warm up from scratch.
 * - Malformed messages go to the dead-letter topic with headers naming the
 *   reason and the source topic, partition and offset.
 */
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type { Config } from '../../config/schema.ts';
import type {
  DeadLetterSink,
  PipelineObserver,
  RejectReason,
  SourceMessage,
} from '../../stream/ports.ts';
import { type KafkaLogger, kafkaError } from './kafka-client.ts';

/** What the source needs of the pipeline (src/stream/pipeline.ts fits). */
export interface PipelineInput {
  push(message: SourceMessage): void;
  inFlight(): number;
  waitForCapacity(): Promise<void>;
  waitIdle(): Promise<void>;
  revoke(match: (origin: string) => boolean): number;
}

/** Dead-letter headers (documented in docs/messages.md). */
export const DLQ_HEADERS = {
  reason: 'tsad-reject-reason',
  detail: 'tsad-reject-detail',
  topic: 'tsad-source-topic',
  partition: 'tsad-source-partition',
  offset: 'tsad-source-offset',
} as const;

/** How often acknowledged offsets are committed besides after each batch. */
const COMMIT_INTERVAL_MS = 1_000;

export interface KafkaSourceOptions {
  config: Config;
  kafka: Kafka;
  logger: KafkaLogger;
  observer: PipelineObserver;
}

/** Offsets of one partition handed to the pipeline and not yet acked. */
class PartitionTracker {
  private readonly pending = new Set<number>();
  private next = -1;
  committed = -1;

  add(offset: number): void {
    this.pending.add(offset);
    if (offset + 1 > this.next) this.next = offset + 1;
  }

  done(offset: number): void {
    this.pending.delete(offset);
  }

  /** The offset to commit: the lowest still pending, else one past the highest seen. */
  committable(): number {
    let lowest = this.next;
    for (const offset of this.pending) if (offset < lowest) lowest = offset;
    return lowest;
  }

  get inFlight(): number {
    return this.pending.size;
  }
}

/** Creates the Kafka source; nothing connects until start(). */
export function createKafkaSource(options: KafkaSourceOptions) {
  const { config, kafka, logger, observer } = options;
  const topic = config.kafka.inputTopic;
  const dlqTopic = config.kafka.deadLetterTopic;
  const highWater = config.batching.highWaterMark;
  const consumer: Consumer = kafka.consumer({
    groupId: config.kafka.groupId,
    sessionTimeout: config.kafka.sessionTimeoutMs,
    heartbeatInterval: config.kafka.heartbeatIntervalMs,
    // A rejoining member waits at most this long for the others; keeps rebalances short.
    rebalanceTimeout: Math.max(config.kafka.sessionTimeoutMs, 10_000),
    maxBytesPerPartition: Math.max(config.kafka.maxMessageBytes, 1_048_576),
    // A fetch long-polls this long when there is nothing new; disconnect waits
    // for it, so a short wait keeps the shutdown well inside its budget.
    maxWaitTimeInMs: 1_000,
  });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const trackers = new Map<string, PartitionTracker>();
  let assigned = new Set<string>();
  let connected = false;
  let stopping = false;
  let paused = false;
  let resolveEnded: () => void = () => {};
  let rejectEnded: (error: unknown) => void = () => {};
  const ended = new Promise<void>((resolve, reject) => {
    resolveEnded = resolve;
    rejectEnded = reject;
  });
  ended.catch(() => {});
  let committing: Promise<void> = Promise.resolve();
  // Readings released by the pipeline's stale timer after a partition's last
  // batch are acked with no batch left to commit them: a timer commits those.
  let commitTimer: NodeJS.Timeout | undefined;

  const key = (partition: number) => `${topic}:${partition}`;
  const trackerOf = (partition: number) => {
    let tracker = trackers.get(key(partition));
    if (!tracker) {
      tracker = new PartitionTracker();
      trackers.set(key(partition), tracker);
    }
    return tracker;
  };

  /** Commits every partition whose position advanced; serialised so commits never reorder. */
  const commit = (): Promise<void> => {
    committing = committing.then(async () => {
      const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
      for (const [origin, tracker] of trackers) {
        if (!assigned.has(origin)) continue;
        const position = tracker.committable();
        if (position > tracker.committed && position >= 0) {
          offsets.push({
            topic,
            partition: Number(origin.slice(topic.length + 1)),
            offset: String(position),
          });
        }
      }
      if (offsets.length === 0) return;
      try {
        await consumer.commitOffsets(offsets);
        for (const o of offsets) trackerOf(o.partition).committed = Number(o.offset);
        logger.debug({ offsets }, 'offsets committed');
      } catch (error) {
        // A commit during a rebalance fails; the next one (or the new owner's replay) covers it.
        logger.warn({ err: error, offsets }, 'offset commit failed');
      }
    });
    return committing;
  };

  const deadLetters: DeadLetterSink = {
    async send(message: SourceMessage, reason: RejectReason, detail: string) {
      try {
        await producer.send({
          topic: dlqTopic,
          acks: -1,
          messages: [
            {
              key: message.key,
              value: message.value,
              headers: {
                [DLQ_HEADERS.reason]: reason,
                [DLQ_HEADERS.detail]: detail,
                [DLQ_HEADERS.topic]: message.topic,
                [DLQ_HEADERS.partition]: String(message.partition),
                [DLQ_HEADERS.offset]: message.offset,
              },
            },
          ],
        });
      } catch (error) {
        throw kafkaError(`dead-letter send to ${dlqTopic} failed`, error);
      }
    },
  };

  const onAssignment = (pipeline: PipelineInput, assignment: Record<string, number[]>) => {
    const next = new Set((assignment[topic] ?? []).map((p) => key(p)));
    const revoked = [...assigned].filter((origin) => !next.has(origin));
    const added = [...next].filter((origin) => !assigned.has(origin));
    assigned = next;
    if (revoked.length > 0) {
      const gone = new Set(revoked);
      const sensors = pipeline.revoke((origin) => gone.has(origin));
      for (const origin of revoked) trackers.delete(origin);
      logger.info(
        { partitions: revoked, sensors },
        'partitions revoked: their sensor state dropped',
      );
    }
    // Tracking restarts from the committed offset kafkajs will fetch from.
    for (const origin of next) trackers.delete(origin);
    logger.info({ assigned: [...next], added }, 'partitions assigned');
  };

  const eachBatch = async (
    pipeline: PipelineInput,
    gate: () => Promise<void>,
    payload: EachBatchPayload,
  ) => {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    await gate();
    const tracker = trackerOf(batch.partition);
    for (const message of batch.messages) {
      if (stopping || !isRunning() || isStale()) break;
      const offset = Number(message.offset);
      tracker.add(offset);
      pipeline.push({
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        ack: () => tracker.done(offset),
      });
      // Marks the fetch position only; with autoCommit off kafkajs never commits it.
      resolveOffset(message.offset);
      if (pipeline.inFlight() > highWater) {
        await pipeline.waitForCapacity();
        await heartbeat();
      }
    }
    await pipeline.waitIdle();
    const last = batch.lastOffset();
    const lag = Number(batch.highWatermark) - Number(last) - 1;
    observer.consumerLag(batch.topic, batch.partition, Math.max(0, lag));
    if (!stopping) await commit();
    await heartbeat();
  };

  return {
    kind: 'kafka' as const,
    deadLetters,
    get ended() {
      return ended;
    },
    async start(pipeline: PipelineInput, gate: () => Promise<void>) {
      try {
        await producer.connect();
        await consumer.connect();
        connected = true;
        consumer.on(consumer.events.GROUP_JOIN, (event) =>
          onAssignment(pipeline, event.payload.memberAssignment),
        );
        consumer.on(consumer.events.CRASH, (event) => {
          const { error, restart } = event.payload;
          logger.error({ err: error, restart }, 'Kafka consumer crashed');
          if (!restart) {
            connected = false;
            rejectEnded(kafkaError('Kafka consumer stopped after an error', error));
          }
        });
        consumer.on(consumer.events.DISCONNECT, () => {
          connected = false;
        });
        await consumer.subscribe({ topics: [topic], fromBeginning: config.kafka.fromBeginning });
        commitTimer = setInterval(() => void commit(), COMMIT_INTERVAL_MS);
        commitTimer.unref();
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 1,
          eachBatch: (payload) => eachBatch(pipeline, gate, payload),
        });
      } catch (error) {
        throw kafkaError(`cannot consume ${topic} from ${config.kafka.brokers.join(',')}`, error);
      }
    },
    /** Stops fetching without leaving the group, so offsets can still be committed. */
    async stopConsuming() {
      stopping = true;
      clearInterval(commitTimer);
      if (connected && !paused) {
        paused = true;
        consumer.pause([{ topic }]);
      }
    },
    commit,
    async close() {
      stopping = true;
      clearInterval(commitTimer);
      await committing;
      await consumer
        .disconnect()
        .catch((error: unknown) => logger.warn({ err: error }, 'consumer disconnect failed'));
      await producer
        .disconnect()
        .catch((error: unknown) => logger.warn({ err: error }, 'producer disconnect failed'));
      connected = false;
      resolveEnded();
    },
    connected: () => connected,
    /** Messages handed to the pipeline and not yet acked, per partition (for tests and debugging). */
    inFlight: () => Object.fromEntries([...trackers].map(([origin, t]) => [origin, t.inFlight])),
  };
}
