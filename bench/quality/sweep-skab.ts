/**
 * Tuning aid for the SKAB configuration, like sweep-nab.ts: scores every
 * labelled file once (cached as JSON), then tries threshold settings and
 * prediction holds on the cached scores and prints each one's SKAB metrics.
 * The model sees what the backtest gives it (smooth channels differenced as
 * configured); changepoints come from `changepoints` (overridable per variant).
 *
 *   node --import tsx bench/quality/sweep-skab.ts [--benchmarks ../shared/benchmarks]
 *     [--cache /tmp/skab-scores.json] [--config <file>]   (VARIANTS='[{...}]')
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readBacktestConfig } from '../../src/cli/backtest/backtest-config.ts';
import { judgeScores, scoreSeries } from '../../src/cli/backtest/replay.ts';
import { differenced, holdPredictions, smoothChannels } from '../../src/cli/backtest/skab.ts';
import {
  changepointFlags,
  changesOf,
  type SkabChangepointConfig,
} from '../../src/cli/backtest/skab-changepoints.ts';
import { listSkabFiles, readSkabCsv, SKAB_FIT_ROWS } from '../../src/cli/benchmark-files.ts';
import { evaluateSkab } from '../../src/detector/evaluation/evaluate-skab.ts';
import type { ThresholdOptions } from '../../src/detector/thresholds/threshold.ts';
import { initBackend } from '../../src/model/backend.ts';
import { windowsFromSeries } from '../../src/model/windows.ts';

const { values: args } = parseArgs({
  options: {
    benchmarks: { type: 'string', default: path.join('..', 'shared', 'benchmarks') },
    cache: { type: 'string', default: '/tmp/tsad-skab-scores.json' },
    config: { type: 'string' },
    /** Further caches (comma-separated) whose window scores are averaged in, each over its fit median. */
    also: { type: 'string' },
  },
});
const dataDir = path.join(args.benchmarks as string, 'skab', 'data');
const config = readBacktestConfig(args.config).skab;

interface Cached {
  file: string;
  fitWindows: number;
  windowMean: number[];
  lastStep: number[];
  perChannel: number[];
}

