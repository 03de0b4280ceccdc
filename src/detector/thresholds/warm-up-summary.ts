/**
 * What SPOT keeps of its warm-up batch: instead of all `nInit` scores, the
 * largest few (with the order they came in) and a running estimate of the
 * median.
 *
 * SPOT's first fit needs, from the batch, only its `initQuantile` quantile t,
 * the values above t (the first peaks, in arrival order) and the median (the
 * calibration's lower anchor, docs/thresholds.md). The quantile by linear
 * interpolation (type 7) of n values reads the sorted values at positions
 * ⌊(n − 1)·level⌋ and the one after, so the largest n − ⌊(n − 1)·level⌋ values
 * give t exactly, and every value above t is among them: 21 values at
 * `nInit` 1,000 and 0.98. The median would need every value; it is estimated
 * by the P² algorithm (Jain and Chlamtac, "The P² algorithm for dynamic
 * calculation of quantiles and histograms without storing observations",
 * CACM 28(10), 1985): five markers whose heights follow the minimum, the
 * quartiles, the median and the maximum, adjusted by a parabolic formula.
 * With five values or fewer it is exact.
 *
 * All of it lives in one Float64Array (one typed array costs a few hundred
 * bytes of its own, and there is one per sensor): the five marker heights,
 * their five positions, then the kept values in ascending order, then their
 * arrival indices. 52 doubles (416 B) at `nInit` 1,000 and 0.98, against
 * 4,000 B for the whole batch as float32.
 */

const MARKERS = 5;
const HEIGHTS = 0;
const POSITIONS = MARKERS;
const KEPT = 2 * MARKERS;
/** Where each marker should sit, as a fraction of the values seen: min, quartile, median, quartile, max. */
const MARKER_FRACTIONS = [0, 0.25, 0.5, 0.75, 1] as const;

/**
 * The `level` quantile, by linear interpolation (type 7), of `total` values of
 * which `largest` holds the largest `largest.length` in ascending order (all
 * of them by default). Exact as long as `largest` reaches down to position
 * ⌊(total − 1)·level⌋ (see `keptForQuantile`).
 */
export function sortedQuantile(
  largest: ArrayLike<number>,
  level: number,
  total = largest.length,
): number {
  const offset = total - largest.length;
  const position = (total - 1) * level;
  const below = Math.floor(position);
  const above = Math.min(total - 1, below + 1);
  const weight = position - below;
  return largest[below - offset]! * (1 - weight) + largest[above - offset]! * weight;
}

/** How many of the largest of `total` values give their `level` quantile and everything above it. */
export function keptForQuantile(total: number, level: number): number {
  return total - Math.floor((total - 1) * level);
}

export class WarmUpSummary {
  /** For a batch of `total` values whose `level` quantile will be asked for. */
  static forQuantile(total: number, level: number): WarmUpSummary {
    const keep = keptForQuantile(total, level);
    return new WarmUpSummary(keep, new Float64Array(KEPT + 2 * keep), 0);
  }

  private constructor(
    private readonly keep: number,
    private readonly buffer: Float64Array,
    private seen: number,
  ) {}

  /** Values added so far. */
  get count(): number {
    return this.seen;
  }

  add(value: number): void {
    this.addToMedian(value);
    this.addToLargest(value, this.seen);
    this.seen++;
  }

  /**
   * The `level` quantile (type 7) of all values seen, exact; the batch must be
   * complete (`count` = `forQuantile`'s `total`, `level` its `level`).
   */
  quantile(level: number): number {
    const kept = this.kept();
    return sortedQuantile(kept, level, this.seen);
  }

  /** The kept values above `level`, in the order they were added. */
  valuesAbove(level: number): number[] {
    const kept = this.kept();
    const arrivals = this.arrivals();
    const above: { value: number; arrival: number }[] = [];
    for (let i = 0; i < kept.length; i++) {
      if (kept[i]! > level) above.push({ value: kept[i]!, arrival: arrivals[i]! });
    }
    above.sort((a, b) => a.arrival - b.arrival);
    return above.map((entry) => entry.value);
  }

  /** The P² estimate of the median (exact for five values or fewer). */
  median(): number {
    const heights = this.buffer.subarray(HEIGHTS, HEIGHTS + MARKERS);
    if (this.seen >= MARKERS) return heights[2]!;
    return sortedQuantile(heights.slice(0, this.seen).sort(), 0.5);
  }

