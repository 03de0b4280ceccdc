/**
 * The detector the stream calls, one per sensor: it judges each scored window
 * against the sensor's adaptive threshold, advances the alert lifecycle and
 * builds the alert events. The registry holds one detector per sensor, bounded
 * in number, and forgets a sensor when its partition is revoked.
 */
import { TsadError } from '../errors.ts';
import {
  ALERT_SCHEMA_VERSION,
  type AlertEvent,
  alertId,
  explainWindow,
  isoTime,
} from './alert-event.ts';
import {
  type AlertLifecycle,
  type AlertPolicy,
  type AlertState,
  createAlertLifecycle,
  DEFAULT_ALERT_POLICY,
  type LifecycleTransition,
} from './alert-lifecycle.ts';
import { createThreshold, resolveThresholdConfig } from './thresholds/create-threshold.ts';
import type {
  AdaptiveThreshold,
  ThresholdConfig,
  ThresholdOptions,
} from './thresholds/threshold.ts';
import { EXTREME_SCORE, type SensorWindow, type WindowScore } from './types.ts';

/** How one sensor is judged: its threshold method and its alert policy. */
export interface DetectorConfig {
  threshold: ThresholdOptions;
  alert?: Partial<AlertPolicy>;
}

/** The registry's configuration: a default and optional per-sensor overrides. */
export interface DetectorRegistryConfig extends DetectorConfig {
  /** Per sensor: `threshold` replaces the default's, `alert` is merged over it. */
  sensors?: Record<string, Partial<DetectorConfig>>;
}

/** One scored window handed to a detector. */
export interface DetectorInput {
  window: SensorWindow;
  score: WindowScore;
  /** The model that scored it (goes into alerts). */
  modelVersion: string;
}

/** What a detector says of one window. */
export interface DetectorResult {
  /** In [0, 1): 0.5 at the threshold, monotone in the raw score. 0 during warm-up. */
  calibratedScore: number;
  /** Raw-unit threshold for this window; +Infinity during warm-up. */
  threshold: number;
  /** `score.score > threshold`; never true during warm-up. */
  anomalous: boolean;
  warmingUp: boolean;
  /** The sensor's alert state after this window. */
  alertState: AlertState;
  /** Alert events caused by this window (zero or one; an array for future grouping). */
  events: AlertEvent[];
}

/** Options of a recalibration after a model swap. */
export interface RecalibrateOptions {
  /**
   * new-model scores ≈ scale · old-model scores (e.g. from `scoreScaleRatio` on
   * a validation set). Given: thresholds rescale and keep alerting. Omitted:
   * thresholds re-enter warm-up; the alert state is kept frozen until it ends.
   */
  scale?: number;
}

/** The detector of one sensor. */
export interface SensorDetector {
  readonly sensor: string;
  readonly config: Readonly<{ threshold: ThresholdConfig; alert: AlertPolicy }>;
  readonly alertState: AlertState;
  /**
   * Judges one window. Windows must come in strictly increasing end time; an
   * older or repeated one is refused with TSAD_ERR_INPUT_INVALID (call
   * `registry.forget(sensor)` before replaying a sensor from an earlier offset).
   */
  observe(input: DetectorInput): DetectorResult;
  /** Adapts the threshold to a new model's score scale (see RecalibrateOptions). */
  recalibrate(options?: RecalibrateOptions): void;
  /** Bytes held by the threshold's and the lifecycle's buffers. */
  memoryBytes(): number;
  /**
   * A detector of `sensor` that starts from this one's learnt state (threshold,
   * alert state, last window time) with buffers of its own. For warm-starting a
   * sensor like a known one, and for the memory probe, which cannot afford to
   * teach 100,000 thresholds one by one. Throws TSAD_ERR_CONFIG_INVALID for a
   * threshold method that cannot be copied (rolling, telemanom).
   */
  clone(sensor: string): SensorDetector;
}

/** Fills the alert policy's defaults and rejects impossible values, listing every problem. */
export function resolveAlertPolicy(partial: Partial<AlertPolicy> = {}): AlertPolicy {
  const policy: AlertPolicy = { ...DEFAULT_ALERT_POLICY, ...partial };
  const problems: string[] = [];
  const integer = (name: keyof AlertPolicy, min: number) => {
    const v = policy[name];
    if (!Number.isInteger(v) || v < min) problems.push(`alert.${name}: integer ≥ ${min}, got ${v}`);
  };
  integer('confirmK', 1);
  integer('confirmN', 1);
  integer('resolveAfter', 1);
  if (policy.confirmK > policy.confirmN) {
    problems.push(
      `alert.confirmK (${policy.confirmK}) must not exceed confirmN (${policy.confirmN})`,
    );
  }
  if (!(policy.hysteresis > 0 && policy.hysteresis <= 1)) {
    problems.push(`alert.hysteresis: in (0, 1], got ${policy.hysteresis}`);
  }
  for (const name of ['minFiringMs', 'cooldownMs'] as const) {
    if (!(Number.isFinite(policy[name]) && policy[name] >= 0)) {
      problems.push(`alert.${name}: finite ≥ 0, got ${policy[name]}`);
    }
  }
  if (problems.length > 0) {
    throw new TsadError('TSAD_ERR_CONFIG_INVALID', `invalid alert policy: ${problems.join('; ')}`);
  }
  return policy;
}

