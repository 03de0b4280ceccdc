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
  /** An independent copy in the same state (for `SensorDetector.clone`). */
  clone(): AlertLifecycle;
  /** Bytes held (the k-of-n ring). */
  memoryBytes(): number;
}

/**
 * One sensor's lifecycle. A class, because a daemon holds one per sensor: the
 * methods live once on the prototype, and the k-of-n ring is a small array of
 * 0/1 integers (4 bytes each) rather than a typed array with its own buffer.
 */
class KOfNLifecycle implements AlertLifecycle {
  private readonly history: number[];
  private head = 0;
  private anomalousInHistory = 0;
  private current: AlertState = 'normal';
  private episodeStart: number | null = null;
  private resolvedAt = 0;
  private quietRun = 0;

  /** `policy` is shared by every sensor with the same settings (never copied). */
  constructor(private readonly policy: Readonly<AlertPolicy>) {
    this.history = new Array<number>(policy.confirmN).fill(0);
  }

  get state(): AlertState {
    return this.current;
  }

  get startedAt(): number | null {
    return this.episodeStart;
  }

  private remember(anomalous: boolean): void {
    const history = this.history;
    this.anomalousInHistory -= history[this.head]!;
    history[this.head] = anomalous ? 1 : 0;
    this.anomalousInHistory += history[this.head]!;
    this.head = (this.head + 1) % history.length;
  }

  step({ ts, anomalous, belowLower }: LifecycleInput): LifecycleTransition | null {
    const policy = this.policy;
    this.remember(anomalous);
    if (this.current === 'firing') {
      this.quietRun = belowLower ? this.quietRun + 1 : 0;
      const startedAt = this.episodeStart!;
      if (this.quietRun >= policy.resolveAfter && ts - startedAt >= policy.minFiringMs) {
        this.current = 'resolved';
        this.resolvedAt = ts;
        this.history.fill(0);
        this.anomalousInHistory = 0;
        return { kind: 'resolved', startedAt, endedAt: ts };
      }
      return null;
    }
    if (this.current === 'resolved' && ts - this.resolvedAt < policy.cooldownMs) return null;
    if (this.anomalousInHistory >= policy.confirmK) {
      this.current = 'firing';
      this.episodeStart = ts;
      this.quietRun = 0;
      return { kind: 'firing', startedAt: ts };
    }
    this.current = this.anomalousInHistory > 0 ? 'pending' : 'normal';
    return null;
  }

  clone(): AlertLifecycle {
    const other = new KOfNLifecycle(this.policy);
    for (let i = 0; i < this.history.length; i++) other.history[i] = this.history[i]!;
    other.head = this.head;
    other.anomalousInHistory = this.anomalousInHistory;
    other.current = this.current;
    other.episodeStart = this.episodeStart;
    other.resolvedAt = this.resolvedAt;
    other.quietRun = this.quietRun;
    return other;
  }

  memoryBytes(): number {
    // Small integers take 4 bytes each in V8's arrays (pointer compression).
    return 4 * this.history.length;
  }
}

/**
 * Creates the lifecycle of one sensor. The k-of-n history is a ring of n
 * flags, cleared when an alert resolves so a new episode needs k fresh
 * anomalous windows.
 */
export function createAlertLifecycle(policy: Readonly<AlertPolicy>): AlertLifecycle {
  return new KOfNLifecycle(policy);
}