  /** Multiplies every value seen by `scale` (> 0, so their order holds). */
  rescale(scale: number): void {
    const buffer = this.buffer;
    for (let i = HEIGHTS; i < HEIGHTS + MARKERS; i++) buffer[i]! *= scale;
    for (let i = KEPT; i < KEPT + this.keep; i++) buffer[i]! *= scale;
  }

  copy(): WarmUpSummary {
    return new WarmUpSummary(this.keep, this.buffer.slice(), this.seen);
  }

  memoryBytes(): number {
    return this.buffer.byteLength;
  }

  /** The kept values, ascending: the largest min(count, keep) seen. */
  private kept(): Float64Array {
    return this.buffer.subarray(KEPT, KEPT + Math.min(this.seen, this.keep));
  }

  private arrivals(): Float64Array {
    return this.buffer.subarray(
      KEPT + this.keep,
      KEPT + this.keep + Math.min(this.seen, this.keep),
    );
  }

  /**
   * Keeps the largest `keep` values in ascending order (insertion into a
   * short sorted run): a value no larger than the smallest kept one, once
   * the run is full, is not kept.
   */
  private addToLargest(value: number, arrival: number): void {
    const values = this.buffer.subarray(KEPT, KEPT + this.keep);
    const arrivals = this.buffer.subarray(KEPT + this.keep, KEPT + 2 * this.keep);
    let slot: number;
    if (this.seen < this.keep) {
      slot = this.seen;
    } else {
      if (value <= values[0]!) return;
      // Drop the smallest: shift the run down by one and fill from the top.
      values.copyWithin(0, 1);
      arrivals.copyWithin(0, 1);
      slot = this.keep - 1;
    }
    while (slot > 0 && values[slot - 1]! > value) {
      values[slot] = values[slot - 1]!;
      arrivals[slot] = arrivals[slot - 1]!;
      slot--;
    }
    values[slot] = value;
    arrivals[slot] = arrival;
  }

  /** One step of P² for the median (the paper's algorithm, positions counted from 1). */
  private addToMedian(value: number): void {
    const q = this.buffer.subarray(HEIGHTS, HEIGHTS + MARKERS);
    const n = this.buffer.subarray(POSITIONS, POSITIONS + MARKERS);
    const count = this.seen + 1;
    if (count <= MARKERS) {
      // The first five values are the markers, sorted.
      let slot = count - 1;
      while (slot > 0 && q[slot - 1]! > value) {
        q[slot] = q[slot - 1]!;
        slot--;
      }
      q[slot] = value;
      for (let i = 0; i < MARKERS; i++) n[i] = i + 1;
      return;
    }
    let cell: number;
    if (value < q[0]!) {
      q[0] = value;
      cell = 0;
    } else if (value >= q[4]!) {
      q[4] = value;
      cell = 3;
    } else {
      cell = 0;
      while (value >= q[cell + 1]!) cell++;
    }
    for (let i = cell + 1; i < MARKERS; i++) n[i]!++;
    for (let i = 1; i < MARKERS - 1; i++) {
      const desired = 1 + (count - 1) * MARKER_FRACTIONS[i]!;
      const gap = desired - n[i]!;
      if ((gap >= 1 && n[i + 1]! - n[i]! > 1) || (gap <= -1 && n[i - 1]! - n[i]! < -1)) {
        const step = Math.sign(gap);
        const parabolic =
          q[i]! +
          (step / (n[i + 1]! - n[i - 1]!)) *
            (((n[i]! - n[i - 1]! + step) * (q[i + 1]! - q[i]!)) / (n[i + 1]! - n[i]!) +
              ((n[i + 1]! - n[i]! - step) * (q[i]! - q[i - 1]!)) / (n[i]! - n[i - 1]!));
        if (q[i - 1]! < parabolic && parabolic < q[i + 1]!) {
          q[i] = parabolic;
        } else {
          const neighbour = i + step;
          q[i] = q[i]! + (step * (q[neighbour]! - q[i]!)) / (n[neighbour]! - n[i]!);
        }
        n[i] = n[i]! + step;
      }
    }
  }
}
