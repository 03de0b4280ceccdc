/**
 * The quiet score of the NAB backtest: how still the last rows are. A bursty
 * series that goes silent, or a sensor that gets stuck, gives the model
 * nothing to mis-reconstruct: a flat window is the easiest there is. What is
 * unusual is only that the series has not moved for longer than it ever did
 * before, which the trailing range of the values shows directly.
 */

/**
 * The range (maximum − minimum) of the last `window` values up to each row,
 * NaN before the first full window. Exact for a constant stretch (0, with no
 * rounding error as a variance would have), so a flat stretch compares equal
 * to an earlier flat stretch whatever its level. Monotone queues of the
 * indices of candidate maxima and minima make it O(n). Uses only rows up to
 * the current one; NaN for every window that holds a NaN.
 */
export function trailingRange(values: ArrayLike<number>, window: number): Float64Array {
  const n = values.length;
  const out = new Float64Array(n).fill(Number.NaN);
  const w = Math.max(1, Math.floor(window));
  // Indices whose values decrease (maxima) / increase (minima) from head to tail.
  const maxQ = new Int32Array(n);
  const minQ = new Int32Array(n);
  let maxHead = 0;
  let maxTail = 0;
  let minHead = 0;
  let minTail = 0;
  // Rows since the last NaN: a window holding a NaN has no range (the queues
  // would skip the NaN and call the window flat).
  let finiteRun = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    if (Number.isNaN(x)) {
      finiteRun = 0;
      maxHead = maxTail;
      minHead = minTail;
      continue;
    }
    finiteRun++;
    while (maxTail > maxHead && values[maxQ[maxTail - 1]!]! <= x) maxTail--;
    maxQ[maxTail++] = i;
    while (minTail > minHead && values[minQ[minTail - 1]!]! >= x) minTail--;
    minQ[minTail++] = i;
    if (maxQ[maxHead]! <= i - w) maxHead++;
    if (minQ[minHead]! <= i - w) minHead++;
    if (finiteRun >= w) out[i] = values[maxQ[maxHead]!]! - values[minQ[minHead]!]!;
  }
  return out;
}
