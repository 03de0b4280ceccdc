/**
 * Retraining inside the real daemon: real models trained in worker threads,
 * the real pipeline and detector, readings from an in-process source paced in
 * real time (no Kafka needed: the source port is what Kafka plugs into).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createDaemon, type DaemonSource } from '../../../src/app/daemon.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import { openModelRegistry } from '../../../src/model/registry.ts';
import type { Pipeline } from '../../../src/stream/pipeline.ts';
import type { ScoredWindow } from '../../../src/stream/ports.ts';
import { tempDir } from '../../harness/temp-dir.ts';

const SENSORS = ['a', 'b', 'c', 'd'];
const STEP_MS = 1000;

/** value of sensor `s` at step `i`: a noisy sine, plus what `shape` adds. */
type Shape = (sensor: string, i: number) => number;

/** Pushes one reading per sensor every `tickMs` (real time), so training overlaps scoring. */
function pacedSource(steps: number, shape: Shape, tickMs: number) {
  let resolveEnded: () => void = () => {};
  let stopped = false;
  let seed = 42;
  const noise = () => {
    seed = (seed * 16807) % 2147483647;
    return (seed / 2147483647 - 0.5) * 0.1;
  };
  const source: DaemonSource = {
    kind: 'simulator',
    ended: new Promise<void>((resolve) => {
      resolveEnded = resolve;
    }),
    async start(pipeline: Pipeline, gate) {
      void (async () => {
        for (let i = 0; i < steps && !stopped; i++) {
          await gate();
          await pipeline.waitForCapacity();
          for (const sensor of SENSORS) {
            const value = Math.sin((2 * Math.PI * i) / 20) + noise() + shape(sensor, i);
            pipeline.push({
              topic: 'readings',
              partition: 0,
              offset: String(i * SENSORS.length + SENSORS.indexOf(sensor)),
              key: sensor,
              value: JSON.stringify({ sensor, ts: i * STEP_MS, value }),
              ack: () => {},
            });
          }
          await new Promise((r) => setTimeout(r, tickMs));
        }
        await pipeline.waitIdle();
        resolveEnded();
      })();
    },
    async stopConsuming() {
      stopped = true;
    },
    async commit() {},
    async close() {},
    connected: () => 'not_configured',
  };
  return source;
}

function daemonWith(source: DaemonSource, flags: Record<string, unknown>) {
  const config = loadConfig({
    env: {},
    flags: {
      window: { size: 16, stride: 1 },
      input: { maxLatenessMs: 0 },
      model: { hiddenUnits: [8], codeSize: 4, maxEpochs: 8, patience: 2, warmupWindows: 400 },
      metrics: { enabled: false },
      shutdown: { timeoutMs: 10_000 },
      ...flags,
    },
  });
  const scored: { at: number; window: ScoredWindow }[] = [];
  let alertLines = '';
  const stdout = new Writable({
    write(chunk, _encoding, done) {
      alertLines += String(chunk);
      done();
    },
  });
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    }),
  );
  const daemon = createDaemon({
    config,
    logger,
    stdout,
    source,
    scoredWindows: [{ write: (window) => scored.push({ at: performance.now(), window }) }],
  });
  return { daemon, scored, logs, alerts: () => alertLines };
}

let registryDir = '';
before(async () => {
  registryDir = tempDir('tsad-retrain-');
});
after(async () => {
  await rm(registryDir, { recursive: true, force: true });
});

