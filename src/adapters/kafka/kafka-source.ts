/**
 * The Kafka input: a consumer in a consumer group feeding the pipeline from
 * kafkajs' `eachBatch`, with offsets handled by hand.
 *
 * - Backpressure: the batch handler waits whenever the pipeline has more
 *   than its high-water mark in flight. It does not wait for the batch's
 *   windows to be scored: kafkajs fetches and decodes the next batch while
 *   the model scores this one, bounded by that mark.
 * - At-least-once: auto-commit is off. Each message is tracked until the
 *   pipeline acks it; a partition's commit position is its lowest un-acked
 *   offset (readings waiting for reordering hold it back), committed every
 *   second and at shutdown.
 * - Rebalances: on each group join the sensors of partitions no longer
 *   assigned are dropped from the pipeline and their tracking forgotten (the
 *   new owner replays from the committed offset); sensors of newly assigned
 *   partitions warm up from scratch.
 * - Malformed messages go to the dead-letter topic with headers naming the
 *   reason and the source topic, partition and offset; a record too large
 *   for that topic goes with its value cut.
 */
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  Partitioners,
  type Producer,
} from 'kafkajs';
import type { Config } from '../../config/schema.ts';
import type {
  DeadLetter,
  DeadLetterSink,
  PipelineObserver,
  SourceMessage,
} from '../../stream/ports.ts';
import { type KafkaLogger, kafkaError, kafkaErrorType } from './kafka-client.ts';
import { createSendWatch } from './send-watch.ts';

/** What the source needs of the pipeline (src/stream/pipeline.ts fits). */
export interface PipelineInput {
  push(message: SourceMessage): void;
  inFlight(): number;
  waitForCapacity(): Promise<void>;
  waitIdle(): Promise<void>;
  /** Emits the partial micro-batch now (the end of a fetch: nothing more is coming yet). */
  flush(): void;
  revoke(match: (origin: string) => boolean): number;
}

/** Dead-letter headers (documented in docs/messages.md). */
export const DLQ_HEADERS = {
  reason: 'tsad-reject-reason',
  detail: 'tsad-reject-detail',
  topic: 'tsad-source-topic',
  partition: 'tsad-source-partition',
  offset: 'tsad-source-offset',
  /** Only on a record whose value was cut to fit the dead-letter topic: its original size in bytes. */
  originalValueBytes: 'tsad-original-value-bytes',
} as const;

/**
 * Bytes of a one-record batch besides its key, value and header names and
 * values (the batch header is 61, the record's framing a few varints), with room to spare.
 */
const RECORD_OVERHEAD_BYTES = 128;

/** Bytes a fetch waits for (about 250 small readings)… */
const FETCH_MIN_BYTES = 16_384;
/** …but no longer than this. */
const FETCH_MAX_WAIT_MS = 30;

/**
 * Messages handled in one go before the batch handler yields to the event
 * loop (about a millisecond of work), so the model's answers and timers are
 * not held up behind a large fetch. 500 held the loop up for 30 ms or more
 * 16-20 times in 20 s at stride 8 and 45,000 readings/s, against 6 with 100.
 */
const YIELD_EVERY = 100;

/** How often acknowledged offsets are committed (and at shutdown). */
const COMMIT_INTERVAL_MS = 1_000;

/**
 * How often the brokers are asked for the high watermark and the group's
 * committed offset of every assigned partition (and at each assignment), for
 * the lag of partitions no batch comes from.
 */
const OFFSETS_REFRESH_MS = 5_000;

/**
 * How long the input topic may take to appear at start. A broker that creates
 * topics on demand answers the first metadata request for a new topic with
 * UNKNOWN_TOPIC_OR_PARTITION while it creates it, and kafkajs gives up at once
 * (it retries only LEADER_NOT_AVAILABLE), so the subscription is asked again.
 */
const SUBSCRIBE_ATTEMPTS = 20;
const SUBSCRIBE_RETRY_MS = 250;

export interface KafkaSourceOptions {
  config: Config;
  kafka: Kafka;
  logger: KafkaLogger;
  observer: PipelineObserver;
}

