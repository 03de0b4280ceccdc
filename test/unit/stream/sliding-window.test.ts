import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { Reading } from '../../../src/detector/types.ts';
import type { DropReason } from '../../../src/stream/ports.ts';
import {
  createWindowStore,
  type SlidingWindowOptions,
  slidingWindow,
  type TrackedReading,
  type WindowStep,
} from '../../../src/stream/sliding-window.ts';

const base: Partial<SlidingWindowOptions> = {
  size: 3,
  stride: 1,
  maxLatenessMs: 0,
  maxGapMs: 1_000,
};

function item(ts: number, value = ts, sensor = 's', origin = 'in:0'): TrackedReading<number> {
  return { reading: { sensor, ts, values: { v: value } }, origin, ack: ts, arrivedAt: 0 };
}

/** Pushes readings and gathers what the store produced. */
function run(options: Partial<SlidingWindowOptions>, items: TrackedReading<number>[]) {
  const store = createWindowStore<number>({ ...base, ...options });
  const all: WindowStep<number> = { windows: [], acks: [], drops: [] };
  for (const i of items) {
    const step = store.push(i);
    all.windows.push(...step.windows);
    all.acks.push(...step.acks);
    all.drops.push(...step.drops);
  }
  return { store, ...all, ends: all.windows.map((w) => w.endTs) };
}

