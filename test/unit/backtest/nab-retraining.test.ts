import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DEFAULT_NAB_CONFIG, mergeConfig } from '../../../src/cli/backtest/backtest-config.ts';
import {
  type NabBacktestConfig,
  nabProbationaryRows,
  scoreNabSeries,
} from '../../../src/cli/backtest/nab.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { seededRandom } from '../detector/noise.ts';

const config: NabBacktestConfig = mergeConfig(DEFAULT_NAB_CONFIG, {
  model: { windowSize: 8, hiddenUnits: [4], codeSize: 2, maxEpochs: 2, patience: 1, batchSize: 32 },
  retraining: { growth: 2, maxWindows: 64 },
});

const ROWS = 400;
const timestamps = Array.from({ length: ROWS }, (_, i) => i * 60_000);

function series(seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from(
    { length: ROWS },
    (_, t) => 10 + Math.sin((2 * Math.PI * t) / 20) + 0.1 * random(),
  );
}

describe('NAB retraining within a file', () => {
  before(async () => {
    await initBackend();
  });

  it('trains a new model each time the rows seen double, each on at most maxWindows windows', async () => {
    const fitRows = nabProbationaryRows(ROWS);
    const once = await scoreNabSeries(series(1), timestamps, fitRows, {
      ...config,
      retraining: null,
    });
    const retrained = await scoreNabSeries(series(1), timestamps, fitRows, config);
    // fitRows 60: models at 0 (60 rows → 53 windows), 120, 240 (64 windows each), and none at 480 > 400.
    assert.equal(once.trainingWindows, fitRows - 8 + 1);
    assert.equal(retrained.trainingWindows, fitRows - 8 + 1 + 64 + 64);
    assert.equal(retrained.raw.length, ROWS);
    for (let i = 0; i < ROWS; i++) {
      assert.equal(
        Number.isNaN(retrained.raw[i]!),
        i < 7,
        `row ${i} is scored from the first full window on`,
      );
    }
    // Rows before the first retraining are scored by the same first model.
    assert.deepEqual(retrained.raw.subarray(0, 2 * fitRows), once.raw.subarray(0, 2 * fitRows));
  });

  it('does not look ahead: changing rows from k on leaves the scores before k unchanged', async () => {
    const fitRows = nabProbationaryRows(ROWS);
    const base = series(2);
    const k = 300;
    const changed = base.map((v, i) => (i >= k ? v + 50 * Math.sin(i) : v));
    const a = await scoreNabSeries(base, timestamps, fitRows, config);
    const b = await scoreNabSeries(changed, timestamps, fitRows, config);
    for (let i = 0; i < k; i++) assert.ok(Object.is(a.raw[i], b.raw[i]), `raw score of row ${i}`);
    assert.ok(
      a.raw.subarray(k).some((x, i) => x !== b.raw[k + i]),
      'the change shows from k on',
    );
  });
});
