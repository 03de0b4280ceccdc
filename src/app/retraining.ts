/**
 * The retraining scheduler. It watches every scored window (feeding the
 * training reservoir and the drift detector), decides when to train a new
 * model (cold start, on an interval, after N windows, on drift), trains it off
 * the hot path (a worker thread, through the `train` dependency), validates
 * the candidate against the current model, and promotes it only if it is not
 * worse: the model switch swaps one reference between scoring batches and the
 * thresholds are rescaled to the new model's score scale.
 *
 * Validation of a candidate against the current model, on windows neither
 * trained on:
 *   - normal: mean score on held-out normal windows must not exceed the
 *     current model's by more than `tolerance` (relative);
 *   - anomalous: the share of recently flagged windows that score above the
 *     model's own 99th percentile of held-out normal scores (its recall) must
 *     not fall by more than `tolerance` (absolute), so the new model does not
 *     forget what was anomalous.
 * Held-out windows that both models (the candidate alone, before a first
 * model) score from EXTREME_SCORE up (a value clamped by the normalisation:
 * a broken sensor's 1e20 judged during a threshold's warm-up) are left out of
 * both rules: one of them would set the mean of every model alike and pass
 * any candidate. A window only the candidate scores that high counts against it.
 * After a drift the old normal no longer is: the candidate trains on the most
 * recent windows, the held-out set is the newest part of them, and windows
 * flagged after the drift began are not used to judge it.
 */
import type { DriftDetector } from '../detector/drift-detector.ts';
import type { ReservoirSnapshot, TrainingReservoir } from '../detector/training-reservoir.ts';
import { EXTREME_SCORE, type SensorWindow } from '../detector/types.ts';
import { errorMessage } from '../errors.ts';
import type { ModelRegistry } from '../model/registry.ts';
import type { ModelSwitch, SwitchableModel } from './model-switch.ts';

/** When and how to retrain. */
export interface RetrainingPolicy {
  enabled: boolean;
  /** Retrain at least this often (0 = never on a timer). */
  intervalMs: number;
  /** Retrain after this many scored windows (0 = never on a count). */
  afterWindows: number;
  /** Retrain when the drift detector declares drift. */
  driftEnabled: boolean;
  /** Least time between two drift-triggered trainings. */
  driftMinIntervalMs: number;
  /**
   * After a drift, the most windows the candidate trains on: the newest ones
   * since the estimated onset of the shift (DriftStatus.sinceOnset).
   */
  driftTrainingWindows: number;
  /** Normal windows needed before the first (cold-start) model is trained. */
  warmupWindows: number;
  /** Fewest windows a retraining needs (else it is skipped). */
  minTrainingWindows: number;
  /** Slack of the validation rules (see the module comment). */
  tolerance: number;
}

/** Defaults of the policy. */
export const DEFAULT_RETRAINING_POLICY: Readonly<RetrainingPolicy> = Object.freeze({
  enabled: true,
  intervalMs: 3_600_000,
  afterWindows: 0,
  driftEnabled: true,
  driftMinIntervalMs: 600_000,
  driftTrainingWindows: 2048,
  warmupWindows: 512,
  minTrainingWindows: 128,
  tolerance: 0.1,
});

export type TrainingTrigger = 'cold-start' | 'interval' | 'windows' | 'drift' | 'manual';

/** The outcome of one training run, as logs and metrics report it. */
export interface TrainingOutcome {
  trigger: TrainingTrigger;
  outcome: 'promoted' | 'rejected' | 'failed' | 'skipped';
  version: string | null;
  previousVersion: string | null;
  durationMs: number;
  reason: string;
  validation?: CandidateComparison;
}

/** Scores of the candidate and the current model on the validation windows. */
export interface CandidateComparison {
  /** Held-out normal windows validated on. */
  holdoutWindows: number;
  /** Held-out windows left out: both models (or the candidate, with no current one) scored them from EXTREME_SCORE up. */
  holdoutWindowsLeftOut: number;
  flaggedWindows: number;
  candidateNormalMean: number;
  candidateNormalMedian: number;
  currentNormalMean: number | null;
  candidateRecall: number | null;
  currentRecall: number | null;
  /** candidate scores ≈ scale · current scores, for rescaling thresholds. */
  scale: number | null;
}

