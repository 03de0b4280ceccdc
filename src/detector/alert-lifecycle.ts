/**
 * The alert lifecycle of one sensor as a state machine over its judged windows:
 *
 *   normal ─(an anomalous window)→ pending ─(k of the last n anomalous)→ firing
 *   firing ─(r consecutive windows below the lower level, and fired ≥ minFiringMs)→ resolved
 *   resolved ─(cooldownMs elapsed since resolving)→ normal | pending | firing
 *
 * It works on event time (window end timestamps) only, so a replay of the same
 * data goes through the same states. It knows nothing of scores' meaning: the
 * caller says whether each window was above the threshold and whether it was
 * below the lower (resolve) level.
 */

/** The states; `resolved` lasts from the resolving window until the cooldown ends. */
export type AlertState = 'normal' | 'pending' | 'firing' | 'resolved';

/** How alerts are confirmed, resolved and kept from flapping. */
export interface AlertPolicy {
  /** Fire when at least `confirmK` of the last `confirmN` windows are anomalous. */
  confirmK: number;
  confirmN: number;
  /** Resolve after this many consecutive windows below the lower level. */
  resolveAfter: number;
  /**
   * Where the lower level sits between the learnt baseline (0) and the
   * threshold (1): `baseline + hysteresis · (threshold − baseline)`.
   */
  hysteresis: number;
  /** An alert fires for at least this long (event time) before it may resolve. */
  minFiringMs: number;
  /** No new firing within this long (event time) after a resolve. */
  cooldownMs: number;
}

/**
 * Defaults, the same as the configuration's (docs/configuration.md, `alerts.*`):
 * 3 of 5 to fire, 5 quiet windows below 80% of the way to the threshold to
 * resolve, no minimum duration, 1 min cooldown.
 */
export const DEFAULT_ALERT_POLICY: Readonly<AlertPolicy> = Object.freeze({
  confirmK: 3,
  confirmN: 5,
  resolveAfter: 5,
  hysteresis: 0.8,
  minFiringMs: 0,
  cooldownMs: 60_000,
});

/** One judged window, as the lifecycle sees it. */
export interface LifecycleInput {
  /** Event time of the window (its end), epoch ms; non-decreasing per sensor. */
  ts: number;
  /** The window's score exceeded the threshold. */
  anomalous: boolean;
  /** The window's score was below the lower (resolve) level. */
  belowLower: boolean;
}

/** A transition worth telling the world about. */
export type LifecycleTransition =
  | { kind: 'firing'; startedAt: number }
  | { kind: 'resolved'; startedAt: number; endedAt: number };

/** The state machine of one sensor. */
export interface AlertLifecycle {
  readonly state: AlertState;
  /** Start (event time) of the current or last episode, or null if none yet. */
  readonly startedAt: number | null;
  /** Advances by one window; returns the transition it caused, if any. */
  step(input: LifecycleInput): LifecycleTransition | null;
  /** Bytes held (the k-of-n ring). */
  memoryBytes(): number;
}

/**
 * Creates the lifecycle of one sensor. The k-of-n history is a ring of n
 * booleans, cleared when an alert resolves so a new episode needs k fresh
 * anomalous windows.
 */
export function createAlertLifecycle(policy: Readonly<AlertPolicy>): AlertLifecycle {
  const n = policy.confirmN;
  const history = new Uint8Array(n);
  let head = 0;
  let anomalousInHistory = 0;
  let state: AlertState = 'normal';
  let startedAt: number | null = null;
  let resolvedAt = 0;
  let quietRun = 0;

  const remember = (anomalous: boolean): void => {
    anomalousInHistory -= history[head]!;
    history[head] = anomalous ? 1 : 0;
    anomalousInHistory += history[head]!;
    head = (head + 1) % n;
  };

  return {
    get state() {
      return state;
    },
    get startedAt() {
      return startedAt;
    },
    step({ ts, anomalous, belowLower }) {
      remember(anomalous);
      if (state === 'firing') {
        quietRun = belowLower ? quietRun + 1 : 0;
        if (quietRun >= policy.resolveAfter && ts - startedAt! >= policy.minFiringMs) {
          state = 'resolved';
          resolvedAt = ts;
          history.fill(0);
          anomalousInHistory = 0;
          return { kind: 'resolved', startedAt: startedAt!, endedAt: ts };
        }
        return null;
      }
      if (state === 'resolved' && ts - resolvedAt < policy.cooldownMs) return null;
      if (anomalousInHistory >= policy.confirmK) {
        state = 'firing';
        startedAt = ts;
        quietRun = 0;
        return { kind: 'firing', startedAt: ts };
      }
      state = anomalousInHistory > 0 ? 'pending' : 'normal';
      return null;
    },
    memoryBytes() {
      return history.byteLength;
    },
  };
}
