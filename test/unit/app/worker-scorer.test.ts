import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createScoringWorker, type ScoringWorker } from '../../../src/app/worker-scorer.ts';
import type { SensorWindow, WindowScore, WindowScorer } from '../../../src/detector/types.ts';
import type { Autoencoder } from '../../../src/model/autoencoder.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { periodicSeries } from '../model/fixtures.ts';

const W = 16;
let model: Autoencoder;
let scoring: ScoringWorker;

function windowsOf(data: readonly Float32Array[]): SensorWindow[] {
  return data.map((values, i) => ({
    sensor: `s${i % 3}`,
    channels: model.channels,
    size: W,
    data: values,
    startTs: i,
    endTs: i + W - 1,
    timestamps: new Float64Array(W),
  }));
}

before(async () => {
  await initBackend();
  const training = windowsFromSeries(periodicSeries(120 + W, { seed: 1 }), 1, W);
  model = await trainAutoencoder(training, {
    windowSize: W,
    hiddenUnits: [8],
    codeSize: 4,
    maxEpochs: 2,
    seed: 3,
  });
  scoring = createScoringWorker();
});

after(async () => {
  await scoring.close();
  model.dispose();
});

describe('scoring worker', () => {
  it('scores in the worker exactly as the model does on this thread', async () => {
    const windows = windowsOf(windowsFromSeries(periodicSeries(90, { seed: 2 }), 1, W));
    const adopted = scoring.adopt({ ...asSwitchable(model) });
    await scoring.warm(adopted);
    const here = await model.scoreBatch(windows, { reconstruction: true });
    const there = await adopted.scoreBatch(windows, { reconstruction: true });
    assert.equal(there.length, here.length);
    for (let i = 0; i < here.length; i++) {
      assert.ok(Math.abs(there[i]!.score - here[i]!.score) <= 1e-6 * Math.max(1, here[i]!.score));
      assert.deepEqual([...there[i]!.perStep], [...here[i]!.perStep]);
      assert.deepEqual([...there[i]!.perChannel], [...here[i]!.perChannel]);
      assert.deepEqual([...there[i]!.reconstruction!], [...here[i]!.reconstruction!]);
    }
    assert.equal(adopted.version, model.version);
  });

  it('keeps overlapping calls apart and answers each with its own windows', async () => {
    const adopted = scoring.adopt(asSwitchable(model));
    const batches = [0, 1, 2, 3].map((seed) =>
      windowsOf(windowsFromSeries(periodicSeries(20 + seed * 7, { seed: 10 + seed }), 1, W)),
    );
    const together = await Promise.all(batches.map((b) => adopted.scoreBatch(b)));
    for (let k = 0; k < batches.length; k++) {
      const alone = await model.scoreBatch(batches[k]!);
      assertSameScores(together[k]!, alone);
    }
  });

  it('merges requests that queue up while it scores into one call, each answered with its own scores', async () => {
    const adopted = scoring.adopt(asSwitchable(model));
    await scoring.warm(adopted);
    const long = windowsOf(windowsFromSeries(periodicSeries(3_000, { seed: 5 }), 1, W));
    const small = [0, 1, 2, 3, 4, 5].map((seed) =>
      windowsOf(windowsFromSeries(periodicSeries(20 + seed * 5, { seed: 20 + seed }), 1, W)),
    );
    const before = scoring.stats();
    // The small requests reach the worker while it scores the long one.
    const answers = await Promise.all([long, ...small].map((b) => adopted.scoreBatch(b)));
    const after = scoring.stats();
    assert.equal(after.requests - before.requests, 7);
    assert.ok(after.calls - before.calls < 7, `${after.calls - before.calls} calls for 7 requests`);
    for (let k = 0; k < small.length; k++) {
      assert.equal(answers[k + 1]!.length, small[k]!.length);
      assertSameScores(answers[k + 1]!, await model.scoreBatch(small[k]!));
    }
  });

  it('rejects a window of the wrong size with TSAD_ERR_INPUT_INVALID', async () => {
    const adopted = scoring.adopt(asSwitchable(model));
    const [bad] = windowsOf([new Float32Array(W + 1)]);
    await assert.rejects(adopted.scoreBatch([{ ...bad!, size: W + 1 }]), {
      code: 'TSAD_ERR_INPUT_INVALID',
    });
  });

  it('leaves a model that cannot be saved on this thread, unchanged', () => {
    const plain = {
      version: 'plain',
      windowSize: W,
      channels: ['value'],
      scoreBatch: async () => [],
      dispose() {},
    };
    assert.equal(scoring.adopt(plain), plain);
  });
});

/**
 * Scores of the same windows agree to float32 rounding: a merged call runs
 * the kernels on a larger batch, which may sum in another order.
 */
function assertSameScores(got: readonly WindowScore[], want: readonly WindowScore[]): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]!.score - want[i]!.score) <= 1e-6 * Math.max(1, want[i]!.score));
    for (let s = 0; s < want[i]!.perStep.length; s++) {
      assert.ok(Math.abs(got[i]!.perStep[s]! - want[i]!.perStep[s]!) <= 1e-5);
    }
  }
}

/** The model with a dispose() that leaves it alive (the tests share one). */
function asSwitchable(m: Autoencoder): WindowScorer & {
  dispose(): void;
  save(dir: string): Promise<void>;
} {
  return {
    version: m.version,
    windowSize: m.windowSize,
    channels: m.channels,
    scoreBatch: (w, o) => m.scoreBatch(w, o),
    save: (dir) => m.save(dir),
    dispose() {},
  };
}
