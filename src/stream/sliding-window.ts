/**
 * Per-sensor sliding windows. Each sensor has a small reorder buffer (readings
 * wait there until the sensor's watermark, its newest timestamp minus
 * `maxLatenessMs`, passes them, so out-of-order readings are put back in
 * order) and a ring of the last `size` readings in timestamp order; a window
 * is emitted when the ring is full and `stride` readings arrived since the
 * previous one. The rules for readings that do not fit (documented in
 * docs/messages.md):
 *
 * - same timestamp as a reading already seen: dropped, counted `duplicate` (with
 *   `duplicatePolicy: replace` the newer one replaces a reading still waiting to be placed);
 * - older than the last reading already windowed (beyond the lateness): dropped, `late`;
 * - more than `maxGapMs` after the previous reading: the ring restarts (`gap_restart`);
 * - a channel set different from the ring's: the ring restarts with the new set
 *   (`channel_change`), because a model scores one fixed set of channels.
 *
 * State is bounded: at most `maxSensors` sensors (the least recently seen one
 * is evicted), at most `maxReorderReadings` readings waiting per sensor.
 * The store is plain logic; `slidingWindow` below is the RxJS operator over it.
 */
import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { Reading, SensorWindow } from '../detector/types.ts';
import type { DropReason } from './ports.ts';

/** Windowing settings (config section `window`). */
export interface SlidingWindowOptions {
  /** Readings per window (the model's window size). */
  size: number;
  /** Readings between the ends of consecutive windows (1 = every reading ends a window). */
  stride: number;
  /** How far (event time) a reading may arrive behind its sensor's newest and still be placed. */
  maxLatenessMs: number;
  /** A longer silence (event time) between consecutive readings restarts the window. */
  maxGapMs: number;
  /** Readings a sensor may hold for reordering; beyond it the oldest is released early. */
  maxReorderReadings: number;
  /** Sensors held at once; beyond it the least recently seen sensor's state is dropped. */
  maxSensors: number;
  /**
   * A second reading with a timestamp already seen: `drop` it, or `replace`
   * the first while that one still waits for reordering (once windowed, it stays).
   */
  duplicatePolicy: 'drop' | 'replace';
}

export const defaultSlidingWindowOptions: Readonly<SlidingWindowOptions> = Object.freeze({
  size: 32,
  stride: 1,
  maxLatenessMs: 2_000,
  maxGapMs: 60_000,
  maxReorderReadings: 256,
  maxSensors: 100_000,
  duplicatePolicy: 'drop',
});

/** A reading with whatever the caller needs back once it has been placed or dropped. */
export interface TrackedReading<A> {
  reading: Reading;
  /** Opaque tag (e.g. `topic:partition`) used to drop sensors by origin. */
  origin: string;
  ack: A;
  /** Wall-clock arrival (ms), for releasing readings of sensors that went quiet. */
  arrivedAt: number;
}

/** What one step of the store produced. */
export interface WindowStep<A> {
  windows: SensorWindow[];
  /** Acks of readings now placed in a ring or dropped: done once `windows` are. */
  acks: A[];
  drops: DropReason[];
}

/**
 * One sensor's reorder buffer, ascending by timestamp, as parallel arrays:
 * a waiting reading costs its numbers (8 bytes each, unboxed in a double
 * array) and two references, instead of an object, its values object and
 * boxed numbers (about 170 bytes). A daemon of 100,000 sensors with the
 * default lateness (10 s, about 10 readings each at 1 Hz) holds a million of
 * them. Values are kept flat, row after row; each row's channel names are a
 * shared sorted array (usually the ring's own), so its width is known.
 */
class ReorderBuffer<A> {
  readonly ts: number[] = [];
  readonly arrivedAt: number[] = [];
  readonly acks: A[] = [];
  readonly channels: (readonly string[])[] = [];
  readonly values: number[] = [];

  get length(): number {
    return this.ts.length;
  }

  /** Offset in `values` of row `index`. */
  offsetOf(index: number): number {
    let offset = 0;
    for (let i = 0; i < index; i++) offset += this.channels[i]!.length;
    return offset;
  }

