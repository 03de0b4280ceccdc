/**
 * The InfluxDB 1.x sink: scored windows, alert events and (optionally) raw
 * readings as points, for the Grafana sensor view. InfluxDB is a nice-to-have
 * beside the alert topic, so this sink may drop, but never silently and never
 * at the expense of scoring: writes go into a bounded in-memory queue that a
 * background loop sends in batches, retrying with exponential backoff; when
 * InfluxDB is away for long the oldest points make room and are counted.
 */
import { InfluxDB, type IPoint } from 'influx';
import type { AlertEvent } from '../../detector/alert-event.ts';
import type { Reading } from '../../detector/types.ts';
import {
  nullSinkObserver,
  type ScoredWindow,
  type SinkDropReason,
  type SinkErrorKind,
  type SinkObserver,
} from '../../stream/ports.ts';
import { encodeFieldKey, encodeTagValue } from './line-protocol-encode.ts';
import { PointQueue } from './point-queue.ts';

/** Measurement names, shared with the Grafana dashboards (deploy/grafana). */
export const MEASUREMENTS = {
  window: 'tsad_window',
  alert: 'tsad_alert',
  reading: 'tsad_reading',
} as const;

/** Options of the sink; a plain object so the caller maps its config onto it. */
export interface InfluxSinkOptions {
  /** Base URL of the InfluxDB 1.x HTTP API, e.g. `http://127.0.0.1:8086`. */
  url: string;
  database: string;
  /**
   * Retention policy written to; created with `retentionDuration` as the
   * database's default policy if missing (an existing one is left as it is).
   */
  retentionPolicy: string;
  /** InfluxQL duration, e.g. `30d`; used only when the policy is created. */
  retentionDuration: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Points per write request; a full batch is sent at once, a partial one every flushIntervalMs. */
  batchSize: number;
  flushIntervalMs: number;
  /** Most points held while InfluxDB is unreachable; beyond it the oldest are dropped. */
  maxQueue: number;
  /** Also write every decoded reading (tsad_reading); off by default in config, since it multiplies the volume. */
  writeRawReadings: boolean;
  /** Backoff between failed writes: starts at initialMs, doubles up to maxMs. Default 250 ms → 5 s. */
  retry?: { initialMs: number; maxMs: number };
  /** Timeout of one HTTP request to InfluxDB. Default 5000 ms. */
  requestTimeoutMs?: number;
}

/** The alert fields the sink stores; a structural subset of the detector's AlertEvent. */
export type InfluxAlert = Pick<
  AlertEvent,
  'id' | 'sensor' | 'state' | 'score' | 'peakScore' | 'threshold' | 'modelVersion' | 'window'
>;

/** Minimal logger (pino-compatible): the sink logs state changes, not every failure. */
export interface SinkLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/** Counters of one sink since creation (the same numbers go to the SinkObserver). */
export interface InfluxSinkStats {
  written: number;
  dropped: Record<SinkDropReason, number>;
  writeErrors: Record<SinkErrorKind, number>;
  queued: number;
  /** True while the last write attempt failed and the sink is backing off. */
  backingOff: boolean;
}

export interface InfluxSink {
  /**
   * Creates the database and retention policy if missing and starts the
   * flush timer. Resolves even when InfluxDB is unreachable (the schema is
   * then ensured before the first successful write); idempotent.
   */
  start(): Promise<void>;
  /** Queues one scored window; false when it was not accepted (sink closed). Never throws or blocks. */
  writeWindow(window: ScoredWindow): boolean;
  /** Queues one alert event; false when it was not accepted. Never throws or blocks. */
  writeAlert(alert: InfluxAlert): boolean;
  /** Queues one raw reading if writeRawReadings is on; false when not accepted or not enabled. */
  writeReading(reading: Reading): boolean;
  /**
   * Sends everything queued now, ignoring any backoff wait, and resolves when
   * the queue is empty or a write failed (the rest stays queued). Never rejects.
   */
  flush(): Promise<{ written: number; pending: number }>;
  /**
   * Stops the timer, makes one last flush and counts what is still queued as
   * dropped ('shutdown'). Later writes are counted no-ops ('closed'), because
   * a late window from a draining pipeline must not throw into scoring.
   * Idempotent; concurrent calls share one promise.
   */
  close(): Promise<void>;
  stats(): InfluxSinkStats;
}

export interface InfluxSinkDeps {
  observer?: SinkObserver;
  logger?: SinkLogger;
}

