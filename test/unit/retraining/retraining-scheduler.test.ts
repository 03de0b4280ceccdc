import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModelSwitch, type SwitchableModel } from '../../../src/app/model-switch.ts';
import {
  compareCandidate,
  createRetrainingScheduler,
  DEFAULT_RETRAINING_POLICY,
  judge,
  type RetrainingPolicy,
  type TrainingOutcome,
} from '../../../src/app/retraining.ts';
import { createDriftDetector } from '../../../src/detector/drift-detector.ts';
import { createTrainingReservoir } from '../../../src/detector/training-reservoir.ts';
import type { SensorWindow, WindowScore } from '../../../src/detector/types.ts';

/**
 * A stand-in model that "learns" the mean level of its training windows and
 * scores a window by its mean squared distance from that level: enough to
 * exercise the scheduler's decisions without TensorFlow.
 */
class LevelModel implements SwitchableModel {
  readonly windowSize = 4;
  readonly channels = ['value'];
  disposed = false;
  constructor(
    readonly version: string,
    readonly level: number,
  ) {}
  async scoreBatch(windows: readonly SensorWindow[]): Promise<WindowScore[]> {
    assert.equal(this.disposed, false, `model ${this.version} used after dispose`);
    return windows.map((w) => {
      const score = w.data.reduce((sum, x) => sum + (x - this.level) ** 2, 0) / w.data.length;
      return { score, perChannel: new Float32Array([score]), perStep: new Float32Array(4) };
    });
  }
  dispose(): void {
    this.disposed = true;
  }
}

let nextVersion = 0;
function trainLevel(windows: SensorWindow[]): Promise<LevelModel> {
  const values = windows.flatMap((w) => [...w.data]);
  const level = values.reduce((a, b) => a + b, 0) / values.length;
  nextVersion += 1;
  return Promise.resolve(new LevelModel(`v${nextVersion}`, level));
}

let seed = 1;
function noise(): number {
  seed = (seed * 16807) % 2147483647;
  return (seed / 2147483647 - 0.5) * 0.2;
}

let ts = 0;
function windowOf(level: number): SensorWindow {
  ts += 1000;
  return {
    sensor: 's1',
    channels: ['value'],
    size: 4,
    data: Float32Array.from({ length: 4 }, () => level + noise()),
    startTs: ts - 3000,
    endTs: ts,
    timestamps: new Float64Array([ts - 3000, ts - 2000, ts - 1000, ts]),
  };
}

function setup(policy: Partial<RetrainingPolicy> = {}) {
  const model = createModelSwitch();
  const outcomes: TrainingOutcome[] = [];
  const scales: (number | null)[] = [];
  const scheduler = createRetrainingScheduler({
    policy: {
      ...DEFAULT_RETRAINING_POLICY,
      intervalMs: 0,
      warmupWindows: 100,
      minTrainingWindows: 50,
      driftMinIntervalMs: 0,
      driftTrainingWindows: 200,
      ...policy,
    },
    reservoir: createTrainingReservoir({
      capacity: 400,
      holdoutCapacity: 100,
      recentCapacity: 400,
    }),
    drift: createDriftDetector({ recentSize: 200, checkEvery: 50, patience: 2 }),
    model,
    train: (windows) => trainLevel(windows),
    recalibrate: (scale) => scales.push(scale),
    onOutcome: (o) => outcomes.push(o),
  });
  /** Scores a window like the pipeline would and reports it; flags scores above `flagAbove`. */
  async function feed(level: number, flagAbove = 0.05): Promise<number> {
    const w = windowOf(level);
    const current = model.current();
    const score = current ? (await model.scoreBatch([w]))[0]!.score : 0;
    scheduler.observe(w, score, current !== null && score > flagAbove);
    await new Promise((resolve) => setImmediate(resolve));
    return score;
  }
  return { model, scheduler, outcomes, scales, feed };
}

test('cold start: the first model is trained once enough normal windows arrived, then promoted', async () => {
  const { model, outcomes, feed } = setup();
  for (let i = 0; i < 99; i += 1) await feed(1);
  assert.equal(model.current(), null);
  await feed(1);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(outcomes.length, 1);
  assert.equal(outcomes[0]!.trigger, 'cold-start');
  assert.equal(outcomes[0]!.outcome, 'promoted');
  assert.ok(Math.abs((model.current() as LevelModel).level - 1) < 0.05);
});

