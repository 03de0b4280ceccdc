import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { EXTREME_SCORE, type SensorWindow } from '../../../src/detector/types.ts';
import { isTsadError } from '../../../src/errors.ts';
import type { Autoencoder } from '../../../src/model/autoencoder.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { PERIODIC_MODEL, percentile99, periodicSeries, trainPeriodicModel } from './fixtures.ts';

const W = PERIODIC_MODEL.windowSize;
let model: Autoencoder;
let cleanScores: number[];

/** A window of the clean signal starting at `offset`, with fresh noise. */
function cleanWindow(offset: number, seed: number): Float32Array {
  return periodicSeries(W, { seed, offset });
}

before(async () => {
  await initBackend();
  model = await trainPeriodicModel();
  const clean = windowsFromSeries(periodicSeries(400, { seed: 2, offset: 5 }), 1, W);
  cleanScores = (await model.scoreData(clean)).map((s) => s.score);
});

describe('anomaly scores of a model trained on a noisy periodic signal', () => {
  const anomalies: Record<string, (base: Float32Array, offset: number) => Float32Array> = {
    spike: (base) => {
      const w = base.slice();
      w[8]! += 3;
      return w;
    },
    'level shift': (base) => {
      const w = base.slice();
      for (let i = 8; i < W; i++) w[i]! += 1.5;
      return w;
    },
    'change of frequency': (_base, offset) =>
      Float32Array.from({ length: W }, (_, i) => 10 + Math.sin((2 * Math.PI * (i + offset)) / 6)),
  };
  for (const [name, spoil] of Object.entries(anomalies)) {
    test(`a window with a ${name} scores several times above the 99th percentile of clean windows`, async () => {
      const p99 = percentile99(cleanScores);
      for (const offset of [0, 3, 7, 11]) {
        const [scored] = await model.scoreData([spoil(cleanWindow(offset, 100 + offset), offset)]);
        assert.ok(
          scored!.score > 3 * p99,
          `${name} at offset ${offset}: score ${scored!.score} vs clean p99 ${p99}`,
        );
      }
    });
  }

  test('clean windows not seen in training score low, like the validation loss', () => {
    const median = [...cleanScores].sort((a, b) => a - b)[Math.floor(cleanScores.length / 2)]!;
    assert.ok(median < 3 * model.metadata.training.bestLoss, `median ${median}`);
  });
});

