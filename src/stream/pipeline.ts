/**
 * The streaming pipeline, built only from ports: messages in → decode →
 * per-sensor sliding windows → micro-batches → model → detector → sinks
 * (alerts, scored windows, observer). Sources push messages and read
 * `inFlight()` / `waitForCapacity()` / `waitIdle()` to apply backpressure:
 * RxJS has none of its own, so it is applied where the data enters.
 *
 * Delivery: a message is acked only when each of its readings is placed in a
 * window whose scoring and alert delivery are done (or dropped by a rule), or
 * when it is dead-lettered. Scorer failures are retried a few times and then
 * the batch is given up (logged); alert deliveries are retried until they
 * succeed or the pipeline is aborted, because alerts are never dropped silently.
 * Nothing a message contains can make the pipeline throw.
 */
import {
  concatMap,
  defer,
  from,
  map,
  type Observable,
  type SchedulerLike,
  Subject,
  type Subscription,
  tap,
} from 'rxjs';
import type {
  AlertState,
  DetectorInput,
  Reading,
  SensorWindow,
  WindowScore,
  WindowScorer,
} from '../detector/index.ts';
import { isTsadError } from '../errors.ts';
import { createDecoder, type DecodeOptions } from './decode.ts';
import { microBatch } from './micro-batch.ts';
import type {
  AlertLike,
  AlertSink,
  DeadLetter,
  DeadLetterSink,
  PipelineLogger,
  PipelineObserver,
  RejectReason,
  ScoredWindowSink,
  SourceMessage,
} from './ports.ts';
import {
  createWindowStore,
  type SlidingWindowOptions,
  slidingWindow,
  type TrackedReading,
  type TrackedWindow,
} from './sliding-window.ts';

/** The detector as the pipeline sees it (src/detector's DetectorRegistry fits). */
export interface PipelineDetector<E extends AlertLike> {
  observe(input: DetectorInput): {
    calibratedScore: number;
    threshold: number;
    anomalous: boolean;
    alertState: AlertState;
    events: E[];
  };
  forget(sensor: string): boolean;
}

export interface PipelineOptions {
  decode: Partial<DecodeOptions>;
  window: Partial<SlidingWindowOptions>;
  maxBatchSize: number;
  maxDelayMs: number;
  /** Windows in flight above which sources should wait (`waitForCapacity`). */
  highWaterMark: number;
  /** Wall-clock age after which a reading waiting for reordering is released anyway. */
  staleAfterMs: number;
  /** Attempts of one scoring call before its windows are given up. */
  scoreAttempts: number;
  /** Longest wait between two attempts to deliver alerts. */
  maxRetryDelayMs: number;
  /**
   * Scoring calls that may be under way at once. A model in a worker thread
   * needs a queue of them: this thread may be busy decoding a large fetch
   * for a while before it sends more, and the worker would idle meanwhile.
   */
  scoringConcurrency: number;
}

export const defaultPipelineOptions: Readonly<PipelineOptions> = Object.freeze({
  decode: {},
  window: {},
  maxBatchSize: 64,
  maxDelayMs: 50,
  highWaterMark: 10_000,
  staleAfterMs: 2_000,
  scoreAttempts: 3,
  maxRetryDelayMs: 5_000,
  scoringConcurrency: 32,
});