test('a lasting level shift is retrained on after drift, and the shifted level stops scoring high', async () => {
  const { model, outcomes, scales, feed } = setup();
  for (let i = 0; i < 300; i += 1) await feed(1);
  const first = model.current() as LevelModel;
  assert.ok(first);
  const scoresAfterShift: number[] = [];
  for (let i = 0; i < 800; i += 1) scoresAfterShift.push(await feed(3));
  await new Promise((resolve) => setTimeout(resolve, 10));
  const drift = outcomes.filter((o) => o.trigger === 'drift');
  assert.ok(drift.length >= 1, JSON.stringify(outcomes));
  assert.equal(drift[0]!.outcome, 'promoted', drift[0]!.reason);
  assert.equal(first.disposed, true, 'the replaced model is disposed');
  // Trained on the windows since the estimated onset: mostly the new level.
  assert.ok(
    Math.abs((model.current() as LevelModel).level - 3) < 0.5,
    JSON.stringify(
      outcomes.map((o) => [o.trigger, o.outcome, o.reason, (model.current() as LevelModel).level]),
    ),
  );
  assert.ok(scoresAfterShift[0]! > 3, 'the shift scored high on the old model');
  assert.ok(scoresAfterShift.at(-1)! < scoresAfterShift[0]! / 16, 'and low after the promotion');
  assert.ok(scales.length >= 2);
  // Against the old model's scores on the old normal, not on the drifted windows.
  const driftScale = scales.at(-1)!;
  // (The same-holdout ratio would be ~0.01: the old model scores the drifted windows ~4.)
  assert.ok(driftScale !== null && driftScale > 0.2, `scale ${driftScale}`);
  // A real fault after the promotion still scores high.
  assert.ok((await feed(6)) > 3);
});

test('a candidate worse on held-out normal windows is rejected and the current model kept', () => {
  const verdict = judge(
    {
      holdoutWindows: 100,
      holdoutWindowsLeftOut: 0,
      flaggedWindows: 0,
      candidateNormalMean: 0.5,
      candidateNormalMedian: 0.5,
      currentNormalMean: 0.1,
      candidateRecall: null,
      currentRecall: null,
      scale: 5,
    },
    true,
    0.1,
  );
  assert.equal(verdict.promote, false);
  assert.match(verdict.reason, /worse on held-out normal/);
});

test('a candidate that forgets flagged windows is rejected', () => {
  const verdict = judge(
    {
      holdoutWindows: 100,
      holdoutWindowsLeftOut: 0,
      flaggedWindows: 20,
      candidateNormalMean: 0.1,
      candidateNormalMedian: 0.1,
      currentNormalMean: 0.1,
      candidateRecall: 0.3,
      currentRecall: 0.9,
      scale: 1,
    },
    true,
    0.1,
  );
  assert.equal(verdict.promote, false);
  assert.match(verdict.reason, /forgets flagged/);
});

test('held-out windows scored from EXTREME_SCORE up are left out, so they cannot pass a worse candidate', async () => {
  const current = new LevelModel('current', 1);
  const worse = new LevelModel('worse', 2);
  // A broken sensor's 1e6 in two held-out windows: scores of about 1e12 under either model.
  const holdout = [...Array.from({ length: 100 }, () => windowOf(1)), windowOf(1e6), windowOf(1e6)];
  const validation = await compareCandidate(worse, current, holdout, []);
  assert.equal(validation.holdoutWindows, 100);
  assert.equal(validation.holdoutWindowsLeftOut, 2);
  assert.ok(
    validation.candidateNormalMean < 1.1,
    `candidate mean ${validation.candidateNormalMean}`,
  );
  const verdict = judge(validation, true, 0.1);
  assert.equal(verdict.promote, false);
  assert.match(verdict.reason, /worse on held-out normal/);
});

