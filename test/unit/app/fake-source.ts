/**
 * A daemon source for the unit tests: one sensor, `s`, whose readings are
 * `values`, one second apart, pushed as fast as the daemon's gate lets them:
 * a number as a single-channel reading (`value`), an object as a
 * multi-channel one (`values`). It records the daemon's calls to it and
 * counts acknowledged messages.
 */
import type { DaemonSource } from '../../../src/app/daemon.ts';
import type { Pipeline } from '../../../src/stream/pipeline.ts';

export function fakeSource(values: ArrayLike<number | Readonly<Record<string, number>>>) {
  const calls: string[] = [];
  let acked = 0;
  let resolveEnded: () => void = () => {};
  const source: DaemonSource & { calls: string[]; acked: () => number } = {
    kind: 'simulator',
    calls,
    acked: () => acked,
    ended: new Promise<void>((resolve) => {
      resolveEnded = resolve;
    }),
    async start(pipeline: Pipeline, gate) {
      calls.push('start');
      for (let i = 0; i < values.length; i++) {
        await gate();
        const reading = values[i]!;
        const value = typeof reading === 'number' ? { value: reading } : { values: reading };
        pipeline.push({
          topic: 't',
          partition: 0,
          offset: String(i),
          key: 's',
          value: JSON.stringify({ sensor: 's', ts: 1_000 * i, ...value }),
          ack: () => acked++,
        });
      }
      await pipeline.waitIdle();
      resolveEnded();
    },
    async stopConsuming() {
      calls.push('stopConsuming');
    },
    async commit() {
      calls.push('commit');
    },
    async close() {
      calls.push('close');
    },
    connected: () => 'not_configured',
  };
  return source;
}
