/**
 * Cutting a multichannel series into overlapping windows, for training and
 * offline scoring (the stream has its own sliding-window operator).
 */

/**
 * Windows of `windowSize` consecutive rows of a row-major series
 * (`values[row * channels + c]`), one starting every `stride` rows. The
 * windows are views into `values`, not copies. Returns none when the series
 * is shorter than one window.
 */
export function windowsFromSeries(
  values: Float32Array,
  channels: number,
  windowSize: number,
  stride = 1,
): Float32Array[] {
  const rows = Math.floor(values.length / channels);
  const windows: Float32Array[] = [];
  for (let start = 0; start + windowSize <= rows; start += Math.max(1, stride)) {
    windows.push(values.subarray(start * channels, (start + windowSize) * channels));
  }
  return windows;
}
