/**
 * A reading absurdly far from its channel's normal range (a broken sensor's
 * 1e20, or a value past float32's range that the window stores as Infinity)
 * must alert like any other anomaly: its windows are scored finite and above
 * the threshold, not given up as unscorable.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createDaemon, type DaemonSource } from '../../../src/app/daemon.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { Autoencoder } from '../../../src/model/autoencoder.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import type { ScoredWindow } from '../../../src/stream/ports.ts';
import { periodicSeries } from '../model/fixtures.ts';

const W = 16;
const READINGS = 400;
/** Reading number → value: 1e20 squared leaves float32; 1e39 is Infinity once stored as float32. */
const EXTREME = new Map([
  [150, 1e20],
  [300, 1e39],
]);

let model: Autoencoder;

before(async () => {
  await initBackend();
  model = await trainAutoencoder(windowsFromSeries(periodicSeries(300 + W, { seed: 1 }), 1, W), {
    windowSize: W,
    hiddenUnits: [16],
    codeSize: 8,
    maxEpochs: 12,
    batchSize: 64,
    learningRate: 0.02,
    patience: 5,
    seed: 7,
  });
});

/** One sensor's readings of the signal the model knows, with the extreme ones put in. */
function sourceOf(values: Float32Array): DaemonSource {
  let resolveEnded: () => void = () => {};
  return {
    kind: 'simulator',
    ended: new Promise<void>((resolve) => {
      resolveEnded = resolve;
    }),
    async start(pipeline, gate) {
      for (let i = 0; i < values.length; i++) {
        await gate();
        const value = EXTREME.get(i) ?? values[i]!;
        pipeline.push({
          topic: 't',
          partition: 0,
          offset: String(i),
          key: 's',
          value: JSON.stringify({ sensor: 's', ts: 1_000 * i, value }),
          ack: () => {},
        });
      }
      await pipeline.waitIdle();
      resolveEnded();
    },
    async stopConsuming() {},
    async commit() {},
    async close() {},
    connected: () => 'not_configured',
  };
}

describe('a reading far outside anything the model has seen', () => {
  it('scores its windows finite and above the threshold, and alerts', async () => {
    const config = loadConfig({
      env: {},
      flags: {
        window: { size: W, stride: 1 },
        input: { maxLatenessMs: 0 },
        threshold: { method: 'rolling', rolling: { window: 100, warmup: 50, k: 6 } },
        alerts: { confirmK: 1, confirmN: 1, cooldownMs: 0 },
        metrics: { enabled: false },
        retraining: { enabled: false },
        shutdown: { timeoutMs: 5_000 },
      },
    });
    let out = '';
    const stdout = new Writable({
      write(chunk, _encoding, done) {
        out += String(chunk);
        done();
      },
    });
    const scored: ScoredWindow[] = [];
    const daemon = createDaemon({
      config,
      logger: pino({ level: 'silent' }),
      stdout,
      source: sourceOf(periodicSeries(READINGS, { seed: 2, offset: 5 })),
      scorer: model,
      scoreInWorker: false,
      scoredWindows: [{ write: (w) => scored.push(w) }],
    });
    await daemon.start();
    await daemon.ended;
    const stats = { ...daemon.stats() };
    await daemon.stop();

    assert.equal(stats.windowsGivenUp, 0);
    assert.equal(stats.windowsScored, READINGS - W + 1);
    for (const [i, value] of EXTREME) {
      const ts = 1_000 * i;
      const holding = scored.filter((w) => w.startTs <= ts && ts <= w.endTs);
      assert.equal(holding.length, W, `windows holding reading ${i} (${value})`);
      for (const w of holding) {
        assert.ok(
          Number.isFinite(w.score.score) && w.score.score > w.threshold,
          `reading ${i} (${value}): window ending ${w.endTs} scored ${w.score.score}, threshold ${w.threshold}`,
        );
      }
    }
    assert.equal(out.match(/FIRING/g)?.length, EXTREME.size, out);
  });
});