describe('scoring', () => {
  test('per-channel and per-step errors average to the score', async () => {
    const [s] = await model.scoreData([cleanWindow(2, 5)]);
    assert.equal(s!.perChannel.length, 1);
    assert.equal(s!.perStep.length, W);
    const meanStep = s!.perStep.reduce((a, b) => a + b, 0) / W;
    assert.ok(Math.abs(meanStep - s!.score) < 1e-6 * Math.max(1, s!.score));
    assert.ok(Math.abs(s!.perChannel[0]! - s!.score) < 1e-6 * Math.max(1, s!.score));
    assert.equal(s!.reconstruction, undefined);
  });

  test('the per-step error points at the step of a spike', async () => {
    const w = cleanWindow(0, 9);
    w[5]! += 4;
    const [s] = await model.scoreData([w]);
    const worst = s!.perStep.indexOf(Math.max(...s!.perStep));
    assert.equal(worst, 5);
  });

  test('the reconstruction is in original units and close to a clean window', async () => {
    const w = cleanWindow(4, 11);
    const [s] = await model.scoreData([w], { reconstruction: true });
    assert.equal(s!.reconstruction!.length, W);
    const errors = w.map((v, i) => Math.abs(s!.reconstruction![i]! - v));
    assert.ok(Math.max(...errors) < 0.75, `errors ${errors.join(', ')}`);
    assert.ok(errors.reduce((a, b) => a + b, 0) / W < 0.25, `errors ${errors.join(', ')}`);
  });

  test('a batch scores the same as its windows one by one', async () => {
    const windows = windowsFromSeries(periodicSeries(60, { seed: 4 }), 1, W);
    const together = await model.scoreData(windows);
    for (const [i, w] of windows.entries()) {
      const [alone] = await model.scoreData([w]);
      assert.ok(Math.abs(alone!.score - together[i]!.score) < 1e-6, `window ${i}`);
    }
  });

  test('scoreBatch takes SensorWindows and rejects a wrong size or channel list', async () => {
    const make = (channels: string[], size: number): SensorWindow => ({
      sensor: 's1',
      channels,
      size,
      data: periodicSeries(size, { seed: 3 }),
      startTs: 0,
      endTs: size - 1,
      timestamps: Float64Array.from({ length: size }, (_, i) => i),
    });
    const [ok] = await model.scoreBatch([make(['value'], W)]);
    assert.ok(Number.isFinite(ok!.score));
    await assert.rejects(model.scoreBatch([make(['value'], W + 1)]), (e) =>
      isTsadError(e, 'TSAD_ERR_INPUT_INVALID'),
    );
    await assert.rejects(model.scoreBatch([make(['temperature'], W)]), (e) =>
      isTsadError(e, 'TSAD_ERR_INPUT_INVALID'),
    );
  });

  test('an empty batch scores to an empty list', async () => {
    assert.deepEqual(await model.scoreData([]), []);
  });

  test('scorePacked gives the values of scoreData as flat arrays', async () => {
    const windows = windowsFromSeries(periodicSeries(40, { seed: 6 }), 1, W);
    const data = new Float32Array(windows.length * W);
    for (const [i, w] of windows.entries()) data.set(w, i * W);
    const objects = await model.scoreData(windows, { reconstruction: true });
    const packed = await model.scorePacked(data, { reconstruction: true });
    assert.equal(packed.score.length, windows.length);
    objects.forEach((o, i) => {
      assert.equal(packed.score[i], o.score);
      assert.deepEqual(packed.perChannel.subarray(i, i + 1), o.perChannel);
      assert.deepEqual(packed.perStep.subarray(i * W, (i + 1) * W), o.perStep);
      assert.deepEqual(packed.reconstruction!.subarray(i * W, (i + 1) * W), o.reconstruction);
    });
    await assert.rejects(model.scorePacked(new Float32Array(W + 1)), (e) =>
      isTsadError(e, 'TSAD_ERR_INPUT_INVALID'),
    );
  });

  test('a reading far beyond float32 squared, or past its range, scores finite and high', async () => {
    // 1e20 squared overflows float32; 1e39 is Infinity once stored as float32.
    const p99 = percentile99(cleanScores);
    for (const value of [1e20, -1e20, 1e39]) {
      const w = cleanWindow(3, 21);
      w[7] = value;
      const [scored] = await model.scoreData([w]);
      const packed = await model.scorePacked(w);
      for (const score of [scored!.score, packed.score[0]!]) {
        assert.ok(Number.isFinite(score) && score > 1e6 * p99, `${value}: score ${score}`);
        // What the detector counts on to keep it out of a threshold's warm-up.
        assert.ok(score >= EXTREME_SCORE, `${value}: score ${score}`);
      }
    }
  });

  test('scores with and without the reconstruction agree', async () => {
    // Without it the fused path takes the errors in its time-major layout.
    const windows = windowsFromSeries(periodicSeries(50, { seed: 12 }), 1, W);
    const plain = await model.scoreData(windows);
    const withReconstruction = await model.scoreData(windows, { reconstruction: true });
    plain.forEach((p, i) => {
      const r = withReconstruction[i]!;
      assert.ok(Math.abs(p.score - r.score) < 1e-6 * Math.max(1, r.score), `window ${i}`);
      p.perStep.forEach((e, s) => {
        assert.ok(Math.abs(e - r.perStep[s]!) < 1e-6 * Math.max(1, e), `window ${i} step ${s}`);
      });
    });
  });
});
