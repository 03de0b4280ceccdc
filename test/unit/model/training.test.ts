import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { isTsadError } from '../../../src/errors.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { type TrainingProgress, trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { periodicSeries } from './fixtures.ts';

const W = 12;
const small = { windowSize: W, hiddenUnits: [8], codeSize: 4, batchSize: 64, seed: 5 };
const windows = windowsFromSeries(periodicSeries(150, { seed: 1 }), 1, W);

before(async () => {
  await initBackend();
});

describe('training', () => {
  test('reports every epoch with loss, validation loss and elapsed time', async () => {
    const events: TrainingProgress[] = [];
    const model = await trainAutoencoder(
      windows,
      { ...small, maxEpochs: 3, patience: 10 },
      {
        onProgress: (p) => events.push(p),
      },
    );
    assert.deepEqual(
      events.map((e) => e.epoch),
      [1, 2, 3],
    );
    for (const e of events) {
      assert.ok(e.loss > 0 && Number.isFinite(e.loss));
      assert.ok(e.valLoss !== null && e.valLoss > 0);
      assert.equal(e.maxEpochs, 3);
    }
    assert.ok(events[2]!.elapsedMs >= events[0]!.elapsedMs);
    assert.deepEqual(
      model.metadata.lossHistory,
      events.map(({ epoch, loss, valLoss }) => ({ epoch, loss, valLoss })),
    );
    const t = model.metadata.training;
    assert.equal(t.windows, windows.length);
    assert.equal(t.validationWindows, Math.floor(windows.length * 0.1));
    assert.equal(t.trainWindows + t.validationWindows, windows.length);
    model.dispose();
  });

  test('stops after `patience` epochs without improvement and keeps the best weights', async () => {
    // A high learning rate makes the validation loss jump about (with this
    // seed it rises at epoch 3), so the last epoch is not the best one.
    const model = await trainAutoencoder(windows, {
      ...small,
      maxEpochs: 8,
      patience: 1,
      learningRate: 0.08,
    });
    const history = model.metadata.lossHistory;
    const best = Math.min(...history.map((h) => h.valLoss!));
    const t = model.metadata.training;
    assert.ok(t.stoppedEarly, JSON.stringify(history));
    assert.ok(t.epochsRun < 8);
    assert.equal(t.epochsRun - t.bestEpoch, 1);
    assert.equal(t.bestLoss, best);
    assert.equal(history[t.bestEpoch - 1]!.valLoss, best);
    // The kept weights reproduce the best validation loss, not the last one.
    const validation = windows.slice(t.trainWindows);
    const scores = await model.scoreData(validation);
    const mse = scores.reduce((a, s) => a + s.score, 0) / scores.length;
    assert.ok(Math.abs(mse - best) < 1e-4 * best, `val MSE ${mse} vs best ${best}`);
    assert.ok(Math.abs(mse - history.at(-1)!.valLoss!) > 1e-3 * best);
    model.dispose();
  });

  test('without validation windows it monitors the training loss', async () => {
    const model = await trainAutoencoder(windows, {
      ...small,
      maxEpochs: 2,
      validationFraction: 0,
    });
    assert.equal(model.metadata.training.validationWindows, 0);
    assert.ok(model.metadata.lossHistory.every((h) => h.valLoss === null));
    model.dispose();
  });

  test('the same seed reproduces the same training run', async () => {
    const a = await trainAutoencoder(windows, { ...small, maxEpochs: 2 });
    const b = await trainAutoencoder(windows, { ...small, maxEpochs: 2 });
    const c = await trainAutoencoder(windows, { ...small, maxEpochs: 2, seed: 6 });
    a.metadata.lossHistory.forEach((h, i) => {
      const other = b.metadata.lossHistory[i]!;
      assert.ok(Math.abs(h.loss - other.loss) <= 1e-5 * h.loss, `epoch ${h.epoch}`);
    });
    assert.notEqual(c.metadata.lossHistory[0]!.loss, a.metadata.lossHistory[0]!.loss);
    for (const m of [a, b, c]) m.dispose();
  });

  test('an aborted training rejects with the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const run = trainAutoencoder(
      windows,
      { ...small, maxEpochs: 50 },
      {
        signal: controller.signal,
        onProgress: () => controller.abort(reason),
      },
    );
    await assert.rejects(run, (e) => e === reason);
  });

  test('an abort from a timer (as a signal handler aborts) stops training at the next epoch', async () => {
    const controller = new AbortController();
    const reason = new Error('SIGTERM');
    let epochs = 0;
    const run = trainAutoencoder(
      windows,
      { ...small, maxEpochs: 300, patience: 300 },
      {
        signal: controller.signal,
        onProgress: (p) => {
          epochs = p.epoch;
          // A macrotask, like process.on('SIGTERM'): it runs only if training yields.
          if (p.epoch === 1) setImmediate(() => controller.abort(reason));
        },
      },
    );
    await assert.rejects(run, (e) => e === reason);
    assert.ok(epochs <= 2, `trained ${epochs} epochs after the abort was due`);
  });

  test('multichannel windows train and keep their channel names', async () => {
    const two = windowsFromSeries(periodicSeries(60, { channels: 2, seed: 2 }), 2, W);
    const model = await trainAutoencoder(two, { ...small, maxEpochs: 1 }, { channels: ['a', 'b'] });
    assert.deepEqual(model.channels, ['a', 'b']);
    const [s] = await model.scoreData([two[0]!]);
    assert.equal(s!.perChannel.length, 2);
    model.dispose();
  });
});