  insert(
    index: number,
    ts: number,
    channels: readonly string[],
    values: Record<string, number>,
    ack: A,
    arrivedAt: number,
  ): void {
    const offset = this.offsetOf(index);
    this.ts.splice(index, 0, ts);
    this.arrivedAt.splice(index, 0, arrivedAt);
    this.acks.splice(index, 0, ack);
    this.channels.splice(index, 0, channels);
    if (offset === this.values.length) {
      for (const name of channels) this.values.push(values[name]!);
    } else {
      this.values.splice(offset, 0, ...channels.map((name) => values[name]!));
    }
  }

  /** Removes the first `n` rows (their values must have been read first). */
  removeFirst(n: number): void {
    const width = this.offsetOf(n);
    this.ts.splice(0, n);
    this.arrivedAt.splice(0, n);
    this.acks.splice(0, n);
    this.channels.splice(0, n);
    this.values.splice(0, width);
  }

  /** Removes row `index`. */
  remove(index: number): void {
    const offset = this.offsetOf(index);
    this.ts.splice(index, 1);
    this.arrivedAt.splice(index, 1);
    this.acks.splice(index, 1);
    this.values.splice(offset, this.channels[index]!.length);
    this.channels.splice(index, 1);
  }
}

interface SensorState<A> {
  sensor: string;
  /** Neighbours in the least-recently-seen list (the eviction order). */
  older: SensorState<A> | undefined;
  newer: SensorState<A> | undefined;
  origin: string;
  /** Newest timestamp seen; the watermark is this minus the lateness. */
  maxTs: number;
  /** Reorder buffer, created when a reading first has to wait. */
  pending: ReorderBuffer<A> | undefined;
  /** Timestamp of the newest reading placed in the ring. */
  lastTs: number;
  /** The ring's channel names, sorted (shared with the windows and waiting rows). */
  channels: readonly string[];
  channelKey: string;
  /** The channel names of the last waiting reading whose set differed from the ring's. */
  waitingChannels: readonly string[];
  ring: Float32Array;
  ringTs: Float64Array;
  /** Readings placed since the last restart. */
  count: number;
  sinceEmit: number;
  emitted: boolean;
}

/** The windowing state of every sensor this process owns. */
export interface WindowStore<A> {
  readonly sensorCount: number;
  /**
   * Places (or drops) one reading; returns the windows and acks it produced.
   * The store keeps no reference to `item` itself (callers may reuse it).
   * With `out` the results are appended to it (the operator reuses one step
   * for readings that emit nothing, sparing three allocations per reading).
   */
  push(item: TrackedReading<A>, out?: WindowStep<A>): WindowStep<A>;
  /**
   * Releases readings that have waited in a reorder buffer since before
   * `olderThan` (wall clock), sensor by sensor until about `limit` readings
   * are out (a sensor's stale readings go together, so order is kept).
   */
  flushStale(olderThan: number, limit?: number): WindowStep<A>;
  /**
   * Releases every waiting reading (the input ended, so nothing stays
   * unwindowed), or, given a limit, whole sensors, origin by origin in name
   * order, until about `limit` are out.
   */
  flushAll(limit?: number): WindowStep<A>;
  /**
   * Drops the state of the sensors whose origin matches (partition revoked).
   * Returns the acks of readings that were waiting: the caller abandons them.
   */
  dropSensors(match: (sensor: string, origin: string) => boolean): A[];
  /** Readings held in all reorder buffers. */
  pendingCount(): number;
}

const NO_CHANNELS: readonly string[] = Object.freeze([]);

