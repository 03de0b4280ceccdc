/**
 * Tuning aid for the NAB configuration: scores every file of the development
 * split once with a model configuration (cached as JSON), then tries the
 * post-model settings (score reduction, smoothing, threshold method,
 * calibration, seasonal score, sustained-error rank, quiet score, anomaly
 * likelihood, onset suppression) on the cached scores and prints each one's NAB scores. The model is the expensive
 * part; everything after it takes seconds. `VARIANTS='[{}]'` is the configured
 * NAB scoring itself; `DETAIL=1` adds, per file, the score at the standard
 * threshold, the false detections and where each window was first detected.
 * The cache is built with the configured retraining, if any.
 *
 *   VARIANTS='[{}, {"seasonal": null}]' node --import tsx bench/quality/sweep-nab.ts
 *     [--benchmarks ../shared/benchmarks] [--cache /tmp/nab-scores.json] [--config <file>]
 *     [--also <cache>,<cache>]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readBacktestConfig } from '../../src/cli/backtest/backtest-config.ts';
import {
  lowerBound,
  nabProbationaryRows,
  quietScores,
  rankCalibrate,
  reportedScores,
  scoreNabSeries,
  sustainedScores,
} from '../../src/cli/backtest/nab.ts';
import { dominantPeriod, seasonalResidual } from '../../src/cli/backtest/nab-seasonal.ts';
import { judgeScores } from '../../src/cli/backtest/replay.ts';
import { listNabDataFiles, readNabDataCsv, readNabLabels } from '../../src/cli/benchmark-files.ts';
import { anomalyLikelihood } from '../../src/detector/anomaly-likelihood.ts';
import { evaluateNab } from '../../src/detector/evaluation/evaluate-nab.ts';
import type { ThresholdOptions } from '../../src/detector/thresholds/threshold.ts';
import { initBackend } from '../../src/model/backend.ts';

const { values: args } = parseArgs({
  options: {
    benchmarks: { type: 'string', default: path.join('..', 'shared', 'benchmarks') },
    cache: { type: 'string', default: '/tmp/tsad-nab-scores.json' },
    config: { type: 'string' },
    /** Further caches (comma-separated, same files) whose rank scores are combined with the main one. */
    also: { type: 'string' },
  },
});
const root = args.benchmarks as string;
const dataDir = path.join(root, 'nab', 'data');
const labels = readNabLabels(path.join(root, 'nab', 'labels', 'combined_windows.json'));
const config = readBacktestConfig(args.config).nab;

interface Cached {
  file: string;
  fitWindows: number;
  windowMean: number[];
  lastStep: number[];
}

let cached: Cached[];
if (fs.existsSync(args.cache as string)) {
  cached = JSON.parse(fs.readFileSync(args.cache as string, 'utf8'));
} else {
  await initBackend();
  cached = [];
  const started = Date.now();
  for (const file of listNabDataFiles(dataDir)) {
    const series = readNabDataCsv(path.join(dataDir, file));
    const scored = await scoreNabSeries(
      series.values,
      series.timestamps,
      nabProbationaryRows(series.values.length),
      config,
    );
    cached.push({
      file,
      fitWindows: scored.fitWindows,
      windowMean: Array.from(scored.windowMean),
      lastStep: Array.from(scored.lastStep),
    });
    process.stderr.write(`${file} ${Date.now() - started} ms\n`);
  }
  fs.writeFileSync(args.cache as string, JSON.stringify(cached));
}
const others: Map<string, Cached>[] = (args.also ?? '')
  .split(',')
  .filter((f) => f !== '')
  .map(
    (f) => new Map((JSON.parse(fs.readFileSync(f, 'utf8')) as Cached[]).map((c) => [c.file, c])),
  );
const series = new Map(cached.map((c) => [c.file, readNabDataCsv(path.join(dataDir, c.file))]));

