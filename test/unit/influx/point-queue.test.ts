import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PointQueue } from '../../../src/adapters/influx/point-queue.ts';

describe('PointQueue', () => {
  it('hands out items first in, first out, in batches', () => {
    const queue = new PointQueue<number>(10);
    for (let i = 0; i < 5; i++) queue.push(i);
    assert.deepEqual(queue.take(3), [0, 1, 2]);
    assert.deepEqual(queue.take(3), [3, 4]);
    assert.deepEqual(queue.take(3), []);
    assert.equal(queue.size, 0);
  });

  it('drops the oldest item when full and says how many it dropped', () => {
    const queue = new PointQueue<number>(3);
    assert.deepEqual(
      [1, 2, 3].map((i) => queue.push(i)),
      [0, 0, 0],
    );
    assert.equal(queue.push(4), 1);
    assert.deepEqual(queue.take(10), [2, 3, 4]);
  });

  it('puts a failed batch back in front and drops its oldest items when newer ones filled the queue', () => {
    const queue = new PointQueue<number>(4);
    for (let i = 0; i < 4; i++) queue.push(i);
    const batch = queue.take(3);
    queue.push(4);
    queue.push(5);
    assert.equal(queue.unshift(batch), 2);
    assert.deepEqual(queue.take(10), [2, 3, 4, 5]);
  });

  it('clear empties the queue and returns what it held', () => {
    const queue = new PointQueue<number>(5);
    queue.push(1);
    queue.push(2);
    assert.equal(queue.clear(), 2);
    assert.equal(queue.size, 0);
  });

  it('never holds more than its capacity and keeps the newest items in order (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 20 })), { maxLength: 300 }),
        (capacity, ops) => {
          const queue = new PointQueue<number>(capacity);
          const model: number[] = [];
          let next = 0;
          let dropped = 0;
          let taken = 0;
          for (const op of ops) {
            if (op === -1) {
              dropped += queue.push(next);
              model.push(next++);
              if (model.length > capacity) model.shift();
            } else {
              const batch = queue.take(op);
              taken += batch.length;
              assert.deepEqual(batch, model.splice(0, op));
            }
            assert.ok(queue.size <= capacity);
            assert.equal(queue.size, model.length);
          }
          // Every pushed item was taken, dropped (and counted) or is still queued.
          assert.equal(taken + dropped + queue.size, next);
          assert.deepEqual(queue.take(capacity), model);
        },
      ),
    );
  });
});