/** Creates an empty store; options are checked so a misconfiguration fails at start. */
export function createWindowStore<A>(options: Partial<SlidingWindowOptions> = {}): WindowStore<A> {
  const o: SlidingWindowOptions = { ...defaultSlidingWindowOptions, ...options };
  if (!Number.isInteger(o.size) || o.size < 1) throw new RangeError(`window size ${o.size}`);
  if (!Number.isInteger(o.stride) || o.stride < 1 || o.stride > o.size) {
    throw new RangeError(`window stride ${o.stride} must be in 1..size`);
  }
  const sensors = new Map<string, SensorState<A>>();
  let pendingTotal = 0;

  const restart = (s: SensorState<A>, channels: readonly string[], key: string) => {
    if (key !== s.channelKey) {
      s.channels = channels;
      s.channelKey = key;
      const rings = allocateRings(o.size, channels.length);
      rings.ringTs.set(s.ringTs);
      s.ring = rings.ring;
      s.ringTs = rings.ringTs;
    }
    s.count = 0;
    s.sinceEmit = 0;
    s.emitted = false;
  };

  /** Switches the ring to `channels` (sorted) if they are not its own. */
  const useChannels = (s: SensorState<A>, channels: readonly string[], out: WindowStep<A>) => {
    if (channels === s.channels) return;
    const key = channels.join('\u0000');
    if (key !== s.channelKey) {
      if (s.count > 0) out.drops.push('channel_change');
      restart(s, channels, key);
    }
  };

  /** The sorted channel names of `values`, shared with the ring or the last waiting row if equal. */
  const channelsOf = (s: SensorState<A>, values: Record<string, number>): readonly string[] => {
    if (hasExactly(values, s.channels)) return s.channels;
    if (hasExactly(values, s.waitingChannels)) return s.waitingChannels;
    s.waitingChannels = Object.keys(values).sort();
    return s.waitingChannels;
  };

  /**
   * Moves one reading into the ring, maybe emitting a window; its values are
   * read through `valueAt(c)` for the ring's channel c once the ring has the
   * reading's channels.
   */
  const place = (
    s: SensorState<A>,
    ts: number,
    ack: A,
    out: WindowStep<A>,
    write: (ring: Float32Array, at: number, channels: readonly string[]) => void,
  ) => {
    out.acks.push(ack);
    if (s.count > 0 && ts - s.lastTs > o.maxGapMs) {
      out.drops.push('gap_restart');
      restart(s, s.channels, s.channelKey);
    }
    const width = s.channels.length;
    // Shift instead of a circular index: windows are small and the copy keeps
    // the emitted data contiguous and in order without a second pass.
    if (s.count >= o.size) {
      s.ring.copyWithin(0, width);
      s.ringTs.copyWithin(0, 1);
    }
    const slot = Math.min(s.count, o.size - 1);
    write(s.ring, slot * width, s.channels);
    s.ringTs[slot] = ts;
    s.lastTs = ts;
    s.count++;
    s.sinceEmit++;
    if (s.count >= o.size && (!s.emitted || s.sinceEmit >= o.stride)) {
      s.emitted = true;
      s.sinceEmit = 0;
      // The window's copies share one buffer, as the rings do: a typed array's
      // buffer costs more to make and to collect than the bytes it holds.
      const { ring: data, ringTs: timestamps } = allocateRings(o.size, width);
      data.set(s.ring);
      timestamps.set(s.ringTs);
      out.windows.push({
        sensor: s.sensor,
        channels: s.channels,
        size: o.size,
        data,
        startTs: s.ringTs[0]!,
        endTs: s.ringTs[o.size - 1]!,
        timestamps,
      });
    }
  };

  // The two ways values reach the ring: from a reading's object, or from a
  // waiting row (module-level state instead of a closure per call).
  let fromObject: Record<string, number> = {};
  const writeObject = (ring: Float32Array, at: number, channels: readonly string[]) => {
    for (let c = 0; c < channels.length; c++) ring[at + c] = fromObject[channels[c]!]!;
  };
  let fromRow: readonly number[] = [];
  let rowOffset = 0;
  const writeRow = (ring: Float32Array, at: number, channels: readonly string[]) => {
    for (let c = 0; c < channels.length; c++) ring[at + c] = fromRow[rowOffset + c]!;
  };

  const placeReading = (
    s: SensorState<A>,
    ts: number,
    values: Record<string, number>,
    ack: A,
    out: WindowStep<A>,
  ) => {
    // Nearly every reading has the ring's channels: checked without sorting.
    if (!hasExactly(values, s.channels)) useChannels(s, Object.keys(values).sort(), out);
    fromObject = values;
    place(s, ts, ack, out, writeObject);
  };

  /** Releases the first `n` waiting readings of a sensor into its ring. */
  const release = (s: SensorState<A>, n: number, out: WindowStep<A>) => {
    const pending = s.pending;
    if (n <= 0 || pending === undefined) return;
    let offset = 0;
    fromRow = pending.values;
    for (let i = 0; i < n; i++) {
      const channels = pending.channels[i]!;
      useChannels(s, channels, out);
      rowOffset = offset;
      place(s, pending.ts[i]!, pending.acks[i]!, out, writeRow);
      offset += channels.length;
    }
    fromRow = [];
    pending.removeFirst(n);
    pendingTotal -= n;
  };

  const releaseByWatermark = (s: SensorState<A>, pending: ReorderBuffer<A>, out: WindowStep<A>) => {
    const watermark = s.maxTs - o.maxLatenessMs;
    let n = 0;
    while (n < pending.length && pending.ts[n]! <= watermark) n++;
    n = Math.max(n, pending.length - o.maxReorderReadings);
    release(s, n, out);
  };

  // Least recently seen first: a linked list through the states, because
  // re-inserting into the Map on every reading (to keep its order) costs more.
  let oldest: SensorState<A> | undefined;
  let newest: SensorState<A> | undefined;
  const unlink = (s: SensorState<A>) => {
    if (s.older) s.older.newer = s.newer;
    else oldest = s.newer;
    if (s.newer) s.newer.older = s.older;
    else newest = s.older;
    s.older = undefined;
    s.newer = undefined;
  };
  const append = (s: SensorState<A>) => {
    s.older = newest;
    s.newer = undefined;
    if (newest) newest.newer = s;
    else oldest = s;
    newest = s;
  };
  const remove = (s: SensorState<A>) => {
    unlink(s);
    sensors.delete(s.sensor);
  };

  const evictOldest = (out: WindowStep<A>) => {
    const s = oldest;
    if (s === undefined) return;
    for (const ack of s.pending?.acks ?? []) {
      out.acks.push(ack);
      out.drops.push('evicted');
    }
    pendingTotal -= s.pending?.length ?? 0;
    remove(s);
  };

  const emptyStep = (): WindowStep<A> => ({ windows: [], acks: [], drops: [] });

  return {
    get sensorCount() {
      return sensors.size;
    },
    push(item, into) {
      const out = into ?? emptyStep();
      const { sensor, ts, values } = item.reading;
      let s = sensors.get(sensor);
      if (s) {
        if (s !== newest) {
          unlink(s);
          append(s);
        }
        s.origin = item.origin;
      } else {
        if (sensors.size >= o.maxSensors) evictOldest(out);
        s = {
          sensor,
          older: undefined,
          newer: undefined,
          origin: item.origin,
          maxTs: Number.NEGATIVE_INFINITY,
          pending: undefined,
          lastTs: Number.NEGATIVE_INFINITY,
          channels: NO_CHANNELS,
          channelKey: '',
          waitingChannels: NO_CHANNELS,
          ...allocateRings(o.size, 0),
          count: 0,
          sinceEmit: 0,
          emitted: false,
        };
        sensors.set(sensor, s);
        append(s);
      }
      if (ts <= s.lastTs) {
        out.acks.push(item.ack);
        out.drops.push(ts === s.lastTs ? 'duplicate' : 'late');
        return out;
      }
      if ((s.pending?.length ?? 0) === 0 && ts <= Math.max(s.maxTs, ts) - o.maxLatenessMs) {
        // In order and already past the watermark (no lateness allowed, or
        // behind a newer reading): straight into the ring, no reorder buffer.
        if (ts > s.maxTs) s.maxTs = ts;
        placeReading(s, ts, values, item.ack, out);
        return out;
      }
      s.pending ??= new ReorderBuffer<A>();
      const pending = s.pending;
      // Binary search for the insertion point in the ascending reorder buffer.
      let lo = 0;
      let hi = pending.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (pending.ts[mid]! < ts) lo = mid + 1;
        else hi = mid;
      }
      if (lo < pending.length && pending.ts[lo] === ts) {
        out.drops.push('duplicate');
        if (o.duplicatePolicy === 'replace') {
          // The first reading is the one dropped: its ack goes, the newcomer takes its place.
          out.acks.push(pending.acks[lo]!);
          pending.remove(lo);
          pending.insert(lo, ts, channelsOf(s, values), values, item.ack, item.arrivedAt);
        } else {
          out.acks.push(item.ack);
        }
        return out;
      }
      pending.insert(lo, ts, channelsOf(s, values), values, item.ack, item.arrivedAt);
      pendingTotal++;
      if (ts > s.maxTs) s.maxTs = ts;
      releaseByWatermark(s, pending, out);
      return out;
    },
    flushStale(olderThan, limit = Number.POSITIVE_INFINITY) {
      const out = emptyStep();
      if (pendingTotal === 0) return out;
      let released = 0;
      for (const s of sensors.values()) {
        if (released >= limit) break;
        const pending = s.pending;
        if (pending === undefined) continue;
        // Release up to the newest stale reading, so order is kept.
        let n = 0;
        for (let i = 0; i < pending.length; i++) if (pending.arrivedAt[i]! < olderThan) n = i + 1;
        release(s, n, out);
        released += n;
      }
      return out;
    },
    flushAll(limit = Number.POSITIVE_INFINITY) {
      const out = emptyStep();
      if (pendingTotal === 0) return out;
      if (limit === Number.POSITIVE_INFINITY) {
        for (const s of sensors.values()) release(s, s.pending?.length ?? 0, out);
        return out;
      }
      // Origin by origin (in name order, the same on every call), so that a
      // drain cut short leaves some partitions wholly released, whose offsets
      // can then be committed, rather than every partition a little.
      const byOrigin = new Map<string, SensorState<A>[]>();
      for (const s of sensors.values()) {
        if ((s.pending?.length ?? 0) === 0) continue;
        const group = byOrigin.get(s.origin);
        if (group) group.push(s);
        else byOrigin.set(s.origin, [s]);
      }
      let released = 0;
      for (const origin of [...byOrigin.keys()].sort()) {
        for (const s of byOrigin.get(origin)!) {
          if (released >= limit) return out;
          const n = s.pending!.length;
          release(s, n, out);
          released += n;
        }
      }
      return out;
    },
    dropSensors(match) {
      const abandoned: A[] = [];
      for (const [sensor, s] of sensors) {
        if (!match(sensor, s.origin)) continue;
        for (const ack of s.pending?.acks ?? []) abandoned.push(ack);
        pendingTotal -= s.pending?.length ?? 0;
        remove(s);
      }
      return abandoned;
    },
    pendingCount() {
      return pendingTotal;
    },
  };
}