/** Thresholds and alert policy of a detector, resolved and frozen. */
type ResolvedDetectorConfig = Readonly<{ threshold: ThresholdConfig; alert: AlertPolicy }>;

function resolveDetectorConfig(config: DetectorConfig): ResolvedDetectorConfig {
  return Object.freeze({
    threshold: resolveThresholdConfig(config.threshold),
    alert: Object.freeze(resolveAlertPolicy(config.alert)),
  });
}

/**
 * One sensor's detector. A class rather than a closure-built object: a
 * daemon holds one per sensor, and each closure (with its context, and the
 * property dictionary an object with getters gets) costs hundreds of bytes
 * that a prototype method does not. The resolved config is shared by every
 * sensor with the same settings.
 */
class Detector implements SensorDetector {
  private peakScore = Number.NEGATIVE_INFINITY;
  private lastEndTs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly sensor: string,
    readonly config: ResolvedDetectorConfig,
    private readonly threshold: AdaptiveThreshold,
    private readonly lifecycle: AlertLifecycle,
  ) {}

  get alertState(): AlertState {
    return this.lifecycle.state;
  }

  private buildEvent(
    transition: LifecycleTransition,
    input: DetectorInput,
    calibratedScore: number,
    thresholdValue: number,
  ): AlertEvent {
    const sensor = this.sensor;
    return {
      schemaVersion: ALERT_SCHEMA_VERSION,
      id: alertId(sensor, transition.startedAt),
      sensor,
      state: transition.kind,
      startedAt: isoTime(transition.startedAt),
      endedAt: transition.kind === 'resolved' ? isoTime(transition.endedAt) : null,
      peakScore: this.peakScore,
      score: input.score.score,
      calibratedScore,
      threshold: thresholdValue,
      method: this.config.threshold.method,
      modelVersion: input.modelVersion,
      window: { start: isoTime(input.window.startTs), end: isoTime(input.window.endTs) },
      explanation: explainWindow(input.window, input.score),
    };
  }

  observe(input: DetectorInput): DetectorResult {
    const sensor = this.sensor;
    const raw = input.score.score;
    if (input.window.sensor !== sensor) {
      throw new TsadError(
        'TSAD_ERR_INTERNAL',
        `window of sensor "${input.window.sensor}" given to the detector of "${sensor}"`,
      );
    }
    if (!Number.isFinite(raw)) {
      throw new TsadError('TSAD_ERR_INPUT_INVALID', `non-finite score ${raw} for "${sensor}"`);
    }
    // The lifecycle runs on event time; a window that does not move it forward
    // (a replayed or reordered one) would corrupt k-of-n, durations and ids.
    if (!(input.window.endTs > this.lastEndTs)) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `window of "${sensor}" ending at ${input.window.endTs} is not after the last (${this.lastEndTs})`,
      );
    }
    this.lastEndTs = input.window.endTs;
    const lifecycle = this.lifecycle;
    if (raw >= EXTREME_SCORE && !this.threshold.ready) {
      // Learnt into the warm-up it would spoil the threshold for a long time (types.ts).
      return {
        calibratedScore: 0,
        threshold: Number.POSITIVE_INFINITY,
        anomalous: false,
        warmingUp: true,
        alertState: lifecycle.state,
        events: [],
      };
    }
    const verdict = this.threshold.update(raw);
    const result: DetectorResult = {
      calibratedScore: verdict.calibratedScore,
      threshold: verdict.threshold,
      anomalous: verdict.anomalous,
      warmingUp: verdict.warmingUp,
      alertState: lifecycle.state,
      events: [],
    };
    if (verdict.warmingUp) return result;

    const lower =
      verdict.baseline + this.config.alert.hysteresis * (verdict.threshold - verdict.baseline);
    const wasFiring = lifecycle.state === 'firing';
    const transition = lifecycle.step({
      ts: input.window.endTs,
      anomalous: verdict.anomalous,
      belowLower: raw < lower,
    });
    if (transition?.kind === 'firing') this.peakScore = raw;
    else if (wasFiring) this.peakScore = Math.max(this.peakScore, raw);
    result.alertState = lifecycle.state;
    if (transition) {
      result.events.push(
        this.buildEvent(transition, input, verdict.calibratedScore, verdict.threshold),
      );
    }
    return result;
  }

  recalibrate(options: RecalibrateOptions = {}): void {
    if (options.scale !== undefined && !(Number.isFinite(options.scale) && options.scale > 0)) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `recalibration scale must be finite and > 0, got ${options.scale}`,
      );
    }
    this.threshold.recalibrate(options.scale);
    if (options.scale !== undefined && this.lifecycle.state === 'firing') {
      this.peakScore *= options.scale;
    }
  }

  memoryBytes(): number {
    return this.threshold.memoryBytes() + this.lifecycle.memoryBytes();
  }

  clone(sensor: string): SensorDetector {
    if (!this.threshold.clone) {
      throw new TsadError(
        'TSAD_ERR_CONFIG_INVALID',
        `a ${this.threshold.method} threshold cannot be copied to another sensor`,
      );
    }
    const other = new Detector(sensor, this.config, this.threshold.clone(), this.lifecycle.clone());
    other.peakScore = this.peakScore;
    other.lastEndTs = this.lastEndTs;
    return other;
  }
}

