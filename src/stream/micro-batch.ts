/**
 * Micro-batching: the model scores many windows per call far faster than one
 * at a time, but waiting for a full batch at a low input rate would add
 * latency. So a batch is emitted when `maxBatchSize` items are waiting or
 * `maxDelayMs` has passed since the first of them arrived, whichever comes
 * first. Unlike `bufferTime`, the timer starts at the first item of a batch,
 * so an idle stream costs no timers and a lone window waits at most
 * `maxDelayMs`.
 */
import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';

export interface MicroBatchOptions {
  maxBatchSize: number;
  maxDelayMs: number;
  /** Each emission emits the waiting partial batch at once (a source waiting to go idle). */
  flush?: Observable<unknown>;
  scheduler?: SchedulerLike;
}

/**
 * Groups items into arrays of at most `maxBatchSize`, each emitted no later
 * than `maxDelayMs` after its first item. On completion the partial batch is
 * emitted; on error or unsubscribe it is discarded (state freed).
 */
export function microBatch<T>(options: MicroBatchOptions): OperatorFunction<T, T[]> {
  const { maxBatchSize, maxDelayMs } = options;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) {
    throw new RangeError(`maxBatchSize ${maxBatchSize} must be a positive integer`);
  }
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | undefined;
      const flush = () => {
        timer?.unsubscribe();
        timer = undefined;
        if (batch.length === 0) return;
        const full = batch;
        batch = [];
        subscriber.next(full);
      };
      const flushing = options.flush?.subscribe(flush);
      const subscription = source.subscribe({
        next: (item) => {
          batch.push(item);
          if (batch.length >= maxBatchSize) flush();
          else if (batch.length === 1) timer = scheduler.schedule(flush, maxDelayMs);
        },
        error: (error) => {
          batch = [];
          subscriber.error(error);
        },
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        flushing?.unsubscribe();
        batch = [];
        subscription.unsubscribe();
      };
    });
}