function sorted<T extends { channels: readonly string[]; values: number[][] }>(s: T) {
  const order = s.channels
    .map((name, i) => ({ name, i }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const flat = new Float32Array(s.values.length * order.length);
  s.values.forEach((row, r) => {
    order.forEach((o, k) => {
      flat[r * order.length + k] = row[o.i]!;
    });
  });
  return { channels: order.map((o) => o.name), flat };
}

let cached: Cached[];
if (fs.existsSync(args.cache as string)) {
  cached = JSON.parse(fs.readFileSync(args.cache as string, 'utf8'));
} else {
  await initBackend();
  const free = sorted(readSkabCsv(path.join(dataDir, 'anomaly-free', 'anomaly-free.csv')));
  cached = [];
  const started = Date.now();
  for (const file of listSkabFiles(dataDir)) {
    const s = readSkabCsv(path.join(dataDir, file));
    const { channels, flat } = sorted(s);
    const smooth =
      config.differenceAbove === null
        ? channels.map(() => false)
        : smoothChannels(flat, channels.length, SKAB_FIT_ROWS, config.differenceAbove);
    const scored = await scoreSeries(
      {
        values: differenced(flat, channels.length, smooth),
        timestamps: s.timestamps,
        channels,
        fitRows: SKAB_FIT_ROWS,
        extraTrainingWindows: config.useAnomalyFree
          ? windowsFromSeries(
              differenced(free.flat, 8, smooth),
              8,
              config.model.windowSize,
              config.anomalyFreeStride,
            )
          : [],
      },
      config,
    );
    cached.push({
      file,
      fitWindows: scored.fitWindows,
      windowMean: Array.from(scored.windowMean),
      lastStep: Array.from(scored.lastStep),
      perChannel: Array.from(scored.perChannel),
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

/** Window-mean scores divided by their median over the fitting windows. */
function normalised(c: Cached): Float64Array {
  const raw = Float64Array.from(c.windowMean, (x) => (x === null ? Number.NaN : x));
  const fit = Array.from(raw)
    .filter((x) => !Number.isNaN(x))
    .slice(0, c.fitWindows)
    .sort((a, b) => a - b);
  const median = Math.max(fit[Math.floor(fit.length / 2)] ?? 1, 1e-12);
  return raw.map((x) => x / median);
}
const data = new Map(cached.map((c) => [c.file, readSkabCsv(path.join(dataDir, c.file))]));

interface Variant {
  reduction: 'windowMean' | 'lastStep';
  smoothingSpan: number;
  threshold: ThresholdOptions;
  holdRows: number;
  /**
   * Channel combination: `mean` (the window's score), or each channel's error
   * divided by its median over the fitting windows, then max / mean / top-2 mean.
   */
  channels?: 'mean' | 'normMax' | 'normMean' | 'normTop2';
  /** Overrides of the changepoint settings (`{ source: 'flags' }` for SKAB's derivation). */
  changepoints?: Partial<SkabChangepointConfig>;
}

/** Row scores from per-channel errors normalised by their fitting-window median. */
function channelScores(c: Cached, how: 'normMax' | 'normMean' | 'normTop2'): Float64Array {
  const k = 8;
  const rows = c.windowMean.length;
  const fitRows: number[] = [];
  for (let r = 0; r < rows && fitRows.length < c.fitWindows; r++) {
    if (c.windowMean[r] !== null && !Number.isNaN(c.windowMean[r]!)) fitRows.push(r);
  }
  const scale = Array.from({ length: k }, (_, ch) => {
    const xs = fitRows.map((r) => c.perChannel[r * k + ch]!).sort((a, b) => a - b);
    return Math.max(xs[Math.floor(xs.length / 2)] ?? 1, 1e-9);
  });
  const out = new Float64Array(rows).fill(Number.NaN);
  for (let r = 0; r < rows; r++) {
    const v = c.perChannel[r * k];
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    const xs = scale.map((s, ch) => c.perChannel[r * k + ch]! / s).sort((a, b) => b - a);
    out[r] =
      how === 'normMax'
        ? xs[0]!
        : how === 'normTop2'
          ? (xs[0]! + xs[1]!) / 2
          : xs.reduce((a, b) => a + b, 0) / k;
  }
  return out;
}
const base: Variant = {
  reduction: config.reduction === 'window' ? 'windowMean' : 'lastStep',
  smoothingSpan: config.smoothingSpan,
  threshold: config.threshold,
  holdRows: config.holdRows,
};
const partials = JSON.parse(process.env['VARIANTS'] ?? '[{}]') as Partial<Variant>[];
for (const partial of partials) {
  const v = { ...base, ...partial };
  const parts = cached.map((c) => {
    const raw =
      v.channels !== undefined && v.channels !== 'mean'
        ? channelScores(c, v.channels)
        : Float64Array.from(v.reduction === 'windowMean' ? c.windowMean : c.lastStep, (x) =>
            x === null ? Number.NaN : x,
          );
    let scoresIn = raw;
    if (others.length > 0) {
      // Ensemble of window lengths: mean of each model's median-normalised window score;
      // rows before the longest window are NaN.
      const all = [normalised(c), ...others.map((o) => normalised(o.get(c.file)!))];
      scoresIn = Float64Array.from(
        all[0]!,
        (_, i) => all.reduce((a, s) => a + s[i]!, 0) / all.length,
      );
    }
    const fitW =
      others.length > 0
        ? Math.min(c.fitWindows, ...others.map((o) => o.get(c.file)!.fitWindows))
        : c.fitWindows;
    const judged = judgeScores(scoresIn, fitW, v);
    const d = data.get(c.file)!;
    const predicted = holdPredictions(judged.anomalous, v.holdRows).subarray(SKAB_FIT_ROWS);
    const cpConfig = { ...config.changepoints, ...v.changepoints };
    const cp = changesOf(
      changepointFlags(
        {
          values: sorted(d).flat,
          channels: 8,
          fitRows: SKAB_FIT_ROWS,
          flags: holdPredictions(judged.anomalous, v.holdRows),
        },
        cpConfig,
      ).subarray(SKAB_FIT_ROWS),
    );
    return {
      name: c.file,
      timestamps: d.timestamps.slice(SKAB_FIT_ROWS),
      trueAnomaly: d.anomaly.subarray(SKAB_FIT_ROWS),
      trueChangepoint: d.changepoint.subarray(SKAB_FIT_ROWS),
      predictedAnomaly: predicted,
      predictedChangepoint: cp,
    };
  });
  const e = evaluateSkab(parts);
  process.stdout.write(
    `${JSON.stringify({ variant: partial, F1: e.F1, FAR: e.FAR, MAR: e.MAR, cp: e.changepoint.Standard })}\n`,
  );
}
