/**
 * The one configuration per benchmark that `tsad backtest` runs with, and the
 * reading of a `--config` file that overrides parts of it. One configuration
 * serves every file of a benchmark: the held-back part of each benchmark
 * judges it, so nothing here may depend on a file's name or labels.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { configError, schemaProblems } from '../../config/load-config.ts';
import { configSchema } from '../../config/schema.ts';
import { TsadError } from '../../errors.ts';
import { modelConfigSchema } from '../../model/config.ts';
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

const int = (min: number) => z.number().int().min(min);
const fraction = () => z.number().min(0).lt(1);
const unit = () => z.number().min(0).max(1);

/**
 * ThresholdOptions: a method and any of its parameters, bounded as the
 * daemon's `threshold.<method>` settings are (without their defaults: the
 * detector fills in what is left out).
 */
const thresholdSchema = (() => {
  const sections = configSchema.unwrap().shape.threshold.unwrap().shape;
  const method = <M extends 'spot' | 'dspot' | 'rolling' | 'telemanom'>(name: M) =>
    z.strictObject({
      method: z.literal(name),
      ...Object.fromEntries(
        Object.entries(sections[name].unwrap().shape).map(([key, setting]) => [
          key,
          setting.unwrap().optional(),
        ]),
      ),
    });
  return z.discriminatedUnion('method', [
    method('spot'),
    method('dspot'),
    method('rolling'),
    method('telemanom'),
  ]);
})();

/** The replay's settings (ReplayConfig) but `model`, which a file gives field by field. */
const replayShape = {
  reduction: z.enum(['window', 'tail']),
  tailSteps: int(1),
  smoothingSpan: z.number().min(1),
  threshold: thresholdSchema,
  scoreBatch: int(1),
};

const nabShape = {
  ...replayShape,
  suppressFraction: z.number().min(0),
  suppressFactor: unit(),
  suppressLevel: unit(),
  calibration: z.enum(['threshold', 'rank']),
  // A margin of 1 or more turns a tail into everything or nothing; a negative
  // guard band would rank a row against rows after it (look-ahead).
  rankMargin: fraction(),
  rankGuard: int(0),
  seasonal: z
    .strictObject({ minAcf: z.number().min(-1).max(1), slack: z.number().min(0), smooth: int(1) })
    .nullable(),
  likelihood: z
    .strictObject({
      shortWindow: int(1),
      longWindow: z.union([int(1), z.literal(Number.POSITIVE_INFINITY)]),
      minStd: z.number().min(0),
      decades: z.number().positive(),
      minHistory: int(0),
    })
    .nullable(),
  sustained: z.strictObject({ window: int(1), margin: fraction() }).nullable(),
  quiet: z.strictObject({ fraction: unit(), margin: fraction() }).nullable(),
  // A growth of 1 or less would never reach the next retraining row.
  retraining: z.strictObject({ growth: z.number().gt(1), maxWindows: int(1) }).nullable(),
};

const levelShift = { span: z.number().min(1), window: int(1), threshold: thresholdSchema };

const skabShape = {
  ...replayShape,
  useAnomalyFree: z.boolean(),
  anomalyFreeStride: int(1),
  holdRows: int(0),
  differenceAbove: z.number().min(-1).max(1).nullable(),
  changepoints: z.discriminatedUnion('source', [
    z.strictObject({ source: z.literal('level-shift'), ...levelShift }),
    // The outlier flags' changes need none of the level-shift settings.
    z.strictObject({ source: z.literal('flags'), ...levelShift }).partial({
      span: true,
      window: true,
      threshold: true,
    }),
  ]),
};

const modelSchema = z.strictObject(modelConfigSchema.shape).partial();

/** A complete NAB configuration (every object strict). */
export const nabConfigSchema = z.strictObject({
  model: modelSchema.required({ windowSize: true }),
  ...nabShape,
});

/** A complete SKAB configuration (every object strict). */
export const skabConfigSchema = z.strictObject({
  model: modelSchema.required({ windowSize: true }),
  ...skabShape,
});

/**
 * What a `--config` file may hold: any of each section's keys, `model` any
 * of its fields (merged over the defaults'); every other value is given whole
 * (it replaces the default), so its objects need all their fields.
 */
const backtestFileSchema = z.strictObject({
  nab: z
    .strictObject({ model: modelSchema, ...nabShape })
    .partial()
    .nullish(),
  skab: z
    .strictObject({ model: modelSchema, ...skabShape })
    .partial()
    .nullish(),
});

/** Both benchmarks' configurations, as a `--config` file may give them. */
export interface BacktestConfigFile {
  nab?: Partial<NabBacktestConfig> | null;
  skab?: Partial<SkabBacktestConfig> | null;
}

/**
 * Reads a YAML or JSON file `{ nab: {...}, skab: {...} }` (empty: the
 * defaults) and merges each section over the defaults (`model` merged field by field, everything else
 * replaced whole). TSAD_ERR_CONFIG_INVALID for an unreadable file, and for
 * any unknown key or wrong value, every one reported at once with its path
 * (as the daemon's configuration is; the CLI exits with code 2).
 */
export function readBacktestConfig(file: string | undefined): {
  nab: NabBacktestConfig;
  skab: SkabBacktestConfig;
} {
  let parsed: BacktestConfigFile = {};
  if (file !== undefined) {
    let raw: unknown;
    try {
      // An empty or comment-only file is null: no settings, as for the daemon's config file.
      raw = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
    } catch (cause) {
      throw new TsadError('TSAD_ERR_CONFIG_INVALID', `cannot read backtest config ${file}`, {
        cause,
      });
    }
    const problems = schemaProblems(backtestFileSchema, raw, `file ${file}`);
    if (problems.length > 0) throw configError(problems);
    parsed = raw as BacktestConfigFile;
  }
  const nab = mergeConfig(DEFAULT_NAB_CONFIG, parsed.nab ?? undefined);
  // The guard band is the rows whose windows overlap a row's own (window − 1);
  // a file that changes the window but says nothing of the guard keeps that.
  if (parsed.nab?.rankGuard === undefined) nab.rankGuard = Math.max(0, nab.model.windowSize - 1);
  return { nab, skab: mergeConfig(DEFAULT_SKAB_CONFIG, parsed.skab ?? undefined) };
}

/** Merges overrides over a configuration: `model` field by field, everything else replaced. */
export function mergeConfig<T extends { model: object }>(base: Readonly<T>, over?: Partial<T>): T {
  return {
    ...base,
    ...over,
    model: { ...base.model, ...over?.model },
  } as T;
}