/** A window with the callback that reports it fully processed. */
export interface TrackedWindow {
  window: SensorWindow;
  /** Call once the window is scored and its alerts delivered (or it was given up). */
  done(): void;
}

export interface SlidingWindowOperatorOptions<A> {
  /**
   * Called with the acks of readings placed or dropped, once the windows they
   * caused are done. The array is reused after the call returns: copy what you keep.
   */
  onAcks(acks: A[]): void;
  onDrop?(reason: DropReason): void;
  /** How often to release readings of sensors that went quiet (0 disables). */
  staleCheckMs?: number;
  /** Wall-clock age after which a waiting reading is released regardless of the watermark. */
  staleAfterMs?: number;
  /**
   * How many stale readings the next stale check may release (default: all).
   * The stale check is the one way readings enter the pipeline that no
   * source's backpressure covers: a daemon that fell behind with 100,000
   * sensors and 10 readings waiting each released a million windows in one
   * tick, far over its high-water mark (docs/performance.md). The pipeline
   * passes the room left under its high-water mark; the rest wait for the next
   * check (or for their watermark).
   */
  staleBudget?: () => number;
  /** Each emission releases about that many waiting readings (a drain before shutdown). */
  flush?: Observable<number>;
  scheduler?: SchedulerLike;
}

/**
 * The windowing operator: readings in, windows out. Each window carries a
 * `done` callback; the acks of the readings placed by the same step are
 * handed to `onAcks` only once every window of that step is done, which is
 * what lets the source commit an offset only after its readings are scored.
 * When the input completes, waiting readings are flushed before completing.
 */