describe('retraining in the daemon', () => {
  it('promotes models on an interval while scoring goes on, leaving no reading unscored', async () => {
    const source = pacedSource(3000, () => 0, 10);
    const { daemon, scored, logs } = daemonWith(source, {
      model: {
        hiddenUnits: [8],
        codeSize: 4,
        maxEpochs: 8,
        patience: 2,
        warmupWindows: 400,
        registryDir,
      },
      retraining: { intervalMs: 3_000, drift: { enabled: false }, tolerance: 0.5 },
    });
    await daemon.start();
    await daemon.ended;
    await daemon.stop();

    const outcomes = logs.filter((l) => typeof l['outcome'] === 'string');
    const promoted = outcomes.filter((l) => l['outcome'] === 'promoted');
    assert.ok(promoted.length >= 2, JSON.stringify(outcomes.map((o) => [o['outcome'], o['msg']])));

    // The model in use changed during the run, and scoring never stalled while
    // candidates trained in their worker threads.
    const versions = new Set(scored.map((s) => s.window.modelVersion));
    assert.ok(versions.size >= 3, `versions: ${[...versions].join(', ')}`);
    const firstScored = scored[0]!.at;
    let maxGap = 0;
    for (let i = 1; i < scored.length; i++) {
      if (scored[i - 1]!.at >= firstScored)
        maxGap = Math.max(maxGap, scored[i]!.at - scored[i - 1]!.at);
    }
    assert.ok(maxGap < 2_000, `longest pause between scored windows: ${maxGap.toFixed(0)} ms`);

    // Every reading after a sensor's first scored window ends a scored window.
    for (const sensor of SENSORS) {
      const ends = scored.filter((s) => s.window.sensor === sensor).map((s) => s.window.endTs);
      const first = Math.min(...ends);
      const expected = (2999 * STEP_MS - first) / STEP_MS + 1;
      assert.equal(new Set(ends).size, expected, `sensor ${sensor}`);
    }

    // The registry keeps the versions and marks the one in use.
    const registry = await openModelRegistry(registryDir);
    assert.equal(await registry.activeVersion(), scored.at(-1)!.window.modelVersion);
    const events = (await registry.history()).events.map((e) => e.event);
    assert.ok(events.filter((e) => e === 'promoted').length >= 3, events.join(','));
  });

  it('retrains on a lasting level shift; its alerts stop after promotion, a later fault still alerts', async () => {
    const SHIFT_AT = 700;
    const FAULT_AT = 2500;
    const shape: Shape = (sensor, i) =>
      (i >= SHIFT_AT ? 3 : 0) + (sensor === 'a' && i >= FAULT_AT && i < FAULT_AT + 40 ? 4 : 0);
    const source = pacedSource(2800, shape, 10);
    const { daemon, scored, logs } = daemonWith(source, {
      retraining: {
        intervalMs: 0,
        drift: { enabled: true, windows: 256, threshold: 0.5, minIntervalMs: 0 },
      },
      threshold: { method: 'spot', spot: { nInit: 200 } },
      alerts: { confirmK: 3, confirmN: 5, resolveAfter: 5, cooldownMs: 0 },
    });
    await daemon.start();
    await daemon.ended;
    await daemon.stop();

    const drift = logs.filter((l) => l['trigger'] === 'drift' && typeof l['outcome'] === 'string');
    assert.ok(drift.length >= 1, 'a drift-triggered training ran');
    assert.equal(drift[0]!['outcome'], 'promoted', String(drift[0]!['msg']));
    const promotedVersion = String(drift[0]!['version']);
    const afterPromotion = scored.filter((s) => s.window.modelVersion === promotedVersion);
    assert.ok(afterPromotion.length > 0);
    const promotedAtTs = Math.min(...afterPromotion.map((s) => s.window.endTs));

    // The shift alerted before the new model...
    const shiftFirings = scored.filter(
      (s) =>
        s.window.endTs >= SHIFT_AT * STEP_MS &&
        s.window.endTs < promotedAtTs &&
        s.window.alertState === 'firing',
    );
    assert.ok(shiftFirings.length > 0, 'the level shift raised alerts on the old model');
    // ...and once the new model settled (a resolve period), the shifted level is normal again.
    const settled = promotedAtTs + 50 * STEP_MS;
    const quietPeriod = scored.filter(
      (s) => s.window.endTs > settled && s.window.endTs < FAULT_AT * STEP_MS,
    );
    assert.ok(
      quietPeriod.length > 100,
      `windows scored between promotion and fault: ${quietPeriod.length}`,
    );
    const firingInQuiet = quietPeriod.filter((s) => s.window.alertState === 'firing');
    assert.ok(
      firingInQuiet.length <= quietPeriod.length * 0.02,
      `${firingInQuiet.length} firing windows of ${quietPeriod.length}`,
    );

    // A real fault after that still fires, on the faulty sensor.
    const faultFirings = scored.filter(
      (s) =>
        s.window.sensor === 'a' &&
        s.window.endTs >= FAULT_AT * STEP_MS &&
        s.window.alertState === 'firing',
    );
    assert.ok(faultFirings.length > 0, 'the fault after the promotion raised an alert');
  });
});