/**
 * Offsets of one partition handed to the pipeline and not yet acked. Offsets
 * arrive in ascending order and are mostly acked in order, so they are kept
 * as a window of flags from the lowest un-acked one: add, done and the commit
 * position are O(1) amortised, with no per-offset allocation.
 */
export class PartitionTracker {
  /** Flags of offsets `base`, `base + 1`, …: 1 = handed over and not acked yet. */
  private flags = new Uint8Array(1024);
  /** Offset of flags[start]; every offset below it is acked (or was never handed over). */
  private base = 0;
  private start = 0;
  /** One past the highest offset handed over (the window's end); -1 before the first. */
  private next = -1;
  private pending = 0;
  committed = -1;
  /** The partition's highest high watermark seen, at a fetch or asked of the broker; -1 before any. */
  highWatermark = -1;
  /**
   * Where consuming the partition starts (the group's committed offset, else
   * its first or next offset as `kafka.fromBeginning` says), as last asked of
   * the broker; -1 before. Lag counts from it while no offset has been handed over.
   */
  startOffset = -1;

  add(offset: number): void {
    if (this.pending === 0 && offset >= this.next) {
      // Nothing pending: the window restarts here, however far the offset jumped.
      this.base = offset;
      this.start = 0;
    } else if (offset < this.next) {
      // Delivered again below the window's end: tracked if still in the window.
      const i = this.start + offset - this.base;
      if (offset >= this.base && this.flags[i] === 0) {
        this.flags[i] = 1;
        this.pending++;
      }
      return;
    }
    // Offsets skipped in between (compaction, transaction markers) stay 0: never pending.
    this.reserve(offset + 1 - this.base);
    this.flags[this.start + offset - this.base] = 1;
    this.pending++;
    this.next = offset + 1;
  }

  done(offset: number): void {
    const i = this.start + offset - this.base;
    if (offset < this.base || offset >= this.next || this.flags[i] !== 1) return;
    this.flags[i] = 0;
    this.pending--;
    // Advance past the acked prefix.
    while (this.base < this.next && this.flags[this.start] === 0) {
      this.start++;
      this.base++;
    }
  }

  /** The offset to commit: the lowest still pending, else one past the highest seen. */
  committable(): number {
    return this.pending === 0 ? this.next : this.base;
  }

  get inFlight(): number {
    return this.pending;
  }

  /** Makes room for `length` flags from `base`: moves them to the front, or grows. */
  private reserve(length: number): void {
    if (this.start + length <= this.flags.length) return;
    const used = this.next - this.base;
    if (length <= this.flags.length) {
      this.flags.copyWithin(0, this.start, this.start + used);
      this.flags.fill(0, used);
    } else {
      const flags = new Uint8Array(2 ** Math.ceil(Math.log2(length)));
      flags.set(this.flags.subarray(this.start, this.start + used));
      this.flags = flags;
    }
    this.start = 0;
  }
}

/**
 * One Kafka record as the pipeline sees it. A class rather than an object
 * literal with an `ack` closure: tens of thousands are made per second.
 */
class KafkaRecord implements SourceMessage {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: string,
    readonly key: Buffer | string | null,
    readonly value: Buffer | string | null,
    private readonly tracker: PartitionTracker,
    private readonly position: number,
  ) {}

  ack(): void {
    this.tracker.done(this.position);
  }

  /** What the pipeline keeps while the readings wait: not the record's value. */
  get ackHandle(): RecordAck {
    return new RecordAck(this.tracker, this.position);
  }
}

/** Acks one record by its position alone. */
class RecordAck {
  constructor(
    private readonly tracker: PartitionTracker,
    private readonly position: number,
  ) {}

  ack(): void {
    this.tracker.done(this.position);
  }
}

