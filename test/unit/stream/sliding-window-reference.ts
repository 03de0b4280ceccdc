/**
 * The window store as it was before the memory work of 2026-11-28 (one
 * object per waiting reading), kept as the reference the new store is
 * compared against in property tests. Test code only.
 */
import type {
  SlidingWindowOptions,
  WindowStep,
  WindowStore,
} from '../../../src/stream/sliding-window.ts';
import { defaultSlidingWindowOptions } from '../../../src/stream/sliding-window.ts';

interface Pending<A> {
  ts: number;
  values: Record<string, number>;
  ack: A;
  arrivedAt: number;
}

interface SensorState<A> {
  sensor: string;
  /** Neighbours in the least-recently-seen list (the eviction order). */
  older: SensorState<A> | undefined;
  newer: SensorState<A> | undefined;
  origin: string;
  /** Newest timestamp seen; the watermark is this minus the lateness. */
  maxTs: number;
  /** Reorder buffer, ascending by ts. */
  pending: Pending<A>[];
  /** Timestamp of the newest reading placed in the ring. */
  lastTs: number;
  channels: string[];
  channelKey: string;
  ring: Float32Array;
  ringTs: Float64Array;
  /** Readings placed since the last restart. */
  count: number;
  sinceEmit: number;
  emitted: boolean;
}

/** Creates an empty store; options are checked so a misconfiguration fails at start. */
export function createReferenceWindowStore<A>(
  options: Partial<SlidingWindowOptions> = {},
): WindowStore<A> {
  const o: SlidingWindowOptions = { ...defaultSlidingWindowOptions, ...options };
  if (!Number.isInteger(o.size) || o.size < 1) throw new RangeError(`window size ${o.size}`);
  if (!Number.isInteger(o.stride) || o.stride < 1 || o.stride > o.size) {
    throw new RangeError(`window stride ${o.stride} must be in 1..size`);
  }
  const sensors = new Map<string, SensorState<A>>();
  let pendingTotal = 0;

  const restart = (s: SensorState<A>, channels: string[], key: string) => {
    if (key !== s.channelKey) {
      s.channels = channels;
      s.channelKey = key;
      s.ring = new Float32Array(o.size * channels.length);
    }
    s.count = 0;
    s.sinceEmit = 0;
    s.emitted = false;
  };

  /** Moves one reading from the reorder buffer into the ring, maybe emitting a window. */
  const place = (
    sensor: string,
    s: SensorState<A>,
    ts: number,
    values: Record<string, number>,
    ack: A,
    out: WindowStep<A>,
  ) => {
    out.acks.push(ack);
    // Nearly every reading has the ring's channels: checked without sorting.
    if (!hasExactly(values, s.channels)) {
      const channels = Object.keys(values).sort();
      const key = channels.join('\u0000');
      if (key !== s.channelKey) {
        if (s.count > 0) out.drops.push('channel_change');
        restart(s, channels, key);
      }
    }
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
    for (let c = 0; c < width; c++) s.ring[slot * width + c] = values[s.channels[c]!]!;
    s.ringTs[slot] = ts;
    s.lastTs = ts;
    s.count++;
    s.sinceEmit++;
    if (s.count >= o.size && (!s.emitted || s.sinceEmit >= o.stride)) {
      s.emitted = true;
      s.sinceEmit = 0;
      out.windows.push({
        sensor,
        channels: s.channels,
        size: o.size,
        data: s.ring.slice(),
        startTs: s.ringTs[0]!,
        endTs: s.ringTs[o.size - 1]!,
        timestamps: s.ringTs.slice(),
      });
    }
  };

  /** Releases the first `n` waiting readings of a sensor into its ring. */
  const release = (sensor: string, s: SensorState<A>, n: number, out: WindowStep<A>) => {
    if (n <= 0) return;
    const ready = s.pending.splice(0, n);
    pendingTotal -= ready.length;
    for (const p of ready) place(sensor, s, p.ts, p.values, p.ack, out);
  };

  const releaseByWatermark = (sensor: string, s: SensorState<A>, out: WindowStep<A>) => {
    const watermark = s.maxTs - o.maxLatenessMs;
    let n = 0;
    while (n < s.pending.length && s.pending[n]!.ts <= watermark) n++;
    n = Math.max(n, s.pending.length - o.maxReorderReadings);
    release(sensor, s, n, out);
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
    for (const p of s.pending) {
      out.acks.push(p.ack);
      out.drops.push('evicted');
    }
    pendingTotal -= s.pending.length;
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
          pending: [],
          lastTs: Number.NEGATIVE_INFINITY,
          channels: [],
          channelKey: '',
          ring: new Float32Array(0),
          ringTs: new Float64Array(o.size),
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
      if (s.pending.length === 0 && ts <= Math.max(s.maxTs, ts) - o.maxLatenessMs) {
        // In order and already past the watermark (no lateness allowed, or
        // behind a newer reading): straight into the ring, no reorder buffer.
        if (ts > s.maxTs) s.maxTs = ts;
        place(sensor, s, ts, values, item.ack, out);
        return out;
      }
      // Binary search for the insertion point in the ascending reorder buffer.
      let lo = 0;
      let hi = s.pending.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (s.pending[mid]!.ts < ts) lo = mid + 1;
        else hi = mid;
      }
      const same = s.pending[lo];
      if (same?.ts === ts) {
        out.drops.push('duplicate');
        if (o.duplicatePolicy === 'replace') {
          // The first reading is the one dropped: its ack goes, the newcomer takes its place.
          out.acks.push(same.ack);
          s.pending[lo] = { ts, values, ack: item.ack, arrivedAt: item.arrivedAt };
        } else {
          out.acks.push(item.ack);
        }
        return out;
      }
      s.pending.splice(lo, 0, { ts, values, ack: item.ack, arrivedAt: item.arrivedAt });
      pendingTotal++;
      if (ts > s.maxTs) s.maxTs = ts;
      releaseByWatermark(sensor, s, out);
      return out;
    },
    flushStale(olderThan) {
      const out = emptyStep();
      if (pendingTotal === 0) return out;
      for (const [sensor, s] of sensors) {
        // Release up to the newest stale reading, so order is kept.
        let n = 0;
        for (let i = 0; i < s.pending.length; i++)
          if (s.pending[i]!.arrivedAt < olderThan) n = i + 1;
        release(sensor, s, n, out);
      }
      return out;
    },
    flushAll() {
      const out = emptyStep();
      for (const [sensor, s] of sensors) release(sensor, s, s.pending.length, out);
      return out;
    },
    dropSensors(match) {
      const abandoned: A[] = [];
      for (const [sensor, s] of sensors) {
        if (!match(sensor, s.origin)) continue;
        for (const p of s.pending) abandoned.push(p.ack);
        pendingTotal -= s.pending.length;
        remove(s);
      }
      return abandoned;
    },
    pendingCount() {
      return pendingTotal;
    },
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
