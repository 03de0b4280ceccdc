/**
 * The synthetic readings of the end-to-end benchmark: one channel per sensor,
 * a sine with a per-sensor phase plus a little deterministic noise, so the
 * model trained at the start reconstructs them about as well as it would a
 * real normal signal. Shared by the backlog producer, the paced producer
 * (a child process) and the memory probe, so all three send the same kind of data.
 */

/** Sensor name of index i: `e2e-<i>` (short keys keep the messages small). */
export function sensorName(i: number): string {
  return `e2e-${i}`;
}

/** The value of sensor `sensor` at its reading number `step`. */
export function sensorValue(sensor: number, step: number): number {
  const phase = (sensor * 0.7) % (2 * Math.PI);
  // A cheap hash as noise: deterministic, no generator state per sensor.
  const noise = (((sensor * 7919 + step * 104729) % 1000) / 1000 - 0.5) * 0.1;
  return Math.sin((2 * Math.PI * step) / 50 + phase) + noise;
}

/** One reading as the daemon's input message value (single-channel form, docs/messages.md). */
export function encodeValue(sensor: number, ts: number, value: number): string {
  return `{"sensor":"${sensorName(sensor)}","ts":${ts},"value":${value.toFixed(5)}}`;
}

/** `count` windows of `size` consecutive values of a few sensors, to train and to time the model on. */
export function trainingWindows(count: number, size: number): Float32Array[] {
  const windows: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const sensor = i % 17;
    const start = Math.floor(i / 17) * 3;
    const w = new Float32Array(size);
    for (let s = 0; s < size; s++) w[s] = sensorValue(sensor, start + s);
    windows.push(w);
  }
  return windows;
}
