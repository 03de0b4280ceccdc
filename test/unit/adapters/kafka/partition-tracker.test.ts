import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PartitionTracker } from '../../../../src/adapters/kafka/kafka-source.ts';

/** The obvious implementation the tracker must agree with: a set of pending offsets. */
class ReferenceTracker {
  private readonly pending = new Set<number>();
  private next = -1;

  add(offset: number): void {
    this.pending.add(offset);
    if (offset + 1 > this.next) this.next = offset + 1;
  }

  done(offset: number): void {
    this.pending.delete(offset);
  }

  committable(): number {
    let lowest = this.next;
    for (const offset of this.pending) if (offset < lowest) lowest = offset;
    return lowest;
  }

  get inFlight(): number {
    return this.pending.size;
  }
}

describe('PartitionTracker', () => {
  it('commits up to the lowest offset not yet acked, then past the highest once all are', () => {
    const tracker = new PartitionTracker();
    assert.equal(tracker.committable(), -1);
    for (const offset of [10, 11, 12, 13]) tracker.add(offset);
    tracker.done(11);
    tracker.done(12);
    assert.equal(tracker.committable(), 10);
    tracker.done(10);
    assert.equal(tracker.committable(), 13);
    tracker.done(13);
    assert.equal(tracker.committable(), 14);
    assert.equal(tracker.inFlight, 0);
  });

  it('treats offsets skipped by the broker (compaction) as never pending', () => {
    const tracker = new PartitionTracker();
    tracker.add(5);
    tracker.add(9);
    tracker.done(5);
    assert.equal(tracker.committable(), 9);
    tracker.done(9);
    assert.equal(tracker.committable(), 10);
  });

  it('agrees with a set of pending offsets on any order of acks, across growth and gaps', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 3_000 }),
        fc.array(fc.nat(), { maxLength: 6_000 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 40 }),
        (first, steps, picks, checkpoints) => {
          const tracker = new PartitionTracker();
          const reference = new ReferenceTracker();
          const handed: number[] = [];
          let offset = first;
          const cut = new Set(checkpoints);
          let p = 0;
          for (let i = 0; i < steps.length; i++) {
            // Mostly consecutive offsets, now and then a gap.
            offset += steps[i]! > 390 ? steps[i]! : 1;
            tracker.add(offset);
            reference.add(offset);
            handed.push(offset);
            // Ack a few of the handed offsets, in random order.
            while (p < picks.length && picks[p]! % 3 !== 0 && handed.length > 0) {
              const [acked] = handed.splice(picks[p]! % handed.length, 1);
              tracker.done(acked!);
              reference.done(acked!);
              p++;
            }
            p++;
            if (cut.has(i)) {
              assert.equal(tracker.committable(), reference.committable());
              assert.equal(tracker.inFlight, reference.inFlight);
            }
          }
          for (const acked of handed) {
            assert.equal(tracker.committable(), reference.committable());
            tracker.done(acked);
            reference.done(acked);
          }
          assert.equal(tracker.committable(), reference.committable());
          assert.equal(tracker.inFlight, 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
