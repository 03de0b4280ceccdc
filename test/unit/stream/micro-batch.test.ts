import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestScheduler } from 'rxjs/testing';
import { microBatch } from '../../../src/stream/micro-batch.ts';

const testScheduler = () =>
  new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));

describe('microBatch', () => {
  it('emits as soon as maxBatchSize items are waiting', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('abc---|').pipe(microBatch({ maxBatchSize: 3, maxDelayMs: 100 }));
      expectObservable(out).toBe('--x---|', { x: ['a', 'b', 'c'] });
    });
  });

  it('emits a partial batch maxDelayMs after its first item', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('a 4ms b 20ms |').pipe(microBatch({ maxBatchSize: 10, maxDelayMs: 10 }));
      expectObservable(out).toBe('10ms x 15ms |', { x: ['a', 'b'] });
    });
  });

  it('starts the delay at the first item of each batch, not on a fixed clock', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('a 19ms b 30ms |').pipe(microBatch({ maxBatchSize: 10, maxDelayMs: 10 }));
      expectObservable(out).toBe('10ms x 9ms - 9ms y 20ms |', { x: ['a'], y: ['b'] });
    });
  });

  it('whichever comes first: size-triggered batches reset the timer', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('ab c 20ms |').pipe(microBatch({ maxBatchSize: 2, maxDelayMs: 5 }));
      expectObservable(out).toBe('-x 5ms y 15ms |', { x: ['a', 'b'], y: ['c'] });
    });
  });

  it('emits the partial batch on completion', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('ab|').pipe(microBatch({ maxBatchSize: 5, maxDelayMs: 50 }));
      expectObservable(out).toBe('--(x|)', { x: ['a', 'b'] });
    });
  });

  it('discards the waiting batch and its timer on error and unsubscribe', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('ab#');
      expectObservable(source.pipe(microBatch({ maxBatchSize: 5, maxDelayMs: 50 }))).toBe('--#');
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('a 100ms |').pipe(microBatch({ maxBatchSize: 5, maxDelayMs: 50 }));
      expectObservable(out, '^ 10ms !').toBe('');
    });
  });

  it('emits the waiting batch at once when flushed', () => {
    testScheduler().run(({ cold, hot, expectObservable }) => {
      const flush = hot('--f---');
      const out = cold('a-----|').pipe(microBatch({ maxBatchSize: 5, maxDelayMs: 50, flush }));
      expectObservable(out).toBe('--x---|', { x: ['a'] });
    });
  });

  it('refuses a batch size below one', () => {
    assert.throws(() => microBatch({ maxBatchSize: 0, maxDelayMs: 1 }), RangeError);
  });
});
