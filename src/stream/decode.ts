/**
 * Decoding and validation of input messages into Readings. A message is one
 * reading object, or a JSON array of them; a reading carries one channel
 * (`value`) or several (`values`), and a timestamp in epoch milliseconds or
 * ISO 8601. Every rejection has a reason from the bounded RejectReason set,
 * so the dead-letter topic and the metrics can say why without parsing text.
 * The format is documented in docs/messages.md and schemas/reading.schema.json.
 */
import { isUtf8 } from 'node:buffer';
import type { Reading } from '../detector/types.ts';
import type { RejectReason } from './ports.ts';

/** Field names and limits of the input format. */
export interface DecodeOptions {
  sensorField: string;
  tsField: string;
  /** Field of the single-channel form. */
  valueField: string;
  /** Field of the multi-channel form (an object channel → number). */
  valuesField: string;
  /** Channel name a single-channel reading gets. */
  defaultChannel: string;
  /** Messages larger than this (bytes) are rejected before parsing. */
  maxMessageBytes: number;
  /** Arrays longer than this are rejected (bounds the work one message can cause). */
  maxReadingsPerMessage: number;
  /** When set, every reading must carry exactly these channels (`input.channels`, or the model's). */
  expectedChannels?: readonly string[];
  /** Readings stamped more than this (ms) ahead of `now()` are rejected (`future_timestamp`); 0 = no limit. */
  maxFutureMs: number;
  /** The clock the future limit is measured against. */
  now: () => number;
}

export const defaultDecodeOptions: Readonly<DecodeOptions> = Object.freeze({
  sensorField: 'sensor',
  tsField: 'ts',
  valueField: 'value',
  valuesField: 'values',
  defaultChannel: 'value',
  maxMessageBytes: 1_048_576,
  maxReadingsPerMessage: 10_000,
  maxFutureMs: 0,
  now: Date.now,
});

/** The outcome of decoding one message. */
export type DecodeResult =
  | { ok: true; readings: Reading[] }
  | { ok: false; reason: RejectReason; detail: string };

/** Timestamps before 1970 or after 9999 are almost certainly unit mistakes. */
const MAX_TS = 253_402_300_799_999;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

class Rejection {
  constructor(
    readonly reason: RejectReason,
    readonly detail: string,
  ) {}
}

/**
 * Builds a decoder for the given options. The decoder never throws: it
 * returns the readings of a valid message or the reason the whole message is
 * rejected. An array is all-or-nothing, so a message is either fully windowed
 * or fully dead-lettered and its offset means one thing.
 */