const ALERT_STATE_FIRING = 'firing';

/**
 * Latest time InfluxDB 1.x stores, in ms (2262-04-11), and the earliest as far
 * before 1970: its times are int64 nanoseconds within ±(2^63 - 2). The decoder
 * accepts times up to the year 9999.
 */
const MAX_TIME_MS = 9_223_372_036_854;

/**
 * Creates the InfluxDB sink. Writes are accepted synchronously into a bounded
 * queue and sent by one background loop, one request at a time, so InfluxDB
 * sees ordered batches and a slow server cannot pile up requests. Failures
 * are classified (unreachable, timeout, server, rejected, other): a rejected
 * batch (HTTP 4xx) is dropped since resending cannot help; anything else stays
 * queued and is retried after an exponential backoff.
 */
export function createInfluxSink(
  options: InfluxSinkOptions,
  deps: InfluxSinkDeps = {},
): InfluxSink {
  const observer = deps.observer ?? nullSinkObserver;
  const logger = deps.logger;
  const retry = options.retry ?? { initialMs: 250, maxMs: 5_000 };
  const batchSize = Math.max(1, Math.floor(options.batchSize));
  const client = createClient(options);
  const queue = new PointQueue<IPoint>(Math.max(1, Math.floor(options.maxQueue)));

  const stats: InfluxSinkStats = {
    written: 0,
    dropped: { queue_full: 0, rejected: 0, closed: 0, shutdown: 0 },
    writeErrors: { unreachable: 0, timeout: 0, server: 0, rejected: 0, other: 0 },
    queued: 0,
    backingOff: false,
  };
  let schemaReady = false;
  let timer: NodeJS.Timeout | undefined;
  let draining: Promise<void> | undefined;
  let backoffMs = 0;
  let retryAt = 0;
  let closed = false;
  let starting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  const drop = (reason: SinkDropReason, count: number) => {
    if (count <= 0) return;
    stats.dropped[reason] += count;
    observer.pointsDropped(reason, count);
  };
  const written = (count: number) => {
    if (count <= 0) return;
    stats.written += count;
    observer.pointsWritten(count);
  };
  const depthChanged = () => {
    stats.queued = queue.size;
    observer.queueDepth(queue.size);
  };

  const enqueue = (point: IPoint): boolean => {
    if (closed) {
      drop('closed', 1);
      return false;
    }
    // InfluxDB cannot parse a NaN field or a time outside its range, and its
    // answer does not always count such lines (see partialWriteRefused), so
    // they are left out here, where they are known: the field, or the point.
    const fields = finiteFields(point.fields ?? {});
    const ts = point.timestamp;
    if (fields === undefined || typeof ts !== 'number' || !(Math.abs(ts) <= MAX_TIME_MS)) {
      drop('rejected', 1);
      return false;
    }
    point.fields = fields;
    drop('queue_full', queue.push(point));
    depthChanged();
    if (queue.size >= batchSize) kick();
    return true;
  };

  async function ensureSchema(): Promise<void> {
    if (schemaReady) return;
    // CREATE DATABASE is a no-op when the database exists.
    await client.createDatabase(options.database);
    const policies = await client.showRetentionPolicies(options.database);
    if (!policies.some((p) => p.name === options.retentionPolicy)) {
      await client.createRetentionPolicy(options.retentionPolicy, {
        database: options.database,
        duration: options.retentionDuration,
        replication: 1,
        // Default, so the dashboards' plain `FROM "tsad_window"` reads it.
        isDefault: true,
      });
    }
    schemaReady = true;
  }

  /** One write attempt of one batch; true when the batch is done with (written or dropped). */
  async function writeBatch(batch: IPoint[]): Promise<boolean> {
    try {
      await ensureSchema();
      await client.writePoints(batch, {
        database: options.database,
        retentionPolicy: options.retentionPolicy,
        precision: 'ms',
      });
      written(batch.length);
      if (stats.backingOff) logger?.info({ queued: queue.size }, 'InfluxDB writes resumed');
      stats.backingOff = false;
      backoffMs = 0;
      return true;
    } catch (error) {
      const failure = classify(error);
      stats.writeErrors[failure.kind] += 1;
      observer.writeFailed(failure.kind);
      if (failure.databaseMissing) schemaReady = false;
      if (!failure.retriable) {
        // In a partial write InfluxDB stored every point but the ones it names or counts.
        const refused = partialWriteRefused(error, batch.length) ?? batch.length;
        written(batch.length - refused);
        drop('rejected', refused);
        logger?.warn(
          { err: error, points: batch.length, refused },
          refused < batch.length
            ? 'InfluxDB refused some points of a batch and stored the rest'
            : 'InfluxDB rejected a batch; dropped',
        );
        return true;
      }
      if (!stats.backingOff) {
        logger?.warn(
          { err: error, kind: failure.kind },
          'InfluxDB write failed; retrying with backoff',
        );
      }
      stats.backingOff = true;
      backoffMs = backoffMs === 0 ? retry.initialMs : Math.min(retry.maxMs, backoffMs * 2);
      // Jitter keeps several daemons from hammering a returning InfluxDB at once.
      retryAt = Date.now() + backoffMs * (0.75 + Math.random() * 0.25);
      return false;
    }
  }

  /** Sends batches until the queue is empty or a write fails; failed points go back to the front. */
  async function drain(force: boolean): Promise<void> {
    while (queue.size > 0) {
      if (!force && Date.now() < retryAt) return;
      const batch = queue.take(batchSize);
      depthChanged();
      const done = await writeBatch(batch);
      if (!done) {
        drop('queue_full', queue.unshift(batch));
        depthChanged();
        return;
      }
    }
  }

  /** Starts a background drain unless one runs; its failures stay inside the sink. */
  function kick(): void {
    if (draining || Date.now() < retryAt) return;
    draining = drain(false).finally(() => {
      draining = undefined;
    });
  }

  return {
    start() {
      starting ??= (async () => {
        if (closed) return;
        try {
          await ensureSchema();
        } catch (error) {
          const failure = classify(error);
          stats.writeErrors[failure.kind] += 1;
          observer.writeFailed(failure.kind);
          logger?.warn(
            { err: error },
            'InfluxDB not reachable at start; will create the schema on the first write',
          );
        }
        if (closed) return;
        timer = setInterval(kick, Math.max(10, options.flushIntervalMs));
        // The timer alone must not keep the process alive.
        timer.unref();
      })();
      return starting;
    },
    writeWindow(window) {
      return enqueue({
        measurement: MEASUREMENTS.window,
        tags: {
          sensor: encodeTagValue(window.sensor),
          model_version: encodeTagValue(window.modelVersion),
        },
        fields: {
          score: window.score.score,
          calibrated_score: window.calibratedScore,
          threshold: window.threshold,
          alert_state: window.alertState,
          firing: window.alertState === ALERT_STATE_FIRING ? 1 : 0,
        },
        timestamp: window.endTs,
      });
    },
    writeAlert(alert) {
      const at = Date.parse(alert.window.end);
      // The text names the sensor as its tag does, so the two can be matched.
      const sensor = encodeTagValue(alert.sensor);
      return enqueue({
        measurement: MEASUREMENTS.alert,
        tags: { sensor, state: alert.state },
        fields: {
          id: alert.id,
          score: alert.score,
          peak_score: alert.peakScore,
          threshold: alert.threshold,
          model_version: encodeTagValue(alert.modelVersion),
          text: `${sensor} ${alert.state}: score ${alert.score.toPrecision(4)} (threshold ${alert.threshold.toPrecision(4)})`,
        },
        timestamp: Number.isFinite(at) ? at : Date.now(),
      });
    },
    writeReading(reading) {
      if (!options.writeRawReadings) return false;
      // No prototype: a channel named __proto__ is then a key like any other.
      const fields: Record<string, number> = Object.create(null);
      let any = false;
      for (const [channel, value] of Object.entries(reading.values)) {
        const key = encodeFieldKey(channel);
        if (key === undefined || !Number.isFinite(value)) continue;
        fields[key] = value;
        any = true;
      }
      if (!any) return false;
      return enqueue({
        measurement: MEASUREMENTS.reading,
        tags: { sensor: encodeTagValue(reading.sensor) },
        fields,
        timestamp: reading.ts,
      });
    },
    async flush() {
      const before = stats.written;
      if (draining) await draining;
      await drain(true);
      return { written: stats.written - before, pending: queue.size };
    },
    close() {
      closing ??= (async () => {
        closed = true;
        if (timer) clearInterval(timer);
        if (starting) await starting;
        if (draining) await draining;
        await drain(true);
        drop('shutdown', queue.clear());
        depthChanged();
      })();
      return closing;
    },
    stats: () => ({
      ...stats,
      dropped: { ...stats.dropped },
      writeErrors: { ...stats.writeErrors },
      queued: queue.size,
    }),
  };
}

