/**
 * Tuning aid for the NAB configuration: scores every file of the development
 * split once with a model configuration (cached as JSON), then tries the
 * post-model settings (score reduction, smoothing, threshold method,
 * onset suppression) on the cached scores and prints each one's NAB scores.
 * The model is the expensive part; everything after it takes seconds.
 *
 *   node --import tsx bench/quality/sweep-nab.ts [--benchmarks ../shared/benchmarks]
 *     [--cache /tmp/nab-scores.json] [--config <file>]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readBacktestConfig } from '../../src/cli/backtest/backtest-config.ts';
import { nabProbationaryRows, reportedScores } from '../../src/cli/backtest/nab.ts';
import { judgeScores, scoreSeries } from '../../src/cli/backtest/replay.ts';
import { listNabDataFiles, readNabDataCsv, readNabLabels } from '../../src/cli/benchmark-files.ts';
import { evaluateNab } from '../../src/detector/evaluation/evaluate-nab.ts';
import type { ThresholdOptions } from '../../src/detector/thresholds/threshold.ts';
import { initBackend } from '../../src/model/backend.ts';

const { values: args } = parseArgs({
  options: {
    benchmarks: { type: 'string', default: path.join('..', 'shared', 'benchmarks') },
    cache: { type: 'string', default: '/tmp/tsad-nab-scores.json' },
    config: { type: 'string' },
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
    const scored = await scoreSeries(
      {
        values: Float32Array.from(series.values),
        timestamps: series.timestamps,
        channels: ['value'],
        fitRows: nabProbationaryRows(series.values.length),
      },
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
const series = new Map(
  cached.map((c) => [c.file, readNabDataCsv(path.join(dataDir, c.file)).timestamps]),
);

interface Variant {
  name: string;
  reduction: 'windowMean' | 'lastStep' | 'tail';
  tail?: number;
  smoothingSpan: number;
  threshold: ThresholdOptions;
  suppressFraction: number;
  suppressFactor: number;
  suppressLevel?: number;
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

function run(v: Variant) {
  const files = cached.map((c) => {
    const judged = judgeScores(rawOf(c, v), c.fitWindows, v);
    const probationary = nabProbationaryRows(c.windowMean.length);
    const scores = reportedScores(
      judged.calibrated,
      probationary,
      Math.round(v.suppressFraction * probationary),
      v.suppressFactor,
      v.suppressLevel ?? 0.5,
    );
    return {
      name: c.file,
      timestamps: series.get(c.file)!,
      scores: Array.from(scores),
      windows: labels[c.file] ?? [],
    };
  });
  const e = evaluateNab(files, {});
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