interface Variant {
  name: string;
  reduction: 'windowMean' | 'lastStep' | 'tail';
  tail?: number;
  smoothingSpan: number;
  threshold: ThresholdOptions;
  suppressFraction: number;
  suppressFactor: number;
  suppressLevel?: number;
  /** Post-threshold calibration: the detector's (`spot`), or a causal rank among past scores. */
  calib?: 'spot' | 'ecdf' | 'pastq';
  /** Ensemble: a trailing robust z-score of the value (window `zWindow`) judged alike, max-combined. */
  zWindow?: number;
  zDiff?: boolean;
  /** Weight of the value detector's calibrated score in the max (1 = equal). */
  zWeight?: number;
  ensembleOnly?: boolean;
  pastQ?: number;
  tailIndex?: number;
  memory?: number;
  excludeFit?: boolean;
  withSpot?: 'geo' | 'mean' | 'min';
  record?: boolean;
  fisher?: boolean;
  margin?: number;
  /** Rows just before a row left out of its model-error rank's past (rankCalibrate's guard). */
  guard?: number;
  alsoReduction?: 'windowMean' | 'tail';
  spotOffset?: number;
  /** How the rank scores of the main and `--also` caches combine. */
  combine?: 'max' | 'mean' | 'min';
  /**
   * Window per file from its period: `sizes` are the window lengths of the main
   * cache and the `--also` caches in order; `le` takes the largest ≤ the period
   * (the smallest if none), `nearest` the closest; no period keeps the main cache.
   */
  pick?: { sizes: number[]; rule: 'le' | 'nearest'; minAcf: number };
  /** Numenta's spatial anomaly: a value beyond the range seen so far by `tolerance` × range scores `score`. */
  spatial?: { tolerance: number; score?: number };
  /** Rank of the value's distance from the fitting rows' median (all history), max-combined. */
  level?: { weight?: number; side?: 'both' | 'up' };
  /** Seasonal residual |x_t − x_{t−P}| with P from the probationary rows' autocorrelation. */
  seasonal?: {
    minAcf: number;
    slack: number;
    weight?: number;
    smooth?: number;
    only?: boolean;
    /** Residual against the closest of the last `periods` periods (1 = one period back). */
    periods?: number;
    /** Also the anomaly likelihood (variant `lik`'s settings) of the log residual. */
    lik?: boolean;
  } | null;
  /** Rank (own margin) of the geometric mean of the last `window` errors, max-combined. */
  sustained?: { window: number; margin: number } | null;
  /** Low-side rank (own margin) of the values' range over the last `fraction × probationary` rows, max-combined. */
  quiet?: { fraction: number; margin: number } | null;
  /** Anomaly likelihood of a short average of a score, combined with the calibrated score. */
  lik?: {
    input: 'rank' | 'log' | 'raw';
    short: number;
    long: number;
    minStd: number;
    decades: number;
    weight?: number;
    mode: 'max' | 'only' | 'mean';
  } | null;
}

/**
 * Level-free onset reporting: a row reports its score only when it exceeds
 * every score of the previous `rows` rows, so for any threshold only the first
 * crossing (and later higher peaks) of an event is reported.
 */
function recordScores(cal: Float64Array, probationary: number, rows: number): Float64Array {
  const out = new Float64Array(cal.length);
  for (let i = probationary; i < cal.length; i++) {
    let max = 0;
    for (let j = Math.max(0, i - rows); j < i; j++) if (cal[j]! > max) max = cal[j]!;
    out[i] = cal[i]! > max ? Math.min(1, Math.max(0, cal[i]!)) : 0;
  }
  return out;
}

const periods = new Map<string, number>();

/** Trailing z-score of each value against the previous `w` values (causal). */
function valueZ(values: readonly number[], w: number, diff: boolean): Float64Array {
  const x = diff ? values.map((v, i) => (i === 0 ? 0 : v - values[i - 1]!)) : values.slice();
  const out = new Float64Array(x.length).fill(Number.NaN);
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < x.length; i++) {
    if (i >= w) {
      const mean = sum / w;
      const sd = Math.sqrt(Math.max(sq / w - mean * mean, 0));
      out[i] = Math.abs(x[i]! - mean) / (sd + 1e-9 + 1e-6 * Math.abs(mean));
    }
    sum += x[i]!;
    sq += x[i]! * x[i]!;
    if (i >= w) {
      sum -= x[i - w]!;
      sq -= x[i - w]! * x[i - w]!;
    }
  }
  return out;
}

