/**
 * Detection-quality benchmark: backtests NAB and SKAB's development split
 * with tsad's one configuration per benchmark, scores both with the
 * benchmarks' own rules and prints one JSON summary with the wall time of
 * each backtest and the machine's load.
 *
 *   node --import tsx bench/quality/run.ts [--benchmarks ../shared/benchmarks]
 *     [--out <dir>] [--config <file>] [--only nab|skab]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readBacktestConfig } from '../../src/cli/backtest/backtest-config.ts';
import { NAB_DETECTOR, runNabBacktest } from '../../src/cli/backtest/nab.ts';
import { runSkabBacktest } from '../../src/cli/backtest/skab.ts';
import { evaluateNabResults, evaluateSkabResults } from '../../src/cli/commands/evaluate.ts';
import { initBackend } from '../../src/model/backend.ts';

const { values: args } = parseArgs({
  options: {
    benchmarks: { type: 'string', default: path.join('..', 'shared', 'benchmarks') },
    out: { type: 'string' },
    config: { type: 'string' },
    only: { type: 'string' },
  },
});
const root = args.benchmarks as string;
const out = args.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tsad-quality-'));
const configs = readBacktestConfig(args.config);
const backend = await initBackend();
const summary: Record<string, unknown> = {
  date: new Date().toISOString(),
  backend: backend.backend,
  cpus: os.cpus().length,
  // The trained models (and so the scores) depend on the CPU's floating-point
  // kernels: the same code and seeds scored NAB 73.41 on an Intel Xeon and
  // 71.05 on an AMD EPYC (docs/evaluation.md).
  cpuModel: os.cpus()[0]?.model ?? null,
  loadAverageAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  out,
  config: configs,
};

if (args.only === undefined || args.only === 'nab') {
  const started = Date.now();
  const files = await runNabBacktest({
    input: path.join(root, 'nab', 'data'),
    out: path.join(out, 'nab'),
    config: configs.nab,
    progress: true,
  });
  const seconds = (Date.now() - started) / 1000;
  const report = await evaluateNabResults({
    resultsDir: path.join(out, 'nab', NAB_DETECTOR),
    labelsFile: path.join(root, 'nab', 'labels', 'combined_windows.json'),
  });
  summary['nab'] = {
    files: files.length,
    rows: files.reduce((n, f) => n + f.rows, 0),
    backtestSeconds: seconds,
    loadAverageAfter: os.loadavg().map((x) => Number(x.toFixed(2))),
    scores: Object.fromEntries(
      Object.entries(report.profiles).map(([name, p]) => [
        name,
        { score: Number(p.score.toFixed(2)), threshold: p.threshold, counts: p.counts },
      ]),
    ),
  };
}

if (args.only === undefined || args.only === 'skab') {
  const started = Date.now();
  const files = await runSkabBacktest({
    input: path.join(root, 'skab', 'data'),
    out: path.join(out, 'skab'),
    config: configs.skab,
    progress: true,
  });
  const seconds = (Date.now() - started) / 1000;
  const report = await evaluateSkabResults({
    resultsDir: path.join(out, 'skab'),
    dataDir: path.join(root, 'skab', 'data'),
  });
  summary['skab'] = {
    files: files.length,
    rows: files.reduce((n, f) => n + f.rows, 0),
    backtestSeconds: seconds,
    loadAverageAfter: os.loadavg().map((x) => Number(x.toFixed(2))),
    F1: report.F1,
    FAR: report.FAR,
    MAR: report.MAR,
    counts: report.counts,
    changepoint: report.changepoint,
  };
}

process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