test('a candidate that alone scores some ordinary held-out windows extreme keeps them in its judgement', async () => {
  const current = new LevelModel('current', 1);
  // A candidate that blew up on every fourth window: 1e10 there, as good as the current model elsewhere.
  const exploded = new LevelModel('exploded', 1);
  const score = exploded.scoreBatch.bind(exploded);
  exploded.scoreBatch = async (windows) =>
    (await score(windows)).map((s, i) => (i % 4 === 0 ? { ...s, score: 1e10 } : s));
  const holdout = Array.from({ length: 100 }, () => windowOf(1));
  const validation = await compareCandidate(exploded, current, holdout, []);
  assert.equal(validation.holdoutWindowsLeftOut, 0);
  assert.equal(validation.holdoutWindows, 100);
  const verdict = judge(validation, true, 0.1);
  assert.equal(verdict.promote, false);
  assert.match(verdict.reason, /worse on held-out normal/);
});

test('retraining after N windows promotes an equally good model and rescales by about 1', async () => {
  const { outcomes, scales, feed } = setup({ afterWindows: 150 });
  for (let i = 0; i < 500; i += 1) await feed(1);
  await new Promise((resolve) => setTimeout(resolve, 10));
  const byCount = outcomes.filter((o) => o.trigger === 'windows');
  assert.ok(byCount.length >= 2, JSON.stringify(outcomes.map((o) => o.trigger)));
  assert.ok(byCount.every((o) => o.outcome === 'promoted'));
  const last = scales.at(-1)!;
  assert.ok(last !== null && last > 0.5 && last < 2, `scale ${last}`);
});

/** No interval timer, and a single window is enough to train on. */
const TRAIN_ON_DEMAND: RetrainingPolicy = {
  ...DEFAULT_RETRAINING_POLICY,
  intervalMs: 0,
  minTrainingWindows: 1,
  warmupWindows: 1,
};

test('a failing training is reported as failed, with its duration, and scoring goes on with the old model', async () => {
  const model = createModelSwitch(new LevelModel('v0', 1));
  const outcomes: TrainingOutcome[] = [];
  let clock = 1_000_000;
  const scheduler = createRetrainingScheduler({
    policy: TRAIN_ON_DEMAND,
    reservoir: createTrainingReservoir(),
    drift: createDriftDetector(),
    model,
    // The worker crashes after 15 s of training.
    train: async () => {
      clock += 15_000;
      throw new Error('worker crashed');
    },
    recalibrate: () => {},
    onOutcome: (o) => outcomes.push(o),
    now: () => clock,
  });
  for (let i = 0; i < 10; i += 1) scheduler.observe(windowOf(1), 0, false);
  const outcome = await scheduler.retrainNow();
  assert.equal(outcome.outcome, 'failed');
  assert.match(outcome.reason, /worker crashed/);
  assert.equal(outcome.durationMs, 15_000);
  assert.equal(model.current()?.version, 'v0');
  await scheduler.stop();
});

/**
 * A scheduler whose training returns `candidate` at once, with a registry
 * that records calls; `current` is the model in use (v0 at level 1).
 */
function stoppableSetup(candidate: LevelModel, current = new LevelModel('v0', 1)) {
  const model = createModelSwitch(current);
  const reservoir = createTrainingReservoir();
  const registered: string[] = [];
  const activated: string[] = [];
  let trainings = 0;
  const scheduler = createRetrainingScheduler({
    policy: TRAIN_ON_DEMAND,
    reservoir,
    drift: createDriftDetector(),
    model,
    train: () => {
      trainings += 1;
      return Promise.resolve(candidate);
    },
    recalibrate: () => {},
    registry: {
      register: async (m) => registered.push(m.version),
      activate: async (version) => {
        activated.push(version);
      },
      recordRejection: async () => {},
    },
  });
  for (let i = 0; i < 50; i += 1) scheduler.observe(windowOf(1), 0, false);
  assert.ok(reservoir.snapshot().holdout.length > 0, 'the validation scores held-out windows');
  return { model, scheduler, registered, activated, trainings: () => trainings };
}

