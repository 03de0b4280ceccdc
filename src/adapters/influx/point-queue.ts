/**
 * A bounded FIFO queue that drops its oldest items to make room, for sinks
 * that must never block the producer (see influx-sink.ts).
 */

/**
 * A bounded first-in-first-out queue. push() and unshift() never refuse: they
 * return how many of the oldest items were dropped to stay within capacity, so
 * the caller can count them. Stored in a plain array with a moving head, which
 * keeps push and take amortised O(1) without a ring buffer's index arithmetic.
 */
export class PointQueue<T> {
  private items: T[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** Appends one item; returns how many old items were dropped (0 or 1). */
  push(item: T): number {
    this.items.push(item);
    return this.trim();
  }

  /** Removes and returns up to `count` of the oldest items. */
  take(count: number): T[] {
    const end = Math.min(this.items.length, this.head + count);
    const taken = this.items.slice(this.head, end);
    this.head = end;
    // Compact once the dead prefix is as large as the live part.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return taken;
  }

  /**
   * Puts items back at the front (oldest first), e.g. a batch whose write
   * failed; returns how many of the oldest items were dropped to fit.
   */
  unshift(batch: readonly T[]): number {
    this.items = [...batch, ...this.items.slice(this.head)];
    this.head = 0;
    return this.trim();
  }

  /** Empties the queue; returns how many items it held. */
  clear(): number {
    const size = this.size;
    this.items = [];
    this.head = 0;
    return size;
  }

  private trim(): number {
    const excess = this.size - this.capacity;
    if (excess <= 0) return 0;
    this.head += excess;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return excess;
  }
}