export interface PipelineDeps<E extends AlertLike> {
  options?: Partial<PipelineOptions>;
  /** The model in use now, read at every batch so a retrained model swaps in atomically; undefined while cold. */
  scorer: () => WindowScorer | undefined;
  detector: PipelineDetector<E>;
  alerts: AlertSink<E>;
  deadLetters: DeadLetterSink;
  scoredWindows?: readonly ScoredWindowSink[];
  observer: PipelineObserver;
  logger: PipelineLogger;
  /**
   * While no model is loaded: a promise of the model being trained right now,
   * or undefined when none is. Windows then wait for it (holding back the
   * source through `inFlight`) instead of passing by unscored.
   */
  waitForScorer?: () => Promise<WindowScorer | undefined> | undefined;
  /** Windows that arrive while no model is loaded (cold start collects them to train on). */
  onUnscored?: (window: SensorWindow) => void;
  /**
   * Every scored window with its score and verdict (the retraining scheduler's
   * reservoir and drift detector). Must be cheap; exceptions are logged.
   */
  onScored?: (window: SensorWindow, score: WindowScore, anomalous: boolean) => void;
  /** Every decoded reading, before windowing (raw readings to InfluxDB). Must be cheap; never throws into the pipeline. */
  onReading?: (reading: Reading) => void;
  now?: () => number;
  scheduler?: SchedulerLike;
}

/** Statistics of a pipeline since it started. */
export interface PipelineStats {
  messages: number;
  rejected: number;
  readings: number;
  windowsScored: number;
  windowsUnscored: number;
  windowsGivenUp: number;
  alerts: number;
}

export interface Pipeline {
  /** Decodes one message and feeds its readings in. Never throws on bad input. */
  push(message: SourceMessage): void;
  /** Windows and dead-letter sends not yet done. */
  inFlight(): number;
  /** Resolves once in-flight work is at most half the high-water mark. */
  waitForCapacity(): Promise<void>;
  /** Emits the partial micro-batch now and resolves when nothing is in flight. */
  waitIdle(): Promise<void>;
  /**
   * The source has nothing more for now (the end of a fetch): emits the
   * partial micro-batch at once if the model is idle or nearly, else once it
   * catches up (or when the batch fills or its delay runs out). Never waits.
   */
  flush(): void;
  /**
   * Drops the state of sensors whose messages came from a matching origin
   * (`topic:partition`): their readings waiting for reordering are abandoned, never acked.
   */
  revoke(match: (origin: string) => boolean): number;
  /**
   * At shutdown: releases the readings waiting for reordering, at most a
   * high-water mark of them at a time so scoring keeps pace, for up to
   * `releaseForMs`; then waits until idle. Readings still waiting after that
   * (a large fleet: 100,000 sensors hold about a million at the default
   * lateness, a minute of scoring) are abandoned un-acked, so their offsets
   * are not committed and a restart reads them again.
   */
  drain(releaseForMs?: number): Promise<void>;
  /** Stops alert retries, so a shutdown past its budget does not hang. */
  abort(): void;
  /** Completes the stream and frees its state. */
  close(): Promise<void>;
  stats(): Readonly<PipelineStats>;
}

/**
 * What a reading carries back to ack its message: the message itself when it
 * holds one reading (no allocation per reading), else a countdown over its readings.
 */
interface MessageAck {
  ack(): void;
}

/** Scoring calls under way below which a source's flush cuts the partial micro-batch at once. */
const FLUSH_BELOW = 2;

/**
 * Dead letters retried in one send at most: this many, and no more than
 * about DEAD_LETTER_BATCH_BYTES of values and details (one, however large).
 * The Kafka sink sends a batch as one produce request, whose records for one
 * partition must fit the dead-letter topic's max.message.bytes (1 MB by default).
 */
const DEAD_LETTER_BATCH = 500;
const DEAD_LETTER_BATCH_BYTES = 512 * 1024;