test('stop() during validation: the trained candidate is discarded, not registered or swapped in', {
  timeout: 10_000,
}, async () => {
  const candidate = new LevelModel('v1', 1);
  // The candidate's first scoring call (the validation) waits until released.
  let validationStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    validationStarted = resolve;
  });
  let finishValidation: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    finishValidation = resolve;
  });
  const score = candidate.scoreBatch.bind(candidate);
  let calls = 0;
  candidate.scoreBatch = async (windows) => {
    calls += 1;
    if (calls === 1) {
      validationStarted();
      await released;
    }
    return score(windows);
  };
  const { model, scheduler, registered, activated } = stoppableSetup(candidate);
  const outcome = scheduler.retrainNow();
  await started;
  const stopped = scheduler.stop();
  finishValidation();
  await stopped;
  // Cut short by the daemon's stop, not a failure (tsad_training_runs_total{outcome="failure"} feeds an alert rule).
  assert.equal((await outcome).outcome, 'skipped');
  assert.match((await outcome).reason, /retraining stopped/);
  assert.equal(model.current()?.version, 'v0');
  assert.equal(candidate.disposed, true);
  assert.deepEqual(registered, []);
  assert.deepEqual(activated, []);
});

test('a rejected candidate that cannot be saved is still rejected, and its outcome says it was not saved', async () => {
  const model = createModelSwitch(new LevelModel('v0', 1));
  const reservoir = createTrainingReservoir();
  const rejections: string[] = [];
  const scheduler = createRetrainingScheduler({
    policy: TRAIN_ON_DEMAND,
    reservoir,
    drift: createDriftDetector(),
    model,
    train: () => Promise.resolve(new LevelModel('worse', 3)),
    recalibrate: () => {},
    registry: {
      register: () => Promise.reject(new Error('ENOSPC: no space left on device')),
      activate: async () => {},
      recordRejection: async (version) => {
        rejections.push(version);
      },
    },
  });
  for (let i = 0; i < 50; i += 1) scheduler.observe(windowOf(1), 0, false);
  const outcome = await scheduler.retrainNow();
  assert.equal(outcome.outcome, 'rejected');
  assert.match(
    outcome.reason,
    /^worse on held-out normal.*; not saved to the registry: ENOSPC: no space left on device$/,
  );
  assert.deepEqual(rejections, ['worse']);
  assert.equal(model.current()?.version, 'v0');
});

test('after stop() no training starts until start(); the same candidate is promoted without a stop', async () => {
  const candidate = new LevelModel('v1', 1);
  const { model, scheduler, activated, trainings } = stoppableSetup(candidate);
  await scheduler.stop();
  const skipped = await scheduler.retrainNow();
  assert.equal(skipped.outcome, 'skipped');
  assert.match(skipped.reason, /retraining stopped/);
  assert.equal(trainings(), 0);
  scheduler.start();
  const promoted = await scheduler.retrainNow();
  assert.equal(promoted.outcome, 'promoted', promoted.reason);
  assert.equal(model.current()?.version, 'v1');
  assert.deepEqual(activated, ['v1']);
  assert.equal(candidate.disposed, false);
  await scheduler.stop();
});

test('a candidate put in by swap() stays undisposed even when disposing the replaced model throws', async () => {
  const old = new LevelModel('v0', 1);
  old.dispose = () => {
    throw new Error('dispose failed');
  };
  const candidate = new LevelModel('v1', 1);
  const { model, scheduler } = stoppableSetup(candidate, old);
  const outcome = await scheduler.retrainNow();
  assert.equal(outcome.outcome, 'failed');
  assert.match(outcome.reason, /dispose failed/);
  assert.equal(model.current()?.version, 'v1');
  assert.equal(candidate.disposed, false, 'the model in use was disposed');
  await scheduler.stop();
});

test('the model switch disposes a replaced model only after its running batch finished', async () => {
  let release: () => void = () => {};
  const slow = new LevelModel('slow', 0);
  const original = slow.scoreBatch.bind(slow);
  slow.scoreBatch = async (windows) => {
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    return original(windows);
  };
  const model = createModelSwitch(slow);
  const pending = model.scoreWithVersion([windowOf(0)]);
  assert.equal(model.swap(new LevelModel('fast', 0)), 'slow');
  assert.equal(slow.disposed, false);
  release();
  const result = await pending;
  assert.equal(result.version, 'slow');
  assert.equal(slow.disposed, true);
  assert.equal((await model.scoreWithVersion([windowOf(0)])).version, 'fast');
});