/** Causal rank calibration: share of all earlier scores below this one, as -log10 of the tail. */
function ecdfCalib(raw: Float64Array, tailIndex = 0, memory = Infinity, margin = 0): Float64Array {
  const out = new Float64Array(raw.length);
  const seen: number[] = [];
  const order: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const x = raw[i]!;
    if (Number.isNaN(x)) continue;
    const lo = lowerBound(seen, x);
    if (margin > 0) {
      // Count earlier scores within `margin` below x as if they were ≥ x.
      const y = x * (1 - margin);
      const ge = seen.length - lowerBound(seen, y);
      let p = (ge + 1) / (seen.length + 1);
      if (ge === 0 && tailIndex > 0 && seen.length > 0 && seen[seen.length - 1]! > 0) {
        // Pareto extrapolation past the (margin-widened) maximum: rarer the further beyond it.
        p *= (seen[seen.length - 1]! / y) ** tailIndex;
      }
      out[i] = Math.min(1, -Math.log10(p) / 4);
      seen.splice(lo, 0, x);
      continue;
    }
    const ge = seen.length - lo;
    let p = (ge + 1) / (seen.length + 1);
    if (ge === 0 && tailIndex > 0 && seen.length > 0) {
      const max = seen[seen.length - 1]!;
      if (max > 0) p *= (max / x) ** tailIndex;
    }
    out[i] = Math.min(1, -Math.log10(p) / 4);
    seen.splice(lo, 0, x);
    order.push(x);
    if (order.length > memory) {
      seen.splice(lowerBound(seen, order.shift()!), 1);
    }
  }
  return out;
}

/** Ratio of a score to a high quantile of all earlier scores, mapped r/(1+r). */
function pastQCalib(raw: Float64Array, q: number): Float64Array {
  const out = new Float64Array(raw.length);
  const seen: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const x = raw[i]!;
    if (Number.isNaN(x)) continue;
    if (seen.length >= 10) {
      const ref = seen[Math.min(seen.length - 1, Math.floor(q * seen.length))]!;
      const r = x / (ref + 1e-12);
      out[i] = r / (1 + r);
    }
    seen.splice(lowerBound(seen, x), 0, x);
  }
  return out;
}

function rawOf(c: Cached, v: Variant): Float64Array {
  const base = Float64Array.from(v.reduction === 'windowMean' ? c.windowMean : c.lastStep, (x) =>
    x === null ? Number.NaN : x,
  );
  if (v.reduction !== 'tail') return base;
  // Mean of the last `tail` last-step errors: a short causal moving average.
  const k = v.tail ?? 4;
  const out = new Float64Array(base.length).fill(Number.NaN);
  for (let i = 0; i < base.length; i++) {
    let sum = 0;
    let n = 0;
    for (let j = Math.max(0, i - k + 1); j <= i; j++) {
      if (!Number.isNaN(base[j]!)) {
        sum += base[j]!;
        n++;
      }
    }
    if (n > 0 && !Number.isNaN(base[i]!)) out[i] = sum / n;
  }
  return out;
}

function pickCache(c0: Cached, v: Variant): Cached {
  if (v.pick === undefined) return c0;
  const values = series.get(c0.file)!.values;
  const period = dominantPeriod(
    values.slice(0, nabProbationaryRows(values.length)),
    v.pick.minAcf,
    v.seasonal?.slack ?? 0.02,
  );
  if (period === 0) return c0;
  const sizes = v.pick.sizes;
  let k = 0;
  if (v.pick.rule === 'le') {
    for (let j = 0; j < sizes.length; j++) {
      if (sizes[j]! <= period && (sizes[k]! > period || sizes[j]! > sizes[k]!)) k = j;
    }
    if (sizes[k]! > period) k = sizes.indexOf(Math.min(...sizes));
  } else {
    for (let j = 0; j < sizes.length; j++) {
      if (Math.abs(sizes[j]! - period) < Math.abs(sizes[k]! - period)) k = j;
    }
  }
  return k === 0 ? c0 : others[k - 1]!.get(c0.file)!;
}