/** True when the broker refused a record as larger than its topic (or itself) allows. */
function isTooLarge(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE';
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
    // A fetch returns once FETCH_MIN_BYTES are there or after this wait. The
    // batch handler no longer waits for scoring, so without a floor every
    // fetch would return a handful of messages at once and the consumer and
    // the broker would spin on tiny fetches, taking CPU from the model. The
    // wait bounds the latency it adds at low rates; disconnect waits for an
    // open fetch, so it is short for shutdowns too.
    minBytes: FETCH_MIN_BYTES,
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
  });
  // Named, so kafkajs does not warn at every start that its default changed in 2.0.
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const deadLetterSends = createSendWatch({
    producer: 'dead_letters',
    topic: dlqTopic,
    stalledAfterMs: config.kafka.sendStalledAfterMs,
    logger,
    observer,
  });
  // Retried by the next refresh, not by kafkajs.
  const admin: Admin = kafka.admin({ retry: { retries: 0 } });
  const trackers = new Map<string, PartitionTracker>();
  let assigned = new Set<string>();
  /** Counts group joins, so an offsets refresh can tell its answers are from before the last one. */
  let assignments = 0;
  let refreshing = false;
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
  let refreshTimer: NodeJS.Timeout | undefined;

  const key = (partition: number) => `${topic}:${partition}`;
  const trackerOf = (partition: number) => {
    let tracker = trackers.get(key(partition));
    if (!tracker) {
      tracker = new PartitionTracker();
      trackers.set(key(partition), tracker);
    }
    return tracker;
  };

  const partitionOf = (origin: string) => Number(origin.slice(topic.length + 1));

  /**
   * Lag of every assigned partition: its high watermark minus the next offset
   * to commit (before any offset was handed over, where consuming it starts).
   * Reported at each commit, so it stays current while no batch arrives (the
   * consumer paused at the high-water mark, a dead-letter send holding a
   * partition's commits back), and the watermark is asked of the broker every
   * OFFSETS_REFRESH_MS, so messages produced meanwhile count too.
   */
  const reportLag = () => {
    for (const origin of assigned) {
      const tracker = trackers.get(origin);
      if (tracker === undefined || tracker.highWatermark < 0) continue;
      const position = tracker.committable() >= 0 ? tracker.committable() : tracker.startOffset;
      if (position < 0) continue;
      observer.consumerLag(
        topic,
        partitionOf(origin),
        Math.max(0, tracker.highWatermark - position),
      );
    }
  };

  /**
   * Asks the brokers for every assigned partition's high watermark and the
   * group's committed offset. kafkajs calls the batch handler only for
   * partitions with messages to fetch: without this, a partition that had
   * none since its committed offset had no lag series at all, and one whose
   * batches are not being handled showed the watermark of its last batch.
   * A refresh that fails is logged at debug level; the next one tries again.
   */
  const refreshOffsets = async () => {
    if (refreshing || stopping) return;
    refreshing = true;
    const generation = assignments;
    try {
      const [watermarks, groupOffsets] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: config.kafka.groupId, topics: [topic] }),
      ]);
      const committedOffsets = new Map(
        (groupOffsets[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
      );
      // After a rebalance meanwhile the answers may be about partitions no longer ours.
      for (const { partition, high, low } of generation === assignments ? watermarks : []) {
        if (stopping || !assigned.has(key(partition))) continue;
        const tracker = trackerOf(partition);
        tracker.highWatermark = Math.max(tracker.highWatermark, Number(high));
        const committed = committedOffsets.get(partition) ?? -1;
        tracker.startOffset =
          committed >= 0 ? committed : Number(config.kafka.fromBeginning ? low : high);
      }
      reportLag();
    } catch (error) {
      logger.debug({ err: error }, 'consumer lag: asking the brokers for offsets failed');
    } finally {
      refreshing = false;
    }
    // The partitions of a rebalance meanwhile are asked about at once.
    if (generation !== assignments) void refreshOffsets();
  };

  /** Commits every partition whose position advanced; serialised so commits never reorder. */
  const commit = (): Promise<void> => {
    committing = committing.then(async () => {
      const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
      for (const [origin, tracker] of trackers) {
        if (!assigned.has(origin)) continue;
        const position = tracker.committable();
        if (position > tracker.committed && position >= 0) {
          offsets.push({ topic, partition: partitionOf(origin), offset: String(position) });
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
    // Whether or not anything was committed: held-back commits are what lag shows.
    committing = committing.then(reportLag);
    return committing;
  };

  const headersOf = ({ message, reason, detail }: DeadLetter): Record<string, string> => ({
    [DLQ_HEADERS.reason]: reason,
    [DLQ_HEADERS.detail]: detail,
    [DLQ_HEADERS.topic]: message.topic,
    [DLQ_HEADERS.partition]: String(message.partition),
    [DLQ_HEADERS.offset]: message.offset,
  });

  /**
   * Sends again a dead-letter record the broker refused as too large (the
   * value with its headers above the topic's `max.message.bytes`), with the
   * value cut down: first so the record fits `kafka.maxMessageBytes`, then
   * halved while it is still refused. The reason, detail and source
   * coordinates arrive whole and a header gives the original size, so the
   * offset can be committed; without this the send was retried forever.
   */
  const sendTruncated = async (letter: DeadLetter) => {
    const { message } = letter;
    const value =
      typeof message.value === 'string'
        ? Buffer.from(message.value)
        : (message.value ?? Buffer.alloc(0));
    const headers = {
      ...headersOf(letter),
      [DLQ_HEADERS.originalValueBytes]: String(value.length),
    };
    let otherBytes = message.key === null ? 0 : Buffer.byteLength(message.key);
    for (const [name, text] of Object.entries(headers)) {
      otherBytes += Buffer.byteLength(name) + Buffer.byteLength(text);
    }
    const fitsConfigured = config.kafka.maxMessageBytes - otherBytes - RECORD_OVERHEAD_BYTES;
    let kept = value.length;
    for (;;) {
      kept = fitsConfigured < kept ? Math.max(0, fitsConfigured) : Math.floor(kept / 2);
      try {
        await deadLetterSends.track(
          producer.send({
            topic: dlqTopic,
            acks: -1,
            messages: [{ key: message.key, value: value.subarray(0, kept), headers }],
          }),
        );
        break;
      } catch (error) {
        if (kept > 0 && isTooLarge(error)) continue;
        throw kafkaError(
          `dead-letter send to ${dlqTopic} failed with the value cut to ${kept} of ${value.length} bytes`,
          error,
        );
      }
    }
    logger.error(
      {
        dlqTopic,
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        valueBytes: value.length,
        keptBytes: kept,
      },
      `dead-letter record of ${message.topic}:${message.partition}@${message.offset} too large for ${dlqTopic}: sent with its value cut to ${kept} of ${value.length} bytes (raise the topic's max.message.bytes to keep whole values)`,
    );
  };

  const deadLetters: DeadLetterSink = {
    /**
     * One produce request for the batch. A batch refused as too large goes
     * again one record at a time, each cut if it is too large alone.
     */
    async send(letters) {
      try {
        await deadLetterSends.track(
          producer.send({
            topic: dlqTopic,
            acks: -1,
            messages: letters.map((letter) => ({
              key: letter.message.key,
              value: letter.message.value,
              headers: headersOf(letter),
            })),
          }),
        );
      } catch (error) {
        if (!isTooLarge(error)) throw kafkaError(`dead-letter send to ${dlqTopic} failed`, error);
        if (letters.length === 1) await sendTruncated(letters[0]!);
        else for (const letter of letters) await deadLetters.send([letter]);
      }
    },
  };

  const onAssignment = (pipeline: PipelineInput, assignment: Record<string, number[]>) => {
    const next = new Set((assignment[topic] ?? []).map((p) => key(p)));
    const revoked = [...assigned].filter((origin) => !next.has(origin));
    const added = [...next].filter((origin) => !assigned.has(origin));
    assigned = next;
    assignments++;
    if (revoked.length > 0) {
      const gone = new Set(revoked);
      const sensors = pipeline.revoke((origin) => gone.has(origin));
      for (const origin of revoked) {
        trackers.delete(origin);
        observer.forgetPartition?.(topic, partitionOf(origin));
      }
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
    const { topic: batchTopic, partition } = batch;
    // The fetch position is marked once per stretch of messages, not per
    // message: kafkajs parses the offset string into a Long on every call.
    let unresolved: string | undefined;
    let sinceYield = 0;
    if (stopping || !isRunning() || isStale()) return;
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      tracker.add(offset);
      pipeline.push(
        new KafkaRecord(
          batchTopic,
          partition,
          message.offset,
          message.key,
          message.value,
          tracker,
          offset,
        ),
      );
      unresolved = message.offset;
      if (++sinceYield >= YIELD_EVERY) {
        // A fetch holds thousands of messages: let the event loop take the
        // model's answers (scored windows, acks) in between. Whether to go
        // on is checked here too (isStale costs a map lookup and a Long parse).
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (stopping || !isRunning() || isStale()) break;
      }
      if (pipeline.inFlight() > highWater) {
        // Marks the fetch position only; with autoCommit off kafkajs never commits it.
        resolveOffset(unresolved);
        unresolved = undefined;
        await pipeline.waitForCapacity();
        await heartbeat();
        if (stopping || !isRunning() || isStale()) break;
      }
    }
    if (unresolved !== undefined) resolveOffset(unresolved);
    // The handler returns without waiting for this batch to be scored, so
    // kafkajs fetches the next one meanwhile; the high-water mark above still
    // bounds what is in flight, and offsets are committed only once acked
    // (by the commit timer every second, and at shutdown).
    pipeline.flush();
    // Lag is reported at each commit, from the committed side: these
    // messages count until they are acked.
    tracker.highWatermark = Math.max(tracker.highWatermark, Number(batch.highWatermark));
    // No commit here: the timer commits what is acked every COMMIT_INTERVAL_MS
    // (and shutdown the rest). A commit after every batch meant about 135
    // OffsetCommit requests a second at 25,000 readings/s, more than fetches,
    // each costing this thread and the broker CPU the pipeline needs.
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
        await admin.connect();
        await consumer.connect();
        connected = true;
        // kafkajs restarts a consumer that crashed on a retriable error (a
        // broker gone): it disconnects (DISCONNECT), then connects and joins
        // the group again. The join is what says it consumes again.
        consumer.on(consumer.events.GROUP_JOIN, (event) => {
          connected = true;
          onAssignment(pipeline, event.payload.memberAssignment);
          void refreshOffsets();
        });
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
        for (let attempt = 1; ; attempt++) {
          try {
            await consumer.subscribe({
              topics: [topic],
              fromBeginning: config.kafka.fromBeginning,
            });
            break;
          } catch (error) {
            const unknown = kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION';
            if (!unknown || attempt >= SUBSCRIBE_ATTEMPTS) throw error;
            await new Promise((resolve) => setTimeout(resolve, SUBSCRIBE_RETRY_MS));
          }
        }
        commitTimer = setInterval(() => void commit(), COMMIT_INTERVAL_MS);
        commitTimer.unref();
        refreshTimer = setInterval(() => void refreshOffsets(), OFFSETS_REFRESH_MS);
        refreshTimer.unref();
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
      clearInterval(refreshTimer);
      if (connected && !paused) {
        paused = true;
        consumer.pause([{ topic }]);
      }
    },
    commit,
    async close() {
      stopping = true;
      clearInterval(commitTimer);
      clearInterval(refreshTimer);
      await committing;
      await consumer
        .disconnect()
        .catch((error: unknown) => logger.warn({ err: error }, 'consumer disconnect failed'));
      await admin
        .disconnect()
        .catch((error: unknown) => logger.warn({ err: error }, 'admin disconnect failed'));
      deadLetterSends.close();
      await producer
        .disconnect()
        .catch((error: unknown) => logger.warn({ err: error }, 'producer disconnect failed'));
      connected = false;
      resolveEnded();
    },
    connected: () => connected,
    /** True while a dead-letter send has waited `kafka.sendStalledAfterMs` or longer for the brokers. */
    sendsStalled: () => deadLetterSends.stalled(),
    /** Messages handed to the pipeline and not yet acked, per partition (for tests and debugging). */
    inFlight: () => Object.fromEntries([...trackers].map(([origin, t]) => [origin, t.inFlight])),
  };
}
