/**
 * The one configuration per benchmark that `tsad backtest` runs with, and the
 * reading of a `--config` file that overrides parts of it. One configuration
 * serves every file of a benchmark: the held-back part of each benchmark
 * judges it, so nothing here may depend on a file's name or labels.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { TsadError } from '../../errors.ts';
import type { NabBacktestConfig } from './nab.ts';
import type { SkabBacktestConfig } from './skab.ts';

/**
 * NAB: a small, early-stopped model (files give at most 750 training rows),
 * the last step's reconstruction error as the row's score, reported as its
 * causal rank among the file's earlier scores (comparable across files, which
 * NAB's single threshold needs), and one report per event (see
 * docs/evaluation.md for what was tried).
 */
export const DEFAULT_NAB_CONFIG: Readonly<NabBacktestConfig> = Object.freeze<NabBacktestConfig>({
  model: {
    windowSize: 32,
    hiddenUnits: [16],
    codeSize: 8,
    maxEpochs: 30,
    patience: 4,
    batchSize: 32,
    learningRate: 0.005,
  },
  reduction: 'tail',
  tailSteps: 1,
  smoothingSpan: 1,
  threshold: { method: 'spot', q: 1e-3, initQuantile: 0.98 },
  scoreBatch: 4096,
  suppressFraction: 0.35,
  suppressFactor: 0,
  suppressLevel: 0.7,
  calibration: 'rank',
  rankMargin: 0.2,
  rankGuard: 31,
  seasonal: { minAcf: 0.5, slack: 0.02, smooth: 3 },
  likelihood: null,
  sustained: { window: 20, margin: 0.3 },
  quiet: null,
  retraining: null,
});

/**
 * SKAB: eight channels, each file's 400 fitting rows only. Adding the
 * anomaly-free file (recorded under other conditions) made the development
 * split much worse (F1 0.04 instead of 0.76 with the same threshold) and
 * training seven times slower, so it is off by default. The smooth channels
 * (the temperatures) go to the model as first differences: as levels they
 * drift out of the fitting rows' range and after a fault they stay there,
 * which caused most false alarms; without them DSPOT can run at q = 1e-2.
 * Changepoints come from a level-shift detector of their own.
 */
export const DEFAULT_SKAB_CONFIG: Readonly<SkabBacktestConfig> = Object.freeze<SkabBacktestConfig>({
  model: {
    windowSize: 16,
    hiddenUnits: [32],
    codeSize: 16,
    maxEpochs: 30,
    patience: 4,
    batchSize: 32,
    learningRate: 0.005,
  },
  reduction: 'window',
  tailSteps: 1,
  smoothingSpan: 1,
  threshold: { method: 'dspot', q: 1e-2, initQuantile: 0.98, depth: 100 },
  scoreBatch: 4096,
  useAnomalyFree: false,
  anomalyFreeStride: 8,
  holdRows: 0,
  differenceAbove: 0.8,
  changepoints: {
    source: 'level-shift',
    span: 50,
    window: 16,
    threshold: { method: 'dspot', q: 1e-3, initQuantile: 0.98, depth: 100 },
  },
});

/** Both benchmarks' configurations, as a `--config` file may give them. */
export interface BacktestConfigFile {
  nab?: Partial<NabBacktestConfig>;
  skab?: Partial<SkabBacktestConfig>;
}

/**
 * Reads a YAML or JSON file `{ nab: {...}, skab: {...} }` and merges each
 * section over the defaults (`model` merged field by field, `threshold`
 * replaced whole). TSAD_ERR_CONFIG_INVALID for an unreadable file or unknown
 * top-level keys.
 */
export function readBacktestConfig(file: string | undefined): {
  nab: NabBacktestConfig;
  skab: SkabBacktestConfig;
} {
  let parsed: BacktestConfigFile = {};
  if (file !== undefined) {
    let raw: unknown;
    try {
      raw = YAML.parse(fs.readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new TsadError('TSAD_ERR_CONFIG_INVALID', `cannot read backtest config ${file}`, {
        cause,
      });
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new TsadError('TSAD_ERR_CONFIG_INVALID', `${file}: expected { nab: ..., skab: ... }`);
    }
    const unknown = Object.keys(raw).filter((k) => k !== 'nab' && k !== 'skab');
    if (unknown.length > 0) {
      throw new TsadError('TSAD_ERR_CONFIG_INVALID', `${file}: unknown keys ${unknown.join(', ')}`);
    }
    parsed = raw as BacktestConfigFile;
  }
  const nab = mergeConfig(DEFAULT_NAB_CONFIG, parsed.nab);
  validateNabRankKeys(nab, file ?? 'backtest config');
  // The guard band is the rows whose windows overlap a row's own (window − 1);
  // a file that changes the window but says nothing of the guard keeps that.
  if (parsed.nab?.rankGuard === undefined) nab.rankGuard = Math.max(0, nab.model.windowSize - 1);
  return { nab, skab: mergeConfig(DEFAULT_SKAB_CONFIG, parsed.skab) };
}

/** Merges overrides over a configuration: `model` field by field, everything else replaced. */
export function mergeConfig<T extends { model: object }>(base: Readonly<T>, over?: Partial<T>): T {
  return {
    ...base,
    ...over,
    model: { ...base.model, ...over?.model },
  } as T;
}

/**
 * Rejects NAB rank settings that would silently change what the score means,
 * naming every wrong key: a negative guard band would rank a row against rows
 * after it (look-ahead), a fractional one indexes nothing, and a margin of 1
 * or more turns a tail into everything or nothing.
 */
export function validateNabRankKeys(config: NabBacktestConfig, source: string): void {
  const problems: string[] = [];
  const fraction = (name: string, value: unknown, min: number, max: number, open: boolean) => {
    const ok = typeof value === 'number' && value >= min && (open ? value < max : value <= max);
    if (!ok)
      problems.push(`nab.${name}: a number in [${min}, ${max}${open ? ')' : ']'}, got ${value}`);
  };
  const integer = (name: string, value: unknown, min: number) => {
    if (!(Number.isInteger(value) && (value as number) >= min)) {
      problems.push(`nab.${name}: an integer ≥ ${min}, got ${value}`);
    }
  };
  fraction('rankMargin', config.rankMargin, 0, 1, true);
  integer('rankGuard', config.rankGuard, 0);
  if (config.sustained !== null) {
    integer('sustained.window', config.sustained?.window, 1);
    fraction('sustained.margin', config.sustained?.margin, 0, 1, true);
  }
  if (config.quiet !== null) {
    fraction('quiet.fraction', config.quiet?.fraction, 0, 1, false);
    fraction('quiet.margin', config.quiet?.margin, 0, 1, true);
  }
  if (problems.length > 0) {
    throw new TsadError('TSAD_ERR_CONFIG_INVALID', `${source}: ${problems.join('; ')}`);
  }
}
