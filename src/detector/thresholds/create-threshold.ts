/**
 * Builds a threshold from configuration: fills each method's defaults, rejects
 * impossible parameters (every problem at once, with its path) and creates the
 * method's implementation.
 */
import { TsadError } from '../../errors.ts';
import { createRollingMad } from './rolling-mad.ts';
import { createDspot, createSpot } from './spot.ts';
import { createTelemanom } from './telemanom.ts';
import {
  type AdaptiveThreshold,
  THRESHOLD_DEFAULTS,
  type ThresholdConfig,
  type ThresholdOptions,
} from './threshold.ts';

type Check = [ok: boolean, problem: string];

function checksOf(config: ThresholdConfig): Check[] {
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  switch (config.method) {
    case 'spot':
    case 'dspot': {
      const checks: Check[] = [
        [config.q > 0 && config.q < 1, `q: in (0, 1), got ${config.q}`],
        [int(config.nInit, 10), `nInit: integer ≥ 10, got ${config.nInit}`],
        [
          config.initQuantile > 0 && config.initQuantile < 1,
          `initQuantile: in (0, 1), got ${config.initQuantile}`,
        ],
        [int(config.maxPeaks, 1), `maxPeaks: integer ≥ 1, got ${config.maxPeaks}`],
        [
          config.q < 1 - config.initQuantile,
          `q (${config.q}) must be below 1 − initQuantile (${1 - config.initQuantile}): the threshold lies beyond the peak level`,
        ],
      ];
      if (config.method === 'dspot') {
        checks.push([int(config.depth, 1), `depth: integer ≥ 1, got ${config.depth}`]);
      }
      return checks;
    }
    case 'rolling':
      return [
        [int(config.window, 2), `window: integer ≥ 2, got ${config.window}`],
        [config.k > 0 && Number.isFinite(config.k), `k: finite > 0, got ${config.k}`],
        [
          int(config.warmup, 1) && config.warmup <= config.window,
          `warmup: integer in [1, window], got ${config.warmup}`,
        ],
      ];
    case 'telemanom':
      return [
        [int(config.window, 2), `window: integer ≥ 2, got ${config.window}`],
        [config.smoothingSpan >= 1, `smoothingSpan: ≥ 1, got ${config.smoothingSpan}`],
        [config.zMin > 0, `zMin: > 0, got ${config.zMin}`],
        [config.zMax >= config.zMin, `zMax: ≥ zMin, got ${config.zMax}`],
        [config.zStep > 0, `zStep: > 0, got ${config.zStep}`],
        [
          config.minPercentDecrease >= 0 && config.minPercentDecrease < 1,
          `minPercentDecrease: in [0, 1), got ${config.minPercentDecrease}`,
        ],
        [
          int(config.recomputeEvery, 1),
          `recomputeEvery: integer ≥ 1, got ${config.recomputeEvery}`,
        ],
        [
          int(config.warmup, 2) && config.warmup <= config.window,
          `warmup: integer in [2, window], got ${config.warmup}`,
        ],
      ];
  }
}

/**
 * Fills the defaults of the chosen method and validates the result, throwing
 * TSAD_ERR_CONFIG_INVALID that lists every problem with its `threshold.` path.
 */
export function resolveThresholdConfig(options: ThresholdOptions): ThresholdConfig {
  const defaults = THRESHOLD_DEFAULTS[options.method] as ThresholdConfig | undefined;
  if (!defaults) {
    throw new TsadError(
      'TSAD_ERR_CONFIG_INVALID',
      `threshold.method: one of spot, dspot, rolling, telemanom; got ${String(options.method)}`,
    );
  }
  const config = { ...defaults, ...options } as ThresholdConfig;
  const problems = checksOf(config)
    .filter(([ok]) => !ok)
    .map(([, problem]) => `threshold.${problem}`);
  if (problems.length > 0) {
    throw new TsadError(
      'TSAD_ERR_CONFIG_INVALID',
      `invalid ${config.method} threshold: ${problems.join('; ')}`,
    );
  }
  return Object.freeze(config);
}

/** Creates the threshold a resolved configuration describes. */
export function createThreshold(config: ThresholdConfig): AdaptiveThreshold {
  switch (config.method) {
    case 'spot':
      return createSpot(config);
    case 'dspot':
      return createDspot(config);
    case 'rolling':
      return createRollingMad(config);
    case 'telemanom':
      return createTelemanom(config);
  }
}
