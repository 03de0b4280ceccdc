/**
 * The one reference to the model the pipeline scores with. Retraining swaps
 * it between scoring batches (a batch already running finishes on the model
 * it started with), then disposes the old model once no batch uses it.
 */
import type { SensorWindow, WindowScore, WindowScorer } from '../detector/types.ts';
import { TsadError } from '../errors.ts';

/** A model the switch can hold: scores windows and frees its memory. */
export interface SwitchableModel extends WindowScorer {
  dispose(): void;
}

/** A WindowScorer whose model can be replaced at any time. */
export interface ModelSwitch extends WindowScorer {
  /** The model in use, or null before the first one (cold start). */
  current(): SwitchableModel | null;
  /**
   * Makes `next` the model for every later batch and disposes the previous one
   * as soon as no batch uses it; returns the previous version (null if none).
   */
  swap(next: SwitchableModel): string | null;
  /** Scores with the current model and returns the version that scored. */
  scoreWithVersion(
    windows: readonly SensorWindow[],
    options?: { reconstruction?: boolean },
  ): Promise<{ version: string; scores: WindowScore[] }>;
  /** Disposes the current model (at shutdown). */
  dispose(): void;
}

/** Creates a switch holding `initial` (or nothing until the first swap). */
export function createModelSwitch(initial: SwitchableModel | null = null): ModelSwitch {
  let model = initial;
  const inFlight = new Map<SwitchableModel, number>();
  const retired = new Set<SwitchableModel>();

  function release(m: SwitchableModel): void {
    const left = (inFlight.get(m) ?? 1) - 1;
    if (left > 0) {
      inFlight.set(m, left);
      return;
    }
    inFlight.delete(m);
    if (retired.delete(m)) m.dispose();
  }

  function require(): SwitchableModel {
    if (model === null) {
      throw new TsadError('TSAD_ERR_INTERNAL', 'no model loaded yet: cannot score');
    }
    return model;
  }

  async function scoreWithVersion(
    windows: readonly SensorWindow[],
    options?: { reconstruction?: boolean },
  ): Promise<{ version: string; scores: WindowScore[] }> {
    const m = require();
    inFlight.set(m, (inFlight.get(m) ?? 0) + 1);
    try {
      return { version: m.version, scores: await m.scoreBatch(windows, options) };
    } finally {
      release(m);
    }
  }

  return {
    get version() {
      return model?.version ?? 'none';
    },
    get windowSize() {
      return require().windowSize;
    },
    get channels() {
      return require().channels;
    },
    current: () => model,
    swap(next) {
      const previous = model;
      model = next;
      if (previous && previous !== next) {
        if (inFlight.has(previous)) retired.add(previous);
        else previous.dispose();
      }
      return previous?.version ?? null;
    },
    scoreWithVersion,
    async scoreBatch(windows, options) {
      return (await scoreWithVersion(windows, options)).scores;
    },
    dispose() {
      if (model && !inFlight.has(model)) model.dispose();
      else if (model) retired.add(model);
      model = null;
    },
  };
}
