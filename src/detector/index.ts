/**
 * The detector's public surface: what the stream, the CLI and the benchmarks
 * import. Everything here is pure (no I/O, no clocks): same inputs, same outputs.
 */
export {
  ALERT_SCHEMA_VERSION,
  type AlertEvent,
  type AlertExplanation,
  alertId,
  type ChannelContribution,
  explainWindow,
  isoTime,
  type PeakStep,
} from './alert-event.ts';
export {
  type AlertLifecycle,
  type AlertPolicy,
  type AlertState,
  createAlertLifecycle,
  DEFAULT_ALERT_POLICY,
  type LifecycleInput,
  type LifecycleTransition,
} from './alert-lifecycle.ts';
export { scoreScaleRatio } from './score-scale-ratio.ts';
export {
  createDetectorRegistry,
  createSensorDetector,
  type DetectorConfig,
  type DetectorInput,
  type DetectorRegistry,
  type DetectorRegistryConfig,
  type DetectorResult,
  type RecalibrateOptions,
  resolveAlertPolicy,
  type SensorDetector,
} from './sensor-detector.ts';
export { createThreshold, resolveThresholdConfig } from './thresholds/create-threshold.ts';
export {
  type AdaptiveThreshold,
  DEFAULT_DSPOT,
  DEFAULT_ROLLING,
  DEFAULT_SPOT,
  DEFAULT_TELEMANOM,
  type DspotConfig,
  type RollingConfig,
  type SpotConfig,
  type TelemanomConfig,
  THRESHOLD_DEFAULTS,
  type ThresholdConfig,
  type ThresholdMethod,
  type ThresholdOptions,
  type ThresholdVerdict,
} from './thresholds/threshold.ts';
export type { Reading, SensorWindow, WindowScore, WindowScorer } from './types.ts';