function createClient(options: InfluxSinkOptions): InfluxDB {
  const url = new URL(options.url);
  const timeout = options.requestTimeoutMs ?? 5_000;
  // The package's own pool retries and disables a failing host for a while;
  // the sink does its own retries with backoff, so both are switched off here.
  const noBackoff = { getDelay: () => 0, next: () => noBackoff, reset: () => noBackoff };
  return new InfluxDB({
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 8086)),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    ...(url.pathname.length > 1 ? { path: url.pathname } : {}),
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    database: options.database,
    pool: { maxRetries: 0, requestTimeout: timeout, backoff: noBackoff },
  });
}

interface Failure {
  kind: SinkErrorKind;
  /** False when resending the same batch cannot succeed (HTTP 4xx, a point the client cannot encode). */
  retriable: boolean;
  databaseMissing: boolean;
}

/** The fields without non-finite numbers, or undefined when none is left. */
function finiteFields(fields: Record<string, unknown>): Record<string, unknown> | undefined {
  // The common case (all finite) returns the same object: no copy on the hot path.
  let bad = 0;
  let total = 0;
  for (const key in fields) {
    total++;
    const value = fields[key];
    if (typeof value === 'number' && !Number.isFinite(value)) bad++;
  }
  if (bad === 0) return total > 0 ? fields : undefined;
  if (bad === total) return undefined;
  // No prototype: a channel named __proto__ is then a key like any other.
  const kept: Record<string, unknown> = Object.create(null);
  for (const key in fields) {
    const value = fields[key];
    if (typeof value !== 'number' || Number.isFinite(value)) kept[key] = value;
  }
  return kept;
}