/** What the scheduler needs from the rest of the daemon. */
export interface RetrainingDeps {
  policy: RetrainingPolicy;
  reservoir: TrainingReservoir;
  drift: DriftDetector;
  model: ModelSwitch;
  /** Trains a model on the windows off the event loop (trainInWorker). */
  train(windows: SensorWindow[], signal: AbortSignal): Promise<SwitchableModel>;
  /** Called after a swap, with the score scale (null: thresholds start over). */
  recalibrate(scale: number | null): void;
  /**
   * Persists candidates and the promotion history (src/model/registry.ts);
   * `register` takes any candidate, whether it can be saved is the caller's
   * business. Optional (no registry).
   */
  registry?: Pick<ModelRegistry, 'activate' | 'recordRejection'> & {
    register(model: SwitchableModel): Promise<unknown>;
  };
  onOutcome?(outcome: TrainingOutcome): void;
  onStart?(trigger: TrainingTrigger): void;
  now?: () => number;
  setInterval?: (fn: () => void, ms: number) => { unref?: () => void };
  clearInterval?: (handle: unknown) => void;
}

/** The scheduler the pipeline reports scored windows to. */
export interface RetrainingScheduler {
  /** Reports one scored window and the detector's verdict; may start a training run. */
  observe(window: SensorWindow, score: number, flagged: boolean): void;
  /** Starts a training run now unless one is running; resolves with its outcome. */
  retrainNow(trigger?: TrainingTrigger): Promise<TrainingOutcome>;
  /** True while a training run is in progress. */
  isTraining(): boolean;
  /** Starts the interval timer; after stop(), allows training runs again. */
  start(): void;
  /**
   * Stops the timer, aborts a running training (a candidate still in training
   * or validation is discarded) and starts no new one until start(); resolves
   * when the running one has ended.
   */
  stop(): Promise<void>;
}