function detectorOf(sensor: string, config: ResolvedDetectorConfig): SensorDetector {
  return new Detector(
    sensor,
    config,
    createThreshold(config.threshold),
    createAlertLifecycle(config.alert),
  );
}

/**
 * Creates the detector of one sensor. The threshold judges each window before
 * learning from it; the lifecycle only advances once the threshold is warmed
 * up, so neither the first start nor a recalibration can raise an alert from a
 * half-learnt threshold.
 */
export function createSensorDetector(sensor: string, config: DetectorConfig): SensorDetector {
  return detectorOf(sensor, resolveDetectorConfig(config));
}

/** The detectors of every sensor this process owns. */
export interface DetectorRegistry {
  /** Number of sensors held. */
  readonly size: number;
  /** Judges a window with its sensor's detector, creating it on first sight. */
  observe(input: DetectorInput): DetectorResult;
  /** The detector of a sensor, if held. */
  get(sensor: string): SensorDetector | undefined;
  /** Drops a sensor's state (partition revoked); true if it was held. */
  forget(sensor: string): boolean;
  /** Recalibrates every held detector after a model swap. */
  recalibrateAll(options?: RecalibrateOptions): void;
  sensors(): IterableIterator<string>;
  /** Bytes held by all detectors' buffers. */
  memoryBytes(): number;
}

/**
 * Creates the registry. It refuses a new sensor beyond `maxSensors` with
 * TSAD_ERR_SENSOR_LIMIT rather than evicting one, because eviction would
 * silently drop a firing alert; the stream dead-letters such windows.
 */
export function createDetectorRegistry(
  config: DetectorRegistryConfig,
  options: { maxSensors: number },
): DetectorRegistry {
  // Resolve the default and every override once, up front: a bad config
  // fails at start and not on the first window of some sensor, and every
  // sensor shares its frozen config instead of holding a copy.
  const shared = resolveDetectorConfig(config);
  const overrides = new Map<string, ResolvedDetectorConfig>();
  for (const [sensor, override] of Object.entries(config.sensors ?? {})) {
    overrides.set(
      sensor,
      resolveDetectorConfig({
        threshold: override.threshold ?? config.threshold,
        alert: { ...config.alert, ...override.alert },
      }),
    );
  }
  const detectors = new Map<string, SensorDetector>();

  return {
    get size() {
      return detectors.size;
    },
    observe(input) {
      const sensor = input.window.sensor;
      let detector = detectors.get(sensor);
      if (!detector) {
        if (detectors.size >= options.maxSensors) {
          throw new TsadError(
            'TSAD_ERR_SENSOR_LIMIT',
            `sensor "${sensor}" refused: already ${detectors.size} sensors (maxSensors)`,
          );
        }
        detector = detectorOf(sensor, overrides.get(sensor) ?? shared);
        detectors.set(sensor, detector);
      }
      return detector.observe(input);
    },
    get(sensor) {
      return detectors.get(sensor);
    },
    forget(sensor) {
      return detectors.delete(sensor);
    },
    recalibrateAll(recalibrateOptions) {
      for (const detector of detectors.values()) detector.recalibrate(recalibrateOptions);
    },
    sensors() {
      return detectors.keys();
    },
    memoryBytes() {
      let total = 0;
      for (const detector of detectors.values()) total += detector.memoryBytes();
      return total;
    },
  };
}