/** Builds and starts a pipeline. */
export function createPipeline<E extends AlertLike>(deps: PipelineDeps<E>): Pipeline {
  const o: PipelineOptions = { ...defaultPipelineOptions, ...deps.options };
  const now = deps.now ?? Date.now;
  const { observer, logger } = deps;
  const store = createWindowStore<MessageAck>(o.window);
  const input = new Subject<Parameters<typeof store.push>[0]>();
  /** Each value releases about that many waiting readings (a drain). */
  const flushWindows = new Subject<number>();
  const flushBatch = new Subject<void>();
  const stats: PipelineStats = {
    messages: 0,
    rejected: 0,
    readings: 0,
    windowsScored: 0,
    windowsUnscored: 0,
    windowsGivenUp: 0,
    alerts: 0,
  };
  let windowsInFlight = 0;
  let sendsInFlight = 0;
  let aborted = false;
  let closed = false;
  const waiters: Array<{ level: number; resolve: () => void }> = [];
  // Retry loops (dead letters, alert delivery, scoring) waiting out a backoff; abort() wakes them.
  const sleepers = new Set<() => void>();
  /** Waits `ms`, or until the pipeline is aborted. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });

  const settle = () => {
    const level = windowsInFlight + sendsInFlight;
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]!;
      if (level <= waiter.level) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  };
  /** Windows and sends that may still enter before the high-water mark. */
  const roomUnderMark = () => o.highWaterMark - windowsInFlight - sendsInFlight;
  const waitFor = (level: number) =>
    windowsInFlight + sendsInFlight <= level
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ level, resolve }));

  // Decoders are cached per model channel set: a loaded model fixes the channels readings must carry.
  // A model's channel array is the same from message to message; only a new one is sorted and compared.
  let decoder: {
    channels: readonly string[] | undefined;
    key: string;
    decode: ReturnType<typeof createDecoder>;
  } = { channels: undefined, key: '', decode: createDecoder(o.decode) };
  const decoderFor = (scorer: WindowScorer | undefined) => {
    const modelChannels = scorer?.channels;
    if (modelChannels === decoder.channels) return decoder.decode;
    const channels = modelChannels ? [...modelChannels].sort() : undefined;
    const key = channels?.join('\u0000') ?? '';
    decoder = {
      channels: modelChannels,
      key,
      decode:
        key === decoder.key
          ? decoder.decode
          : createDecoder(channels ? { ...o.decode, expectedChannels: channels } : o.decode),
    };
    return decoder.decode;
  };

  // A dead-letter topic that refuses records (no permission to write, an
  // invalid name) refuses every attempt of every rejected message: that is
  // logged once, and again only after a send got through in between.
  let refusedSends = 0;

  // Dead letters whose send failed, oldest first. One retry loop sends them
  // again in batches, so a dead-letter topic that refuses thousands of them
  // costs one request per retry instead of thousands, and a message rejected
  // while some wait joins them instead of trying alone. They count as in
  // flight, so the high-water mark bounds them: the source waits.
  const stuck: DeadLetter[] = [];
  let retryingStuck = false;
  let lastSendError: unknown;

  const noteFailedSend = (error: unknown, attempt: number, letters: number) => {
    lastSendError = error;
    if (isTsadError(error) && !error.retriable) {
      if (refusedSends++ === 0) {
        logger.error(
          { err: error },
          'dead-letter send refused; rejected messages are retried, and their offsets not committed, until the dead-letter topic accepts them',
        );
      }
    } else {
      logger.warn({ err: error, attempt, letters }, 'dead-letter send failed; retrying');
    }
  };

  const written = (letters: readonly DeadLetter[]) => {
    if (refusedSends > 0) {
      logger.info({ refusedSends }, 'dead-letter sends accepted again');
      refusedSends = 0;
    }
    for (const letter of letters) letter.message.ack();
    sendsInFlight -= letters.length;
    settle();
  };

  /** The oldest stuck letters, at most DEAD_LETTER_BATCH of them and about DEAD_LETTER_BATCH_BYTES (one at least). */
  const nextBatch = (): DeadLetter[] => {
    let end = 0;
    let bytes = 0;
    while (end < stuck.length && end < DEAD_LETTER_BATCH) {
      bytes += letterBytes(stuck[end]!);
      if (end > 0 && bytes > DEAD_LETTER_BATCH_BYTES) break;
      end++;
    }
    return stuck.slice(0, end);
  };

  /** Sends the stuck letters again, a batch at a time, backing off while they fail; until aborted. */
  const retryStuck = async () => {
    if (retryingStuck) return;
    retryingStuck = true;
    let failures = 1;
    while (stuck.length > 0 && !aborted) {
      // After a batch got through, the next one goes at once.
      if (failures > 0) await pause(backoff(failures, o.maxRetryDelayMs));
      if (aborted) break;
      const batch = nextBatch();
      try {
        await deps.deadLetters.send(batch);
      } catch (error) {
        failures++;
        noteFailedSend(error, failures, batch.length);
        continue;
      }
      stuck.splice(0, batch.length);
      written(batch);
      failures = 0;
    }
    retryingStuck = false;
    // Given up at shutdown: never acked, so their offsets are not committed and a restart reads them again.
    const abandoned = stuck.splice(0);
    if (abandoned.length > 0) logAbandoned(abandoned);
    sendsInFlight -= abandoned.length;
    settle();
  };

  /**
   * One line for the dead letters given up at shutdown, however many: how
   * many, why they were rejected, and where they are in the input (first and
   * last offset per partition), so an operator can find them again.
   */
  const logAbandoned = (letters: readonly DeadLetter[]) => {
    const reasons: Partial<Record<RejectReason, number>> = {};
    const partitions: Record<
      string,
      { messages: number; firstOffset: string; lastOffset: string }
    > = {};
    for (const { message, reason } of letters) {
      reasons[reason] = (reasons[reason] ?? 0) + 1;
      const origin = `${message.topic}:${message.partition}`;
      const seen = partitions[origin];
      const offset = message.offset;
      if (seen === undefined) {
        partitions[origin] = { messages: 1, firstOffset: offset, lastOffset: offset };
        continue;
      }
      seen.messages++;
      if (Number(offset) < Number(seen.firstOffset)) seen.firstOffset = offset;
      if (Number(offset) > Number(seen.lastOffset)) seen.lastOffset = offset;
    }
    logger.error(
      { err: lastSendError, messages: letters.length, reasons, partitions },
      `dead-letter sends abandoned at shutdown: ${letters.length} rejected messages not written to the dead-letter topic; their offsets are not committed, so the next start reads them again`,
    );
  };

  const deadLetter = (letter: DeadLetter) => {
    stats.rejected++;
    observer.messageRejected(letter.reason);
    sendsInFlight++;
    if (stuck.length > 0) {
      stuck.push(letter);
      return;
    }
    deps.deadLetters.send([letter]).then(
      () => written([letter]),
      (error: unknown) => {
        noteFailedSend(error, 1, 1);
        stuck.push(letter);
        void retryStuck();
      },
    );
  };

  /**
   * Scores with retries; returns the scores and the version of the model that
   * made them, read in the same tick as the call, since a retrained model may
   * swap in while the call is under way.
   */
  const scoreWithRetry = async (scorer: WindowScorer, windows: SensorWindow[]) => {
    for (let n = 1; ; n++) {
      try {
        const version = scorer.version;
        return { version, scores: await scorer.scoreBatch(windows) };
      } catch (error) {
        const retriable = !isTsadError(error) || error.retriable;
        if (!retriable || n >= o.scoreAttempts || aborted) throw error;
        logger.warn({ err: error, attempt: n }, 'scoring failed; retrying');
        await pause(backoff(n, o.maxRetryDelayMs));
        if (aborted) throw error;
      }
    }
  };

  const deliverAlerts = async (events: E[]) => {
    for (let n = 1; ; n++) {
      try {
        await deps.alerts.send(events);
        return;
      } catch (error) {
        if (aborted) throw error;
        logger.warn(
          { err: error, attempt: n, alerts: events.length },
          'alert delivery failed; retrying',
        );
        await pause(backoff(n, o.maxRetryDelayMs));
        if (aborted) throw error;
      }
    }
  };

  // Scoring calls may overlap (a model in a worker thread scores one batch
  // while the next is sent), but they start in batch order and their results
  // are handed on in batch order (concatMap below), so per-sensor order holds.
  let scoringActive = 0;
  const scoringQueue: Array<() => void> = [];
  const acquireScoring = (): Promise<void> => {
    if (scoringActive < o.scoringConcurrency) {
      scoringActive++;
      return Promise.resolve();
    }
    return new Promise((resolve) => scoringQueue.push(resolve));
  };
  const releaseScoring = () => {
    const next = scoringQueue.shift();
    if (next) next();
    else scoringActive--;
    if (flushDeferred && scoringActive < FLUSH_BELOW) {
      flushDeferred = false;
      flushBatch.next();
    }
  };
  // A source's flush (end of a fetch) cuts the partial micro-batch only while
  // the model has little to do; when it is busy the batch keeps filling until
  // it is full or the model catches up. Otherwise every small fetch would
  // become a small scoring call, and calls cost per call as much as per window.
  let flushDeferred = false;

  /** What the first stage of a batch produced: its windows and their scores (or nothing to score). */
  interface StartedBatch {
    /** The version of the model that scored the batch. */
    version: string;
    ready: TrackedWindow[];
    aligned: SensorWindow[];
    scores: WindowScore[];
  }

  /**
   * First stage of a micro-batch, started as soon as it is cut: picks the
   * model, aligns the windows and scores them. Never rejects; undefined when
   * nothing is left to hand on (windows unscored or given up, already done).
   */
  const startBatch = async (batch: TrackedWindow[]): Promise<StartedBatch | undefined> => {
    let scorer = deps.scorer();
    if (scorer === undefined) {
      const training = deps.waitForScorer?.();
      if (training) scorer = await training.catch(() => undefined);
    }
    if (scorer === undefined) {
      for (const item of batch) {
        stats.windowsUnscored++;
        deps.onUnscored?.(item.window);
        item.done();
      }
      return undefined;
    }
    const ready: TrackedWindow[] = [];
    const aligned: SensorWindow[] = [];
    for (const item of batch) {
      const window = alignChannels(item.window, scorer);
      if (window === undefined) {
        // Readings with other channels are rejected at decode once a model is
        // loaded; these were windowed before the model (re)loaded.
        observer.readingDropped('channel_change');
        stats.windowsGivenUp++;
        item.done();
      } else {
        ready.push(item);
        aligned.push(window);
      }
    }
    if (aligned.length === 0) return undefined;
    await acquireScoring();
    const started = performance.now();
    try {
      const { version, scores } = await scoreWithRetry(scorer, aligned);
      observer.batchScored(aligned.length, (performance.now() - started) / 1000);
      return { version, ready, aligned, scores };
    } catch (error) {
      logger.error({ err: error, windows: aligned.length }, 'scoring failed; windows given up');
      stats.windowsGivenUp += ready.length;
      for (const item of ready) item.done();
      return undefined;
    } finally {
      releaseScoring();
    }
  };

  /** Second stage, in batch order: the detector, the sinks and the alerts; never rejects. */
  const finishBatch = async (started: StartedBatch | undefined): Promise<void> => {
    if (started === undefined) return;
    const { version, ready, aligned, scores } = started;
    const events: E[] = [];
    for (let i = 0; i < aligned.length; i++) {
      const window = aligned[i]!;
      const score = scores[i]!;
      try {
        const verdict = deps.detector.observe({ window, score, modelVersion: version });
        stats.windowsScored++;
        observer.thresholdValue(window.sensor, verdict.threshold, score.score);
        observer.endToEndLatency(Math.max(0, now() - window.endTs) / 1000);
        events.push(...verdict.events);
        if (deps.onScored) {
          try {
            deps.onScored(window, score, verdict.anomalous);
          } catch (error) {
            logger.warn({ err: error }, 'onScored hook failed');
          }
        }
        const scored = {
          sensor: window.sensor,
          startTs: window.startTs,
          endTs: window.endTs,
          modelVersion: version,
          score,
          calibratedScore: verdict.calibratedScore,
          threshold: verdict.threshold,
          alertState: verdict.alertState,
        };
        for (const sink of deps.scoredWindows ?? []) {
          try {
            sink.write(scored);
          } catch (error) {
            logger.warn({ err: error }, 'scored-window sink failed');
          }
        }
      } catch (error) {
        stats.windowsGivenUp++;
        logger.warn({ err: error, sensor: window.sensor }, 'detector refused a window');
      }
    }
    if (events.length > 0) {
      try {
        await deliverAlerts(events);
        stats.alerts += events.length;
        for (const event of events) observer.alertEmitted(event.state);
      } catch (error) {
        // Only reached once aborted: the windows stay un-acked, so their
        // offsets are not committed and a restart delivers the alerts again.
        logger.error({ err: error, alerts: events.length }, 'alert delivery abandoned at shutdown');
        return;
      }
    }
    for (const item of ready) item.done();
  };

  const windows$: Observable<TrackedWindow> = input.pipe(
    slidingWindow(store, {
      onAcks: (acks) => {
        for (const ack of acks) ack.ack();
      },
      onDrop: (reason) => observer.readingDropped(reason),
      staleCheckMs: Math.max(10, Math.min(1_000, o.staleAfterMs / 2)),
      staleAfterMs: o.staleAfterMs,
      // Stale readings enter beside the source's backpressure: only as many as fit under the mark.
      staleBudget: roomUnderMark,
      flush: flushWindows,
      ...(deps.scheduler ? { scheduler: deps.scheduler } : {}),
    }),
    tap(() => windowsInFlight++),
  );
  const subscription: Subscription = windows$
    .pipe(
      microBatch<TrackedWindow>({
        maxBatchSize: o.maxBatchSize,
        maxDelayMs: o.maxDelayMs,
        flush: flushBatch,
        ...(deps.scheduler ? { scheduler: deps.scheduler } : {}),
      }),
      // The first stage starts at once (bounded by scoringConcurrency), the second waits its turn.
      map((batch) => ({ batch, started: startBatch(batch) })),
      concatMap(({ batch, started }) =>
        defer(() => from(started.then(finishBatch))).pipe(
          tap({
            finalize: () => {
              windowsInFlight -= batch.length;
              settle();
            },
          }),
        ),
      ),
    )
    .subscribe({
      error: (error: unknown) => logger.error({ err: error }, 'pipeline stream failed'),
    });

  const scratchReading: TrackedReading<MessageAck> = {
    reading: { sensor: '', ts: 0, values: {} },
    origin: '',
    ack: { ack() {} },
    arrivedAt: 0,
  };
  // Origin strings are built once per partition, not per message.
  let lastOrigin = { topic: '', partition: -1, origin: '' };

  return {
    push(message) {
      if (closed) throw new Error('pipeline closed');
      stats.messages++;
      observer.messageConsumed(message.topic);
      const result = decoderFor(deps.scorer())(
        typeof message.value === 'string' ? message.value : (message.value ?? null),
      );
      if (!result.ok) {
        deadLetter({ message, reason: result.reason, detail: result.detail });
        return;
      }
      const readings = result.readings;
      // The readings may wait in the reorder buffer: keep an ack that does
      // not hold the message's contents when the source offers one.
      const handle: MessageAck = message.ackHandle ?? message;
      let ack = handle;
      if (readings.length > 1) {
        let remaining = readings.length;
        ack = {
          ack() {
            remaining--;
            if (remaining === 0) handle.ack();
          },
        };
      }
      if (message.topic !== lastOrigin.topic || message.partition !== lastOrigin.partition) {
        lastOrigin = {
          topic: message.topic,
          partition: message.partition,
          origin: `${message.topic}:${message.partition}`,
        };
      }
      const origin = lastOrigin.origin;
      const arrivedAt = now();
      stats.readings += readings.length;
      if (deps.onReading) {
        for (const reading of readings) {
          try {
            deps.onReading(reading);
          } catch (error) {
            logger.warn({ err: error }, 'onReading hook failed');
          }
        }
      }
      // One object for every reading: the window store copies what it keeps.
      const tracked = scratchReading;
      tracked.origin = origin;
      tracked.ack = ack;
      tracked.arrivedAt = arrivedAt;
      for (const reading of readings) {
        tracked.reading = reading;
        input.next(tracked);
      }
    },
    inFlight: () => windowsInFlight + sendsInFlight,
    waitForCapacity: () => waitFor(Math.floor(o.highWaterMark / 2)),
    waitIdle() {
      flushBatch.next();
      return waitFor(0);
    },
    flush() {
      if (scoringActive < FLUSH_BELOW) flushBatch.next();
      else flushDeferred = true;
    },
    revoke(match) {
      let sensors = 0;
      const abandoned = store.dropSensors((sensor, origin) => {
        if (!match(origin)) return false;
        sensors++;
        deps.detector.forget(sensor);
        observer.forgetSensor?.(sensor);
        return true;
      });
      // Readings that waited for reordering stay un-acked: the new owner reads them again.
      if (abandoned.length > 0) observer.readingDropped('revoked', abandoned.length);
      return sensors;
    },
    async drain(releaseForMs = Number.POSITIVE_INFINITY) {
      const until = now() + releaseForMs;
      while (store.pendingCount() > 0 && !aborted && now() < until) {
        const waiting = store.pendingCount();
        flushWindows.next(Math.max(1, roomUnderMark()));
        // Nothing released (the window stream has ended): what waits stays un-acked.
        if (store.pendingCount() >= waiting) break;
        flushBatch.next();
        await waitFor(Math.floor(o.highWaterMark / 2));
      }
      flushBatch.next();
      await waitFor(0);
      const abandoned = store.pendingCount();
      if (abandoned > 0) {
        store.dropSensors(() => true);
        logger.warn(
          { readings: abandoned },
          'readings still waiting for reordering at shutdown are left un-acked; a restart reads them again',
        );
      }
    },
    abort() {
      aborted = true;
      for (const wake of [...sleepers]) wake();
    },
    async close() {
      if (closed) return;
      closed = true;
      input.complete();
      await waitFor(0);
      subscription.unsubscribe();
    },
    stats: () => stats,
  };
}