export function createDecoder(
  options: Partial<DecodeOptions> = {},
): (payload: Buffer | string | null) => DecodeResult {
  const o: DecodeOptions = { ...defaultDecodeOptions, ...options };
  const expected = o.expectedChannels ? [...o.expectedChannels].sort() : undefined;

  const readingOf = (item: unknown, index: number | undefined, latestTs: number): Reading => {
    const where = index === undefined ? '' : ` (element ${index})`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new Rejection('missing_field', `expected an object${where}`);
    }
    const record = item as Record<string, unknown>;
    const sensor = record[o.sensorField];
    if (sensor === undefined || sensor === null) {
      throw new Rejection('missing_field', `no "${o.sensorField}"${where}`);
    }
    if (typeof sensor !== 'string' || sensor.length === 0 || sensor.length > 256) {
      throw new Rejection(
        'missing_field',
        `"${o.sensorField}" must be a string of 1-256 chars${where}`,
      );
    }
    const ts = timestampOf(record[o.tsField], o.tsField, where);
    if (ts > latestTs) {
      throw new Rejection(
        'future_timestamp',
        `"${o.tsField}" ${ts} is ${formatAhead(ts - (latestTs - o.maxFutureMs))} ahead of this daemon's clock, more than input.maxFutureMs (${o.maxFutureMs} ms)${where}`,
      );
    }
    const values = valuesOf(record, where);
    if (expected) {
      const got = Object.keys(values).sort();
      if (got.length !== expected.length || got.some((name, i) => name !== expected[i])) {
        throw new Rejection(
          'unknown_channel',
          `channels [${got.join(', ')}] differ from the expected [${expected.join(', ')}]${where}`,
        );
      }
    }
    return { sensor, ts, values };
  };

  const valuesOf = (record: Record<string, unknown>, where: string): Record<string, number> => {
    const single = record[o.valueField];
    const multi = record[o.valuesField];
    if (single !== undefined && multi !== undefined) {
      throw new Rejection('missing_field', `both "${o.valueField}" and "${o.valuesField}"${where}`);
    }
    if (single !== undefined) {
      return { [o.defaultChannel]: numberOf(single, o.valueField, where) };
    }
    if (multi === undefined) {
      throw new Rejection('missing_field', `no "${o.valueField}" or "${o.valuesField}"${where}`);
    }
    if (typeof multi !== 'object' || multi === null || Array.isArray(multi)) {
      throw new Rejection('non_numeric', `"${o.valuesField}" must be an object${where}`);
    }
    const entries = Object.entries(multi as Record<string, unknown>);
    if (entries.length === 0) {
      throw new Rejection('missing_field', `"${o.valuesField}" is empty${where}`);
    }
    // Built from entries, not by assignment: `values["__proto__"] = 1` would
    // not make a channel, so a channel of that name would vanish.
    return Object.fromEntries(
      entries.map(([channel, value]) => [
        channel,
        numberOf(value, `${o.valuesField}.${channel}`, where),
      ]),
    );
  };

  // The common case, one well-formed single-channel reading, checked in one
  // pass without building error context; anything else takes the full path,
  // which finds and names the problem.
  const single = o.defaultChannel;
  const singleOk = expected === undefined || (expected.length === 1 && expected[0] === single);
  const fast = (parsed: unknown, latestTs: number): Reading | undefined => {
    if (!singleOk || typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return undefined;
    const record = parsed as Record<string, unknown>;
    const sensor = record[o.sensorField];
    const ts = record[o.tsField];
    const value = record[o.valueField];
    if (
      typeof sensor !== 'string' ||
      sensor.length === 0 ||
      sensor.length > 256 ||
      typeof ts !== 'number' ||
      !(ts >= 0 && ts <= latestTs) ||
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      record[o.valuesField] !== undefined
    ) {
      return undefined;
    }
    return { sensor, ts: Math.trunc(ts), values: { [single]: value } };
  };

  return (payload) => {
    if (payload === null) return { ok: false, reason: 'missing_field', detail: 'empty message' };
    const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (bytes > o.maxMessageBytes) {
      return { ok: false, reason: 'too_large', detail: `${bytes} bytes > ${o.maxMessageBytes}` };
    }
    if (typeof payload !== 'string' && !isUtf8(payload)) {
      // toString would put U+FFFD in place of the bad bytes and decode the rest.
      return { ok: false, reason: 'not_json', detail: 'not valid UTF-8' };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
    } catch (error) {
      return { ok: false, reason: 'not_json', detail: (error as Error).message.slice(0, 200) };
    }
    // Read once per message: every reading of an array is held to the same limit.
    const latestTs = o.maxFutureMs > 0 ? Math.min(o.now() + o.maxFutureMs, MAX_TS) : MAX_TS;
    const reading = fast(parsed, latestTs);
    if (reading !== undefined) return { ok: true, readings: [reading] };
    try {
      if (Array.isArray(parsed)) {
        if (parsed.length === 0) throw new Rejection('missing_field', 'empty array');
        if (parsed.length > o.maxReadingsPerMessage) {
          throw new Rejection(
            'too_large',
            `${parsed.length} readings > ${o.maxReadingsPerMessage} per message`,
          );
        }
        return { ok: true, readings: parsed.map((item, i) => readingOf(item, i, latestTs)) };
      }
      return { ok: true, readings: [readingOf(parsed, undefined, latestTs)] };
    } catch (error) {
      if (error instanceof Rejection)
        return { ok: false, reason: error.reason, detail: error.detail.slice(0, 4 * DETAIL_CHARS) };
      // A defect of the checks above, not of the message alone: the message
      // is still dead-lettered, so the daemon goes on and nothing is lost.
      return { ok: false, reason: 'undecodable', detail: String(error).slice(0, DETAIL_CHARS) };
    }
  };
}

/** Longest piece of a message quoted in a rejection's detail (it goes into a Kafka header). */
const DETAIL_CHARS = 200;

/**
 * A short description of a value that is not what a field needs. Strings are
 * quoted up to DETAIL_CHARS; objects and arrays are named, not serialised, so
 * neither a large value nor deep nesting (JSON.stringify would overflow the
 * stack) can make the detail expensive or throw.
 */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value.slice(0, DETAIL_CHARS));
    return value.length > DETAIL_CHARS ? `${quoted}… (${value.length} chars)` : quoted;
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function numberOf(value: unknown, field: string, where: string): number {
  if (typeof value !== 'number') {
    throw new Rejection('non_numeric', `"${field}" is ${describe(value)}${where}`);
  }
  // JSON.parse cannot produce NaN or Infinity, but 1e999 parses to Infinity.
  if (!Number.isFinite(value)) throw new Rejection('non_finite', `"${field}" is ${value}${where}`);
  return value;
}

function timestampOf(value: unknown, field: string, where: string): number {
  if (value === undefined || value === null)
    throw new Rejection('missing_field', `no "${field}"${where}`);
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string' && ISO_8601.test(value) && realDate(value)) {
    ms = Date.parse(value);
  } else {
    throw new Rejection(
      'bad_timestamp',
      `"${field}" must be epoch ms or ISO 8601, got ${describe(value)}${where}`,
    );
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TS) {
    throw new Rejection('bad_timestamp', `"${field}" out of range: ${String(value)}${where}`);
  }
  return Math.trunc(ms);
}

/** A duration for a rejection's detail: "42 s", "7.5 min", "3.2 h" or "1,826 days". */
function formatAhead(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${Math.round(ms / 86_400_000).toLocaleString('en-US')} days`;
}

/** Whether an ISO 8601 string's date exists (Date.parse takes February 30th as March 2nd). */
function realDate(iso: string): boolean {
  const year = Number(iso.slice(0, 4));
  const month = Number(iso.slice(5, 7));
  const day = Number(iso.slice(8, 10));
  return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