describe('window store', () => {
  it('emits a window once `size` readings arrived, then one per stride', () => {
    const { windows, ends } = run(
      { stride: 2 },
      [1, 2, 3, 4, 5, 6, 7].map((t) => item(t)),
    );
    assert.deepEqual(ends, [3, 5, 7]);
    assert.deepEqual([...windows[0]!.data], [1, 2, 3]);
    assert.deepEqual([...windows[1]!.timestamps], [3, 4, 5]);
    assert.equal(windows[1]!.startTs, 3);
  });

  it('lays out several channels row-major in sorted channel order', () => {
    const store = createWindowStore<number>({ ...base, size: 2 });
    store.push({
      reading: { sensor: 's', ts: 1, values: { b: 10, a: 1 } },
      origin: '',
      ack: 1,
      arrivedAt: 0,
    });
    const step = store.push({
      reading: { sensor: 's', ts: 2, values: { a: 2, b: 20 } },
      origin: '',
      ack: 2,
      arrivedAt: 0,
    });
    assert.deepEqual(step.windows[0]?.channels, ['a', 'b']);
    assert.deepEqual([...step.windows[0]!.data], [1, 10, 2, 20]);
  });

  it('keeps sensors apart', () => {
    const { windows } = run({ size: 2 }, [
      item(1, 1, 'a'),
      item(1, 5, 'b'),
      item(2, 2, 'a'),
      item(2, 6, 'b'),
    ]);
    assert.deepEqual(
      windows.map((w) => [w.sensor, [...w.data]]),
      [
        ['a', [1, 2]],
        ['b', [5, 6]],
      ],
    );
  });

  it('reorders readings that arrive within the lateness', () => {
    const { ends, windows, drops } = run(
      { maxLatenessMs: 2 },
      [1, 3, 2, 4, 5, 6].map((t) => item(t)),
    );
    assert.deepEqual(drops, []);
    assert.deepEqual([...windows[0]!.timestamps], [1, 2, 3]);
    assert.deepEqual(ends, [3, 4]);
  });

  it('drops and counts a reading older than the last one windowed', () => {
    const { drops, acks, ends } = run(
      {},
      [1, 2, 3, 4, 2.5].map((t) => item(t)),
    );
    assert.deepEqual(drops, ['late']);
    assert.ok(acks.includes(2.5), 'a dropped reading is acknowledged');
    assert.deepEqual(ends, [3, 4]);
  });

  it('drops and counts duplicates, in the ring and in the reorder buffer', () => {
    assert.deepEqual(
      run(
        {},
        [1, 2, 2].map((t) => item(t)),
      ).drops,
      ['duplicate'],
    );
    assert.deepEqual(
      run(
        { maxLatenessMs: 10 },
        [1, 2, 2].map((t) => item(t)),
      ).drops,
      ['duplicate'],
    );
  });

  it('replaces a waiting reading by a duplicate when the policy says replace', () => {
    const { windows, drops, acks } = run({ maxLatenessMs: 10, duplicatePolicy: 'replace' }, [
      item(1, 1),
      item(2, 2),
      item(2, 20),
    ]);
    assert.deepEqual(drops, ['duplicate']);
    assert.deepEqual(acks, [2], 'the replaced reading is acknowledged as dropped');
    const { windows: later } = run({ maxLatenessMs: 0, duplicatePolicy: 'replace' }, [
      item(1, 1),
      item(2, 2),
      item(2, 20),
      item(3, 3),
    ]);
    assert.deepEqual([...later[0]!.data], [1, 2, 3], 'a windowed reading is not replaced');
    assert.equal(windows.length, 0);
  });

  it('restarts the window after a gap longer than maxGapMs', () => {
    const { drops, ends } = run(
      { maxGapMs: 10 },
      [1, 2, 3, 50, 51, 52].map((t) => item(t)),
    );
    assert.deepEqual(drops, ['gap_restart']);
    assert.deepEqual(ends, [3, 52]);
  });

  it('restarts the window when the channel set changes', () => {
    const store = createWindowStore<number>({ ...base, size: 2 });
    const push = (ts: number, values: Record<string, number>) =>
      store.push({ reading: { sensor: 's', ts, values }, origin: '', ack: ts, arrivedAt: 0 });
    push(1, { a: 1 });
    const changed = push(2, { a: 2, b: 3 });
    assert.deepEqual(changed.drops, ['channel_change']);
    assert.equal(changed.windows.length, 0);
    assert.deepEqual(push(3, { a: 4, b: 5 }).windows[0]?.channels, ['a', 'b']);
  });

  it('bounds the reorder buffer by releasing the oldest reading early', () => {
    const { store, ends } = run(
      { maxLatenessMs: 1_000, maxReorderReadings: 2 },
      [1, 2, 3, 4, 5].map((t) => item(t)),
    );
    assert.equal(store.pendingCount(), 2);
    assert.deepEqual(ends, [3]);
  });

  it('evicts the least recently seen sensor beyond maxSensors', () => {
    const { store, drops } = run({ maxSensors: 2, maxLatenessMs: 100 }, [
      item(1, 1, 'a'),
      item(1, 1, 'b'),
      item(2, 2, 'a'),
      item(1, 1, 'c'),
    ]);
    assert.equal(store.sensorCount, 2);
    assert.deepEqual(drops, ['evicted']);
  });

  it('releases quiet readings by wall-clock age and flushes all on demand', () => {
    const store = createWindowStore<number>({ ...base, maxLatenessMs: 1_000 });
    for (const ts of [1, 2, 3]) store.push({ ...item(ts), arrivedAt: ts * 10 });
    assert.equal(store.pendingCount(), 3);
    const stale = store.flushStale(25);
    assert.deepEqual(stale.acks, [1, 2]);
    assert.deepEqual(
      store.flushAll().windows.map((w) => w.endTs),
      [3],
    );
  });

  it('flushes whole sensors, origin by origin, until about a limit of waiting readings are out', () => {
    const store = createWindowStore<number>({ ...base, maxLatenessMs: 1_000 });
    const sensors = [
      { sensor: 'a', origin: 'in:1', ts: [1, 2] },
      { sensor: 'b', origin: 'in:0', ts: [3, 4] },
      { sensor: 'c', origin: 'in:1', ts: [5, 6] },
    ];
    for (const { sensor, origin, ts } of sensors)
      for (const t of ts) store.push(item(t, t, sensor, origin));
    assert.equal(store.pendingCount(), 6);
    const first = store.flushAll(3);
    assert.deepEqual(first.acks, [3, 4, 1, 2], 'in:0 first (b), then in:1 until the limit (a)');
    assert.equal(store.pendingCount(), 2);
    assert.deepEqual(store.flushAll().acks, [5, 6]);
    assert.equal(store.pendingCount(), 0);
  });

  it('drops the state of sensors from a revoked origin and hands back their waiting acks', () => {
    const store = createWindowStore<number>({ ...base, maxLatenessMs: 1_000 });
    store.push(item(1, 1, 'a', 'in:0'));
    store.push(item(1, 1, 'b', 'in:1'));
    const abandoned = store.dropSensors((_sensor, origin) => origin === 'in:0');
    assert.deepEqual(abandoned, [1]);
    assert.equal(store.sensorCount, 1);
    assert.equal(store.pendingCount(), 1);
  });

  it('rejects a stride larger than the window', () => {
    assert.throws(() => createWindowStore({ size: 2, stride: 3 }), RangeError);
  });
});

