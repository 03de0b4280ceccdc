import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { isTsadError } from '../../../src/errors.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { loadAutoencoder } from '../../../src/model/load-autoencoder.ts';
import type { TrainingProgress } from '../../../src/model/train.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { trainInWorker } from '../../../src/model/train-in-worker.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { periodicSeries } from './fixtures.ts';

const W = 12;
const config = {
  windowSize: W,
  hiddenUnits: [8],
  codeSize: 4,
  maxEpochs: 4,
  batchSize: 32,
  seed: 11,
};
const windows = windowsFromSeries(periodicSeries(150, { seed: 1 }), 1, W);

before(async () => {
  await initBackend();
});

test('trains in a worker while this thread keeps running, and loads the model it wrote', async () => {
  const dir = tempDir('tsad-worker-');
  try {
    const events: TrainingProgress[] = [];
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 5);
    const started = Date.now();
    const model = await trainInWorker(windows, config, {
      outDir: path.join(dir, 'model'),
      onProgress: (p) => events.push(p),
    });
    const elapsed = Date.now() - started;
    clearInterval(timer);
    // The timer fires about every 5 ms only if the event loop stays free.
    assert.ok(ticks > elapsed / 50, `${ticks} ticks in ${elapsed} ms`);
    assert.deepEqual(
      events.map((e) => e.epoch),
      [1, 2, 3, 4],
    );
    assert.deepEqual(model.channels, ['value']);
    const onDisk = await loadAutoencoder(path.join(dir, 'model'));
    assert.equal(onDisk.version, model.version);
    const [a] = await model.scoreData([windows[0]!]);
    const [b] = await onDisk.scoreData([windows[0]!]);
    assert.equal(a!.score, b!.score);
    // The worker runs the same seeded training as this thread would.
    const local = await trainAutoencoder(windows, config);
    local.metadata.lossHistory.forEach((h, i) => {
      assert.ok(Math.abs(h.loss - model.metadata.lossHistory[i]!.loss) <= 1e-5 * h.loss);
    });
    for (const m of [model, onDisk, local]) m.dispose();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a training error in the worker rejects with its code', async () => {
  const nan = windows.map((w) => w.slice());
  nan[3]![2] = Number.NaN;
  await assert.rejects(trainInWorker(nan, config), (e: unknown) => {
    assert.ok(isTsadError(e, 'TSAD_ERR_INPUT_INVALID'), String(e));
    assert.match(e.message, /holds NaN/);
    return true;
  });
});

test('aborting terminates the worker and rejects with the reason', async () => {
  const controller = new AbortController();
  const reason = new Error('retraining cancelled');
  const run = trainInWorker(
    windows,
    { ...config, maxEpochs: 100, patience: 100 },
    {
      signal: controller.signal,
      onProgress: () => controller.abort(reason),
    },
  );
  await assert.rejects(run, (e) => e === reason);
});