/**
 * Puts a window's columns in the model's channel order (windows hold them
 * sorted by name). Undefined when the channel sets or sizes differ. Takes
 * only the model's shape, so a model about to be trained (the cold start's,
 * on `input.channels`) can have its windows laid out the same way.
 */
export function alignChannels(
  window: SensorWindow,
  scorer: Pick<WindowScorer, 'channels' | 'windowSize'>,
): SensorWindow | undefined {
  const target = scorer.channels;
  if (window.size !== scorer.windowSize || window.channels.length !== target.length)
    return undefined;
  if (window.channels.every((c, i) => c === target[i])) return window;
  const index = target.map((c) => window.channels.indexOf(c));
  if (index.some((i) => i < 0)) return undefined;
  const width = target.length;
  const data = new Float32Array(window.data.length);
  for (let s = 0; s < window.size; s++) {
    for (let c = 0; c < width; c++) data[s * width + c] = window.data[s * width + index[c]!]!;
  }
  return { ...window, channels: target, data };
}

/** About the bytes a dead letter adds to a batch: its value and detail. */
function letterBytes({ message, detail }: DeadLetter): number {
  const value = message.value ?? '';
  return (typeof value === 'string' ? Buffer.byteLength(value) : value.length) + detail.length;
}

function backoff(attempt: number, max: number): number {
  return Math.min(max, 100 * 2 ** (attempt - 1));
}