/** Creates the scheduler; call start() to arm its timer. */
export function createRetrainingScheduler(deps: RetrainingDeps): RetrainingScheduler {
  const policy = deps.policy;
  const now = deps.now ?? Date.now;
  let running: Promise<TrainingOutcome> | null = null;
  // Aborted by stop(), replaced by start(): while aborted no run starts.
  let abort = new AbortController();
  let timer: unknown = null;
  let windowsSinceTraining = 0;
  let lastDriftTraining = Number.NEGATIVE_INFINITY;

  function launch(trigger: TrainingTrigger): Promise<TrainingOutcome> {
    if (running) return running;
    if (abort.signal.aborted) {
      // Stopped: windows scored while the daemon drains must not start a new run.
      return Promise.resolve(notRun(trigger, 'skipped', 'retraining stopped'));
    }
    windowsSinceTraining = 0;
    if (trigger === 'drift') lastDriftTraining = now();
    deps.onStart?.(trigger);
    const started = now();
    const signal = abort.signal;
    running = runTraining(trigger, signal)
      .catch((error: unknown) => ({
        // A run cut short by stop() did not fail: the daemon is going down.
        ...notRun(
          trigger,
          signal.aborted ? 'skipped' : 'failed',
          signal.aborted ? 'retraining stopped' : errorMessage(error),
        ),
        durationMs: now() - started,
      }))
      .then((outcome) => {
        running = null;
        deps.onOutcome?.(outcome);
        return outcome;
      });
    return running;
  }

  /** The outcome of a run that trained no candidate (or lost it): nothing changed; durationMs 0 until set. */
  function notRun(
    trigger: TrainingTrigger,
    outcome: 'skipped' | 'failed',
    reason: string,
  ): TrainingOutcome {
    return {
      trigger,
      outcome,
      version: null,
      previousVersion: deps.model.current()?.version ?? null,
      durationMs: 0,
      reason,
    };
  }

  async function runTraining(
    trigger: TrainingTrigger,
    signal: AbortSignal,
  ): Promise<TrainingOutcome> {
    const started = now();
    const current = deps.model.current();
    const previousVersion = current?.version ?? null;
    const snapshot = deps.reservoir.snapshot();
    const driftWindows = Math.min(policy.driftTrainingWindows, deps.drift.status().sinceOnset);
    const data = trainingData(trigger, snapshot, driftWindows);
    const base = { trigger, previousVersion };
    if (data.training.length < Math.min(policy.minTrainingWindows, policy.warmupWindows)) {
      return {
        ...base,
        outcome: 'skipped',
        version: null,
        durationMs: now() - started,
        reason: `only ${data.training.length} windows to train on`,
      };
    }
    const candidate = await deps.train(data.training, signal);
    let swapped = false;
    try {
      const validation = await compareCandidate(candidate, current, data.holdout, data.flagged);
      if (trigger === 'drift') {
        // The current model scores the drifted windows high, so the scale is
        // taken against its scores on the old normal: the drift reference.
        const ratio = validation.candidateNormalMedian / deps.drift.referenceMedian();
        validation.scale = Number.isFinite(ratio) && ratio > 0 ? ratio : null;
      }
      const verdict = judge(validation, current !== null, policy.tolerance);
      const details = { trigger, ...validation };
      const judged = (outcome: 'promoted' | 'rejected', note = ''): TrainingOutcome => ({
        ...base,
        outcome,
        version: candidate.version,
        durationMs: now() - started,
        reason: `${verdict.reason}${note}`,
        validation,
      });
      if (!verdict.promote) {
        // Kept for inspection only: a failed save does not change the verdict,
        // but the outcome's log line says so (a full disk must not go unseen).
        const unsaved = await deps.registry?.register(candidate).then(
          () => '',
          (error: unknown) => `; not saved to the registry: ${errorMessage(error)}`,
        );
        await deps.registry?.recordRejection(candidate.version, verdict.reason, details);
        return judged('rejected', unsaved);
      }
      const referenceScores = await scoresOf(candidate, data.holdout);
      // A stop() during the validation: the daemon is going down, and a model
      // promoted now would score nothing it saw. A stop() after this check
      // waits for the promotion (it awaits `running`), so the swap still comes
      // before the pipeline drains.
      if (signal.aborted) throw signal.reason;
      if (deps.registry) {
        await deps.registry.register(candidate);
        await deps.registry.activate(candidate.version, details);
      }
      // Marked first: once swap() has put the candidate in, it is in use even
      // if disposing the replaced model throws.
      swapped = true;
      deps.model.swap(candidate);
      deps.recalibrate(validation.scale);
      deps.drift.setReference(referenceScores);
      if (trigger === 'drift') {
        // The old normal sample describes a world that is gone.
        deps.reservoir.resetNormal([...data.training, ...data.holdout]);
      }
      return judged('promoted');
    } finally {
      // Rejected, stopped, or a step failed: nothing uses the candidate.
      if (!swapped) candidate.dispose();
    }
  }

  return {
    observe(window, score, flagged) {
      deps.reservoir.offer(window, flagged);
      if (!policy.enabled) return;
      windowsSinceTraining += 1;
      if (deps.model.current() === null) {
        if (deps.reservoir.normalSeen() >= policy.warmupWindows) void launch('cold-start');
        return;
      }
      deps.drift.observe(score);
      if (
        policy.driftEnabled &&
        deps.drift.status().drifted &&
        now() - lastDriftTraining >= policy.driftMinIntervalMs
      ) {
        void launch('drift');
      } else if (policy.afterWindows > 0 && windowsSinceTraining >= policy.afterWindows) {
        void launch('windows');
      }
    },
    retrainNow(trigger = 'manual') {
      return launch(trigger);
    },
    isTraining: () => running !== null,
    start() {
      if (abort.signal.aborted) abort = new AbortController();
      if (!policy.enabled || policy.intervalMs <= 0 || timer !== null) return;
      const setTimer = deps.setInterval ?? setInterval;
      const handle = setTimer(() => {
        if (deps.model.current() !== null) void launch('interval');
      }, policy.intervalMs);
      handle.unref?.();
      timer = handle;
    },
    async stop() {
      if (timer !== null) (deps.clearInterval ?? clearInterval)(timer as NodeJS.Timeout);
      timer = null;
      abort.abort(new Error('retraining stopped'));
      await running?.catch(() => undefined);
    },
  };
}

interface TrainingData {
  training: SensorWindow[];
  holdout: SensorWindow[];
  flagged: SensorWindow[];
}