export function slidingWindow<A>(
  store: WindowStore<A>,
  options: SlidingWindowOperatorOptions<A>,
): OperatorFunction<TrackedReading<A>, TrackedWindow> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const staleCheckMs = options.staleCheckMs ?? 0;
  const staleAfterMs = options.staleAfterMs ?? 0;
  return (source) =>
    new Observable<TrackedWindow>((subscriber) => {
      const emit = (step: WindowStep<A>) => {
        for (const reason of step.drops) options.onDrop?.(reason);
        if (step.windows.length === 0) {
          if (step.acks.length > 0) options.onAcks(step.acks);
          return;
        }
        const held = new HeldAcks(step.acks, step.windows.length, options.onAcks);
        for (const window of step.windows) subscriber.next(new WindowOfStep(window, held));
      };
      const timer =
        staleCheckMs > 0
          ? scheduler.schedule(function tick() {
              const budget = options.staleBudget?.() ?? Number.POSITIVE_INFINITY;
              if (budget > 0) emit(store.flushStale(scheduler.now() - staleAfterMs, budget));
              this.schedule(undefined, staleCheckMs);
            }, staleCheckMs)
          : undefined;
      const flushing = options.flush?.subscribe((limit) => emit(store.flushAll(limit)));
      // Reused while a step emits no window (most readings at stride > 1);
      // a step with windows keeps its arrays (their acks wait for the windows).
      let scratch: WindowStep<A> = { windows: [], acks: [], drops: [] };
      const subscription = source.subscribe({
        next: (item) => {
          const step = store.push(item, scratch);
          if (step.windows.length > 0) scratch = { windows: [], acks: [], drops: [] };
          emit(step);
          if (step !== scratch) return;
          step.acks.length = 0;
          step.drops.length = 0;
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          emit(store.flushAll());
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        flushing?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}

/**
 * A sensor's timestamp ring and value ring as two views of one buffer: every
 * typed array costs a few hundred bytes besides its data (its object, the
 * array buffer, the native backing-store record), once per sensor.
 */
function allocateRings(size: number, width: number): { ring: Float32Array; ringTs: Float64Array } {
  const buffer = new ArrayBuffer(8 * size + 4 * size * width);
  return {
    ringTs: new Float64Array(buffer, 0, size),
    ring: new Float32Array(buffer, 8 * size, size * width),
  };
}

/** True when `values` has exactly the given channel names as keys. */
function hasExactly(values: Record<string, number>, channels: readonly string[]): boolean {
  let n = 0;
  for (const name in values) {
    if (!Object.hasOwn(values, name)) return false;
    n++;
  }
  if (n !== channels.length) return false;
  for (let i = 0; i < channels.length; i++) if (!Object.hasOwn(values, channels[i]!)) return false;
  return true;
}

/** The acks of one step, handed on once each of its windows is done. */
class HeldAcks<A> {
  constructor(
    private readonly acks: A[],
    private remaining: number,
    private readonly onAcks: (acks: A[]) => void,
  ) {}

  windowDone(): void {
    this.remaining--;
    if (this.remaining === 0 && this.acks.length > 0) this.onAcks(this.acks);
  }
}

/**
 * A window and its step's held acks. A class rather than closures made per
 * window: at stride 1 every reading makes one, and tsx names each closure.
 */
class WindowOfStep<A> implements TrackedWindow {
  private reported = false;

  constructor(
    readonly window: SensorWindow,
    private readonly held: HeldAcks<A>,
  ) {}

  /** A second call is ignored (a window reported done twice). */
  done(): void {
    if (this.reported) return;
    this.reported = true;
    this.held.windowDone();
  }
}