describe('slidingWindow operator', () => {
  const scheduler = () =>
    new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));

  it('emits windows in marble time and flushes waiting readings on completion', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const readings: Record<string, Reading> = {
        a: { sensor: 's', ts: 1, values: { v: 1 } },
        b: { sensor: 's', ts: 2, values: { v: 2 } },
        c: { sensor: 's', ts: 3, values: { v: 3 } },
      };
      const store = createWindowStore<string>({ size: 2, stride: 1, maxLatenessMs: 1 });
      const out = cold('a-b-c-|', readings).pipe(
        map((reading) => ({ reading, origin: '', ack: String(reading.ts), arrivedAt: 0 })),
        slidingWindow(store, { onAcks: () => {} }),
        map((w) => w.window.endTs),
      );
      // Lateness 1: ts 2 is released when ts 3 arrives; ts 3 on completion.
      expectObservable(out).toBe('----x-(y|)', { x: 2, y: 3 });
    });
  });

  it('acknowledges readings only after the windows they caused are done', () => {
    const acked: number[] = [];
    const dropped: DropReason[] = [];
    const store = createWindowStore<number>({ size: 2, stride: 1, maxLatenessMs: 0 });
    const windows: Array<{ done(): void }> = [];
    const subject = [1, 2, 2, 3].map((t) => item(t));
    from(subject)
      .pipe(
        slidingWindow(store, { onAcks: (a) => acked.push(...a), onDrop: (r) => dropped.push(r) }),
      )
      .subscribe((w) => windows.push(w));
    assert.deepEqual(acked, [1, 2], 'the first reading and the duplicate need no window');
    assert.deepEqual(dropped, ['duplicate']);
    assert.equal(windows.length, 2);
    windows[0]!.done();
    windows[0]!.done();
    assert.deepEqual(acked.sort(), [1, 2, 2]);
    windows[1]!.done();
    assert.deepEqual(acked.sort(), [1, 2, 2, 3]);
  });

  it('releases quiet readings on its stale-check timer', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const store = createWindowStore<number>({ size: 1, stride: 1, maxLatenessMs: 1_000 });
      const out = cold('a 100ms |', { a: item(5) }).pipe(
        slidingWindow(store, { onAcks: () => {}, staleCheckMs: 30, staleAfterMs: 50 }),
        map((w) => w.window.endTs),
      );
      // Arrived at 0; the checks at 30 and 60 ms see it stale (older than 50 ms) at 60.
      expectObservable(out).toBe('60ms x 40ms |', { x: 5 });
    });
  });

  it('releases stale readings only within the budget the consumer gives, the rest a check later', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const store = createWindowStore<number>({ size: 1, stride: 1, maxLatenessMs: 1_000 });
      const input = cold('(abc) 100ms |', {
        a: item(5, 5, 'x'),
        b: item(5, 5, 'y'),
        c: item(5, 5, 'z'),
      });
      const room = 1;
      const out = input.pipe(
        slidingWindow(store, {
          onAcks: () => {},
          staleCheckMs: 30,
          staleAfterMs: 50,
          staleBudget: () => room,
        }),
        map((w) => w.window.sensor),
      );
      // One sensor per check while the budget is 1: x at 60 ms, y at 90; z waits until the
      // input completes (105 ms) and everything is flushed.
      expectObservable(out).toBe('60ms x 29ms y 14ms (z|)', { x: 'x', y: 'y', z: 'z' });
    });
  });
});
