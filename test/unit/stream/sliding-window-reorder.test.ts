import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  createWindowStore,
  type SlidingWindowOptions,
  type WindowStore,
} from '../../../src/stream/sliding-window.ts';
import { createReferenceWindowStore } from './sliding-window-reference.ts';

/** One call on a store: a reading, a stale flush, a full flush or a revoke. */
type Op =
  | { kind: 'push'; sensor: string; dt: number; channels: number; value: number }
  | { kind: 'stale'; age: number }
  | { kind: 'flush' }
  | { kind: 'drop'; sensor: string };

const SENSORS = ['a', 'b', 'c'];
/** Channel sets a reading may carry, so channel changes happen mid-buffer. */
const CHANNEL_SETS = [['v'], ['v'], ['v'], ['v', 'w'], ['w']];

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      sensor: fc.constantFrom(...SENSORS),
      // Mostly forward, sometimes back (out of order, late) or the same (duplicate).
      dt: fc.integer({ min: -6, max: 4 }),
      channels: fc.integer({ min: 0, max: CHANNEL_SETS.length - 1 }),
      value: fc.double({ min: -1e3, max: 1e3, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stale' as const), age: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('drop' as const),
      sensor: fc.constantFrom(...SENSORS),
    }),
  },
);

const options: fc.Arbitrary<Partial<SlidingWindowOptions>> = fc
  .record({
    size: fc.integer({ min: 1, max: 4 }),
    strideFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    maxLatenessMs: fc.constantFrom(0, 2, 5, 10),
    maxGapMs: fc.constantFrom(3, 1000),
    maxReorderReadings: fc.constantFrom(1, 3, 256),
    maxSensors: fc.constantFrom(2, 10),
    duplicatePolicy: fc.constantFrom('drop' as const, 'replace' as const),
  })
  .map(({ strideFraction, ...o }) => ({
    ...o,
    stride: 1 + Math.floor(strideFraction * (o.size - 1)),
  }));

/** Runs the same calls on a store and returns everything it said, step by step. */
function replay(store: WindowStore<number>, ops: readonly Op[]): unknown[] {
  const said: unknown[] = [];
  const clock = new Map<string, number>();
  let now = 0;
  let ack = 0;
  for (const o of ops) {
    now++;
    if (o.kind === 'push') {
      const ts = (clock.get(o.sensor) ?? 100) + o.dt;
      clock.set(o.sensor, Math.max(ts, clock.get(o.sensor) ?? 100));
      const values: Record<string, number> = {};
      for (const [i, name] of CHANNEL_SETS[o.channels]!.entries()) values[name] = o.value + i;
      said.push(
        store.push({
          reading: { sensor: o.sensor, ts, values },
          origin: o.sensor,
          ack: ack++,
          arrivedAt: now,
        }),
      );
    } else if (o.kind === 'stale') said.push(store.flushStale(now - o.age));
    else if (o.kind === 'flush') said.push(store.flushAll());
    else said.push(store.dropSensors((_, origin) => origin === o.sensor));
    said.push([store.pendingCount(), store.sensorCount]);
  }
  return said;
}

test('the reorder buffer of plain numbers gives exactly the windows, acks and drops of the object one', () => {
  fc.assert(
    fc.property(options, fc.array(op, { minLength: 1, maxLength: 300 }), (o, ops) => {
      const expected = replay(createReferenceWindowStore<number>(o), ops);
      const actual = replay(createWindowStore<number>(o), ops);
      assert.deepEqual(actual, expected);
    }),
    { numRuns: 400, seed: 20261128 },
  );
});

test('out-of-order readings of several channels come out of the reorder buffer in order', () => {
  const store = createWindowStore<number>({ size: 2, stride: 1, maxLatenessMs: 10 });
  const push = (ts: number, values: Record<string, number>) =>
    store.push({ reading: { sensor: 's', ts, values }, origin: '', ack: ts, arrivedAt: 0 });
  push(3, { b: 30, a: 3 });
  push(1, { a: 1, b: 10 });
  push(2, { b: 20, a: 2 });
  assert.equal(store.pendingCount(), 3);
  const out = store.flushAll();
  assert.deepEqual(out.acks, [1, 2, 3]);
  assert.deepEqual(
    out.windows.map((w) => [...w.data]),
    [
      [1, 10, 2, 20],
      [2, 20, 3, 30],
    ],
  );
  assert.deepEqual(out.windows[0]!.channels, ['a', 'b']);
});

test('a stale flush with a limit releases whole sensors until the limit, the rest stay waiting', () => {
  const store = createWindowStore<number>({ size: 1, stride: 1, maxLatenessMs: 100 });
  for (const sensor of ['a', 'b', 'c']) {
    for (const ts of [1, 2, 3]) {
      store.push({ reading: { sensor, ts, values: { v: ts } }, origin: '', ack: ts, arrivedAt: 0 });
    }
  }
  assert.equal(store.pendingCount(), 9);
  const first = store.flushStale(1, 4);
  // Sensor a (3 readings) is under the limit, so b goes too; c waits.
  assert.deepEqual(
    first.windows.map((w) => `${w.sensor}${w.endTs}`),
    ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'],
  );
  assert.equal(store.pendingCount(), 3);
  assert.deepEqual(
    store.flushStale(1, 0).windows.map((w) => w.sensor),
    [],
  );
  assert.deepEqual(
    store.flushStale(1).windows.map((w) => `${w.sensor}${w.endTs}`),
    ['c1', 'c2', 'c3'],
  );
});