/**
 * How many points of a batch of `points` InfluxDB 1.x refused when it answered
 * 400 "partial write", in which it stores all the others; undefined for any
 * other answer, after which nothing was stored. A point that failed to parse
 * is named on a line of its own ("unable to parse '<line>': <reason>"), one
 * parsed but not stored (a field type conflict, a time beyond the retention
 * policy) is counted in "dropped=N". When both happen influxd reports only the
 * second kind, which is why the sink sends no point it knows cannot be parsed.
 */
export function partialWriteRefused(error: unknown, points: number): number | undefined {
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return undefined;
  // The influx package's message: "A 400 Bad Request error occurred: <body>".
  let reason: unknown;
  try {
    reason = (JSON.parse(message.slice(message.indexOf('{'))) as { error?: unknown }).error;
  } catch {
    return undefined;
  }
  if (typeof reason !== 'string' || !reason.startsWith('partial write: ')) return undefined;
  const unparsed = reason
    .slice('partial write: '.length)
    .split('\n')
    .filter((line) => line.startsWith("unable to parse '")).length;
  const dropped = Number(/ dropped=(\d+)$/.exec(reason)?.[1] ?? 0);
  // Whatever the text says, a partial write refused at least one point.
  return Math.min(points, Math.max(1, unparsed + dropped));
}

/**
 * A bounded classification of a write failure, used as a metric label and to
 * decide between retry and drop. The influx package does not export its error
 * classes, so they are told apart by shape.
 */
export function classify(error: unknown): Failure {
  const err = error as {
    code?: unknown;
    message?: unknown;
    res?: { statusCode?: number };
    constructor?: { name?: string };
  } | null;
  const message = typeof err?.message === 'string' ? err.message : '';
  const status = err?.res?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // A missing database (dropped behind our back) is fixed by re-creating it.
    const databaseMissing = /database not found/i.test(message);
    return { kind: 'rejected', retriable: databaseMissing, databaseMissing };
  }
  if (typeof err?.code === 'string') {
    if (/TIMEDOUT/.test(err.code))
      return { kind: 'timeout', retriable: true, databaseMissing: false };
    if (
      /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(
        err.code,
      )
    ) {
      return { kind: 'unreachable', retriable: true, databaseMissing: false };
    }
    // Some other network-level failure: worth another try.
    return { kind: 'other', retriable: true, databaseMissing: false };
  }
  if (err?.constructor?.name === 'ServiceNotAvailableError') {
    const kind = /timed out/i.test(message) ? 'timeout' : 'server';
    return { kind, retriable: true, databaseMissing: false };
  }
  // No code and no HTTP status: the client failed before sending (e.g. a
  // point it cannot encode), which a resend would only repeat.
  return { kind: 'other', retriable: false, databaseMissing: false };
}
