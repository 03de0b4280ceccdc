/**
 * The data retraining learns from, kept in bounded memory while the daemon
 * scores: a uniform reservoir sample (Vitter's algorithm R) of the windows the
 * detector did NOT flag, split into a training part and a held-out part, a
 * ring of the most recent flagged windows (a new model must still score them
 * high), and a ring of the most recent windows of any kind (after a drift,
 * the new normal is in there, flagged or not).
 */
import { mulberry32 } from './seeded-random.ts';
import type { SensorWindow } from './types.ts';

/** Sizes of the reservoir's parts. */
export interface ReservoirOptions {
  /** Normal windows kept for training (uniform sample over everything seen). */
  capacity: number;
  /** Normal windows kept apart for validating candidates. */
  holdoutCapacity: number;
  /** Most recent flagged windows kept. */
  flaggedCapacity: number;
  /** Most recent windows (flagged or not) kept, for retraining after a drift. */
  recentCapacity: number;
  /** Fraction of normal windows routed to the held-out sample. */
  holdoutFraction: number;
  seed: number;
}

/** Sizes the daemon uses unless configured otherwise. */
export const DEFAULT_RESERVOIR: Readonly<ReservoirOptions> = Object.freeze({
  capacity: 4096,
  holdoutCapacity: 1024,
  flaggedCapacity: 256,
  recentCapacity: 2048,
  holdoutFraction: 0.2,
  seed: 1,
});

/** A copy of the reservoir's contents at one moment (windows are shared, never mutated). */
export interface ReservoirSnapshot {
  training: SensorWindow[];
  holdout: SensorWindow[];
  flagged: SensorWindow[];
  /** Oldest first. */
  recent: SensorWindow[];
  /** Normal windows offered since the reservoir was created or cleared. */
  normalSeen: number;
}

/** The training reservoir of the retraining scheduler. */
export interface TrainingReservoir {
  /** Offers a scored window; `flagged` is the detector's verdict on it. */
  offer(window: SensorWindow, flagged: boolean): void;
  snapshot(): ReservoirSnapshot;
  /**
   * Replaces the normal sample by `windows` (after a drift the old normal no
   * longer is); the flagged and recent rings are kept as they are.
   */
  resetNormal(windows: readonly SensorWindow[]): void;
  /** Normal windows offered since creation or the last reset. */
  normalSeen(): number;
  /** Windows held in total (bounded by the sum of the capacities). */
  size(): number;
}

/** Creates an empty reservoir; memory is bounded by the capacities. */
export function createTrainingReservoir(
  options: Partial<ReservoirOptions> = {},
): TrainingReservoir {
  const o = { ...DEFAULT_RESERVOIR, ...options };
  const random = mulberry32(o.seed);
  let training: SensorWindow[] = [];
  let holdout: SensorWindow[] = [];
  let trainingSeen = 0;
  let holdoutSeen = 0;
  const flagged = createRing<SensorWindow>(o.flaggedCapacity);
  const recent = createRing<SensorWindow>(o.recentCapacity);

  function sample(target: SensorWindow[], seen: number, capacity: number, w: SensorWindow): void {
    if (target.length < capacity) {
      target.push(w);
      return;
    }
    const slot = Math.floor(random() * seen);
    if (slot < capacity) target[slot] = w;
  }

  function offerNormal(window: SensorWindow): void {
    if (random() < o.holdoutFraction) {
      holdoutSeen += 1;
      sample(holdout, holdoutSeen, o.holdoutCapacity, window);
    } else {
      trainingSeen += 1;
      sample(training, trainingSeen, o.capacity, window);
    }
  }

  return {
    offer(window, isFlagged) {
      recent.push(window);
      if (isFlagged) flagged.push(window);
      else offerNormal(window);
    },
    snapshot() {
      return {
        training: [...training],
        holdout: [...holdout],
        flagged: flagged.toArray(),
        recent: recent.toArray(),
        normalSeen: trainingSeen + holdoutSeen,
      };
    },
    resetNormal(windows) {
      training = [];
      holdout = [];
      trainingSeen = 0;
      holdoutSeen = 0;
      for (const w of windows) offerNormal(w);
    },
    normalSeen: () => trainingSeen + holdoutSeen,
    size() {
      return training.length + holdout.length + flagged.size() + recent.size();
    },
  };
}

interface Ring<T> {
  push(item: T): void;
  toArray(): T[];
  size(): number;
}

function createRing<T>(capacity: number): Ring<T> {
  const items: T[] = [];
  let next = 0;
  return {
    push(item) {
      if (capacity <= 0) return;
      if (items.length < capacity) items.push(item);
      else items[next] = item;
      next = (next + 1) % capacity;
    },
    toArray() {
      return items.length < capacity ? [...items] : [...items.slice(next), ...items.slice(0, next)];
    },
    size() {
      return items.length;
    },
  };
}