describe('training input validation', () => {
  const rejects = (
    promise: Promise<unknown>,
    code: 'TSAD_ERR_INPUT_INVALID' | 'TSAD_ERR_CONFIG_INVALID',
    text: RegExp,
  ) => assert.rejects(promise, (e: unknown) => isTsadError(e, code) && text.test(e.message));

  test('rejects no windows, windows of the wrong length and NaN', async () => {
    await rejects(trainAutoencoder([], small), 'TSAD_ERR_INPUT_INVALID', /at least one window/);
    await rejects(
      trainAutoencoder([new Float32Array(W), new Float32Array(W - 1)], small),
      'TSAD_ERR_INPUT_INVALID',
      /window 1 has 11 values/,
    );
    const nan = new Float32Array(W);
    nan[3] = Number.NaN;
    await rejects(trainAutoencoder([nan], small), 'TSAD_ERR_INPUT_INVALID', /window 0 holds NaN/);
    await rejects(
      trainAutoencoder([new Float32Array(2 * W)], small),
      'TSAD_ERR_INPUT_INVALID',
      /channel names/,
    );
  });

  test('leaves out windows holding a value a million scales out or past float32, and says how many', async () => {
    const config = { ...small, maxEpochs: 8, patience: 10 };
    const clean = await trainAutoencoder(windows, config);
    // One reading of 1e20 (a broken sensor's sentinel) and one past float32 (stored as Infinity),
    // far enough apart that no window holds both: W windows hold each.
    const series = periodicSeries(150, { seed: 1 });
    series[40] = 1e20;
    series[100] = Number.POSITIVE_INFINITY;
    const spoilt = windowsFromSeries(series, 1, W);
    const model = await trainAutoencoder(spoilt, config);
    const t = model.metadata.training;
    assert.equal(t.windows, spoilt.length);
    assert.equal(t.windowsLeftOut, 2 * W);
    assert.equal(t.trainWindows + t.validationWindows, spoilt.length - 2 * W);
    // What is left trains about as well as the clean series (one spoilt value, clamped, would
    // make the loss about 1e12 / W values).
    const best = clean.metadata.training.bestLoss;
    assert.ok(t.bestLoss < 10 * best, `best loss ${t.bestLoss} against ${best} clean`);
    assert.equal(clean.metadata.training.windowsLeftOut, 0);
    clean.dispose();
    model.dispose();
  });

  test('rejects a series whose every training window holds such a value', async () => {
    for (const value of [Number.POSITIVE_INFINITY, 1e20]) {
      const spoilt = windows.map((w) => {
        const copy = w.slice();
        copy[0] = value;
        return copy;
      });
      await rejects(
        trainAutoencoder(spoilt, small),
        'TSAD_ERR_INPUT_INVALID',
        /every training window holds a value beyond float32/,
      );
    }
  });

  test('rejects a bad config naming every bad field', async () => {
    await rejects(
      trainAutoencoder(windows, {
        ...small,
        hiddenUnits: [],
        learningRate: -1,
        validationFraction: 1,
      }),
      'TSAD_ERR_CONFIG_INVALID',
      /hiddenUnits.*learningRate.*validationFraction/,
    );
  });
});