function run(v: Variant) {
  const files = cached.map((c0) => {
    const c = pickCache(c0, v);
    const raw = rawOf(c, v);
    if (v.excludeFit) {
      // Rank against out-of-sample scores only: drop the fitting windows' (in-sample) scores.
      let k = 0;
      for (let i = 0; i < raw.length && k < c.fitWindows; i++) {
        if (!Number.isNaN(raw[i]!)) {
          raw[i] = Number.NaN;
          k++;
        }
      }
    }
    let calibrated: Float64Array =
      v.calib === 'ecdf'
        ? v.tailIndex === undefined && v.memory === undefined
          ? rankCalibrate(raw, v.margin ?? 0, v.guard ?? 0)
          : ecdfCalib(raw, v.tailIndex ?? 0, v.memory ?? Number.POSITIVE_INFINITY, v.margin ?? 0)
        : v.calib === 'pastq'
          ? pastQCalib(raw, v.pastQ ?? 0.99)
          : judgeScores(raw, c.fitWindows, v).calibrated;
    if (others.length > 0 && v.pick === undefined) {
      const all = [calibrated, ...others.map((o) => rankCalibrate(rawOf(o.get(c.file)!, v)))];
      calibrated = Float64Array.from(calibrated, (_, i) => {
        const xs = all.map((a) => a[i]!);
        if (v.combine === 'max') return Math.max(...xs);
        if (v.combine === 'min') return Math.min(...xs);
        return xs.reduce((a, b) => a + b, 0) / xs.length;
      });
    }
    if (v.alsoReduction !== undefined) {
      const other = rankCalibrate(rawOf(c, { ...v, reduction: v.alsoReduction }));
      calibrated = Float64Array.from(calibrated, (a, i) =>
        v.combine === 'max' ? Math.max(a, other[i]!) : (a + other[i]!) / 2,
      );
    }
    if (v.withSpot !== undefined) {
      // Rank score combined with the SPOT-calibrated score (magnitude past the threshold).
      const spot = judgeScores(raw, c.fitWindows, v).calibrated;
      const how = v.withSpot;
      calibrated = Float64Array.from(calibrated, (a, i) => {
        const b = spot[i]!;
        if (how === 'geo') return Math.sqrt(a * b);
        if (how === 'mean') return (a + b) / 2;
        return Math.min(a, b + (v.spotOffset ?? 0.2));
      });
    }
    if (v.lik != null) {
      const l = v.lik;
      const input =
        l.input === 'rank'
          ? calibrated
          : l.input === 'log'
            ? Float64Array.from(raw, (x) => Math.log(x + 1e-6))
            : raw;
      const lk = anomalyLikelihood(input, {
        shortWindow: l.short,
        longWindow: l.long,
        minStd: l.minStd,
        decades: l.decades,
        minHistory: 50,
      });
      const w = l.weight ?? 1;
      const base = calibrated;
      calibrated = Float64Array.from(base, (a, i) =>
        l.mode === 'only' ? lk[i]! : l.mode === 'max' ? Math.max(a, w * lk[i]!) : (a + lk[i]!) / 2,
      );
    }
    if (v.sustained != null) {
      const sc = sustainedScores(raw, v.sustained);
      calibrated = Float64Array.from(calibrated, (a, i) => Math.max(a, sc[i]!));
    }
    const probationary = nabProbationaryRows(c.windowMean.length);
    if (v.quiet != null) {
      const qc = quietScores(series.get(c.file)!.values, probationary, v.quiet);
      calibrated = Float64Array.from(calibrated, (a, i) => Math.max(a, qc[i]!));
    }
    if (v.seasonal != null) {
      const values = series.get(c.file)!.values;
      const period = dominantPeriod(
        values.slice(0, probationary),
        v.seasonal.minAcf,
        v.seasonal.slack,
      );
      periods.set(c.file, period);
      if (period > 0) {
        const r = seasonalResidual(values, period, v.seasonal.smooth ?? 1);
        for (let k = 2; k <= (v.seasonal.periods ?? 1); k++) {
          const rk = seasonalResidual(values, k * period, v.seasonal.smooth ?? 1);
          for (let i = 0; i < r.length; i++) if (rk[i]! < r[i]!) r[i] = rk[i]!;
        }
        let rc = rankCalibrate(r, v.margin ?? 0);
        if (v.seasonal.lik && v.lik != null) {
          const lr = anomalyLikelihood(
            Float64Array.from(r, (x) => Math.log(x + 1e-6)),
            {
              shortWindow: v.lik.short,
              longWindow: v.lik.long,
              minStd: v.lik.minStd,
              decades: v.lik.decades,
              minHistory: 50,
            },
          );
          rc = Float64Array.from(rc, (a, i) => Math.max(a, lr[i]!));
        }
        const w = v.seasonal.weight ?? 1;
        calibrated = v.seasonal.only
          ? rc
          : Float64Array.from(calibrated, (a, i) => Math.max(a, w * rc[i]!));
      }
    }
    if (v.spatial !== undefined) {
      const values = series.get(c.file)!.values;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      const out = calibrated.slice();
      for (let i = 0; i < values.length; i++) {
        const x = values[i]!;
        const tol = v.spatial.tolerance * (hi - lo);
        if (i >= probationary && (x > hi + tol || x < lo - tol)) {
          out[i] = Math.max(out[i]!, v.spatial.score ?? 1);
        }
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
      calibrated = out;
    }
    if (v.level !== undefined) {
      const values = series.get(c.file)!.values;
      const fit = values.slice(0, probationary).sort((a, b) => a - b);
      const med = fit[Math.floor(fit.length / 2)]!;
      const dev = Float64Array.from(values, (x) =>
        v.level!.side === 'up' ? Math.max(0, x - med) : Math.abs(x - med),
      );
      const lc = rankCalibrate(dev, v.margin ?? 0);
      const w = v.level.weight ?? 1;
      calibrated = Float64Array.from(calibrated, (a, i) => Math.max(a, w * lc[i]!));
    }
    if (v.zWindow !== undefined) {
      const z = valueZ(series.get(c.file)!.values, v.zWindow, v.zDiff ?? false);
      const firstZ = v.zWindow;
      const zc =
        v.calib === 'ecdf'
          ? ecdfCalib(z, v.tailIndex ?? 0, v.memory ?? Number.POSITIVE_INFINITY, v.margin ?? 0)
          : v.calib === 'pastq'
            ? pastQCalib(z, v.pastQ ?? 0.99)
            : judgeScores(z, Math.max(10, probationary - firstZ), v).calibrated;
      const w = v.zWeight ?? 1;
      calibrated = v.ensembleOnly
        ? zc
        : v.fisher
          ? Float64Array.from(calibrated, (a, i) => {
              // Fisher's method on the two tail probabilities (score = -log10(p) / 4).
              const x = 2 * Math.LN10 * 4 * (a + zc[i]!);
              const p = Math.exp(-x / 2) * (1 + x / 2);
              return Math.min(1, Math.max(0, -Math.log10(p) / 4));
            })
          : Float64Array.from(calibrated, (a, i) => Math.max(a, w * zc[i]!));
    }
    const scores = v.record
      ? recordScores(calibrated, probationary, Math.round(v.suppressFraction * probationary))
      : reportedScores(
          calibrated,
          probationary,
          Math.round(v.suppressFraction * probationary),
          v.suppressFactor,
          v.suppressLevel ?? 0.5,
        );
    return {
      name: c.file,
      timestamps: series.get(c.file)!.timestamps,
      scores: Array.from(scores),
      windows: labels[c.file] ?? [],
    };
  });
  const e = evaluateNab(files, {});
  if (process.env['DETAIL'] !== undefined) {
    // Per file at the standard threshold: score, false detections, and for each window
    // where its first detection fell (0 = left edge, 1 = right edge, '-' = missed).
    const thr = e.profiles.standard.threshold;
    for (const [k, f] of files.entries()) {
      const fs_ = e.profiles.standard.files[k]!;
      const ts = f.timestamps;
      const wins = f.windows.map(([a, b]) => [
        Array.prototype.indexOf.call(ts, a) as number,
        Array.prototype.indexOf.call(ts, b) as number,
      ]);
      const det = f.scores.flatMap((x, i) => (x >= thr ? [i] : []));
      const pos = wins.map(([a, b]) => {
        const d = det.find((i) => i >= a! && i <= b!);
        return d === undefined ? '-' : ((d - a!) / (b! - a!)).toFixed(2);
      });
      const fp = det.filter((i) => !wins.some(([a, b]) => i >= a! && i <= b!)).length;
      process.stdout.write(
        `  ${f.name.padEnd(60)} ${fs_.score.toFixed(3).padStart(7)} fp=${fp} windows=[${pos.join(' ')}]\n`,
      );
    }
  }
  if (process.env['DETAIL'] !== undefined && periods.size > 0) {
    process.stdout.write(`  periods ${JSON.stringify(Object.fromEntries(periods))}\n`);
  }
  return {
    name: v.name,
    standard: Number(e.profiles.standard.score.toFixed(2)),
    lowFP: Number(e.profiles.reward_low_FP_rate.score.toFixed(2)),
    lowFN: Number(e.profiles.reward_low_FN_rate.score.toFixed(2)),
    threshold: Number(e.profiles.standard.threshold.toFixed(4)),
  };
}

const variants: Variant[] = [];
const thresholds: Record<string, ThresholdOptions> = {
  spot: { method: 'spot', q: 1e-3, initQuantile: 0.98 },
  spot2: { method: 'spot', q: 1e-2, initQuantile: 0.9 },
  dspot: { method: 'dspot', q: 1e-3, initQuantile: 0.98 },
  rolling: { method: 'rolling' },
  telemanom: { method: 'telemanom' },
};
const extra = process.env['SWEEP'] ?? 'methods';
if (process.env['VARIANTS'] !== undefined) {
  // A JSON list of partial variants over the configured NAB settings.
  const base: Variant = {
    name: '',
    reduction: config.reduction === 'window' ? 'windowMean' : 'lastStep',
    smoothingSpan: config.smoothingSpan,
    threshold: config.threshold,
    suppressFraction: config.suppressFraction,
    suppressFactor: config.suppressFactor,
    suppressLevel: config.suppressLevel,
    calib: config.calibration === 'rank' ? 'ecdf' : 'spot',
    margin: config.rankMargin,
    guard: config.rankGuard,
    seasonal: config.seasonal,
    sustained: config.sustained,
    quiet: config.quiet,
    lik:
      config.likelihood === null
        ? null
        : {
            input: 'log',
            short: config.likelihood.shortWindow,
            long: config.likelihood.longWindow,
            minStd: config.likelihood.minStd,
            decades: config.likelihood.decades,
            mode: 'max',
          },
  };
  for (const partial of JSON.parse(process.env['VARIANTS']) as Partial<Variant>[]) {
    variants.push({ ...base, ...partial, name: JSON.stringify(partial) });
  }
} else if (extra === 'methods') {
  for (const [name, threshold] of Object.entries(thresholds)) {
    for (const reduction of ['windowMean', 'lastStep'] as const) {
      variants.push({
        name: `${name} ${reduction} supp0.5x0`,
        reduction,
        smoothingSpan: 1,
        threshold,
        suppressFraction: 0.5,
        suppressFactor: 0,
      });
    }
  }
} else {
  for (const reduction of ['lastStep', 'tail'] as const) {
    for (const smoothingSpan of [1, 3]) {
      for (const suppressFraction of [0, 0.25, 0.5, 1]) {
        for (const suppressFactor of [0, 0.5]) {
          for (const t of extra.split(',')) {
            variants.push({
              name: `${t} ${reduction} span${smoothingSpan} supp${suppressFraction}x${suppressFactor}`,
              reduction,
              tail: 4,
              smoothingSpan,
              threshold: thresholds[t]!,
              suppressFraction,
              suppressFactor,
            });
          }
        }
      }
    }
  }
}
for (const v of variants) process.stdout.write(`${JSON.stringify(run(v))}\n`);