/** Picks the windows to train and validate on for a trigger (see the module comment). */
function trainingData(
  trigger: TrainingTrigger,
  snapshot: ReservoirSnapshot,
  driftWindows: number,
): TrainingData {
  if (trigger !== 'drift') {
    return { training: snapshot.training, holdout: snapshot.holdout, flagged: snapshot.flagged };
  }
  const recent = snapshot.recent.slice(-driftWindows);
  const since = recent[0]?.endTs ?? Number.NEGATIVE_INFINITY;
  // Every 5th recent window is held out: spread over the whole period, not just its end.
  const training = recent.filter((_, i) => i % 5 !== 4);
  const holdout = recent.filter((_, i) => i % 5 === 4);
  return { training, holdout, flagged: snapshot.flagged.filter((w) => w.endTs < since) };
}

async function scoresOf(model: SwitchableModel, windows: SensorWindow[]): Promise<number[]> {
  if (windows.length === 0) return [];
  return (await model.scoreBatch(windows)).map((s) => s.score);
}

/** Scores the validation windows with both models (see the module comment). */
export async function compareCandidate(
  candidate: SwitchableModel,
  current: SwitchableModel | null,
  holdout: SensorWindow[],
  flagged: SensorWindow[],
): Promise<CandidateComparison> {
  const candHoldout = await scoresOf(candidate, holdout);
  const currHoldout = current ? await scoresOf(current, holdout) : null;
  // Left out only when every model scores it extreme: that is the data, not
  // the model. A candidate that alone blows up on a window is judged on it.
  const ordinary = candHoldout.map(
    (score, i) =>
      score < EXTREME_SCORE || (currHoldout !== null && currHoldout[i]! < EXTREME_SCORE),
  );
  const candNormal = candHoldout.filter((_, i) => ordinary[i]);
  const currNormal = currHoldout?.filter((_, i) => ordinary[i]) ?? null;
  const candFlagged = await scoresOf(candidate, flagged);
  const currFlagged = current ? await scoresOf(current, flagged) : null;
  const candidateNormalMean = mean(candNormal);
  const currentNormalMean = currNormal ? mean(currNormal) : null;
  const candMedian = quantile(candNormal, 0.5);
  const currMedian = currNormal ? quantile(currNormal, 0.5) : Number.NaN;
  const scale = candMedian > 0 && currMedian > 0 ? candMedian / currMedian : null;
  return {
    holdoutWindows: candNormal.length,
    holdoutWindowsLeftOut: holdout.length - candNormal.length,
    flaggedWindows: flagged.length,
    candidateNormalMean,
    candidateNormalMedian: candMedian,
    currentNormalMean,
    candidateRecall: flagged.length > 0 ? recall(candFlagged, candNormal) : null,
    currentRecall:
      currFlagged && currNormal && flagged.length > 0 ? recall(currFlagged, currNormal) : null,
    scale,
  };
}

/** Applies the promotion rules to a comparison. */
export function judge(
  v: CandidateComparison,
  hasCurrent: boolean,
  tolerance: number,
): { promote: boolean; reason: string } {
  if (!Number.isFinite(v.candidateNormalMean) && v.holdoutWindows > 0) {
    return { promote: false, reason: 'candidate scores are not finite' };
  }
  if (!hasCurrent) return { promote: true, reason: 'first model' };
  if (v.holdoutWindows === 0)
    return { promote: false, reason: 'no held-out windows to validate on' };
  const limit = (v.currentNormalMean ?? Number.POSITIVE_INFINITY) * (1 + tolerance);
  if (v.candidateNormalMean > limit) {
    return {
      promote: false,
      reason: `worse on held-out normal windows: mean score ${fmt(v.candidateNormalMean)} > ${fmt(limit)}`,
    };
  }
  if (v.candidateRecall !== null && v.currentRecall !== null) {
    if (v.candidateRecall < v.currentRecall - tolerance) {
      return {
        promote: false,
        reason: `forgets flagged windows: recall ${fmt(v.candidateRecall)} < ${fmt(v.currentRecall)} - ${tolerance}`,
      };
    }
  }
  return { promote: true, reason: 'not worse than the current model' };
}

function recall(flaggedScores: number[], normalScores: number[]): number {
  if (flaggedScores.length === 0) return Number.NaN;
  const cut = quantile(normalScores, 0.99);
  return flaggedScores.filter((s) => s > cut).length / flaggedScores.length;
}

function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toPrecision(4) : String(value);
}
