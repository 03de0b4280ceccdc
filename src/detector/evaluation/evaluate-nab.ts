/**
 * Scoring of the Numenta Anomaly Benchmark (NAB v1.1), reproducing NAB's own
 * sweeper (numenta/NAB `nab/sweeper.py`) rule for rule and float operation for
 * float operation, so that a detector's numbers here are the numbers NAB's
 * scorer would print: probationary rows are ignored, the first detection in a
 * window earns a scaled-sigmoid reward, detections outside windows cost a
 * penalty that depends on the distance to the previous window, and one
 * threshold per profile is chosen by an exhaustive sweep over every distinct
 * anomaly score.
 *
 * Pure code: timestamps arrive as epoch milliseconds, files are read elsewhere.
 */
import { TsadError } from '../../errors.ts';

/** Weights of one NAB application profile. */
export interface NabCostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

/** NAB's three application profiles (config/profiles.json of NAB v1.1). */
export const NAB_PROFILES = {
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 },
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0 },
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0 },
} as const satisfies Record<string, NabCostMatrix>;

export type NabProfileName = keyof typeof NAB_PROFILES;

/** The profile names in NAB's order. */
export const NAB_PROFILE_NAMES = Object.keys(NAB_PROFILES) as NabProfileName[];

/** Fraction of each file (at most 750 rows) that NAB leaves unscored. */
export const NAB_PROBATIONARY_FRACTION = 0.15;

/**
 * The threshold that stands for "nothing detected" in a sweep. NAB starts its
 * sweep at 1.1 because anomaly scores live in [0, 1]; keeping the same number
 * keeps the sweep table identical to NAB's.
 */
export const NAB_NOTHING_DETECTED_THRESHOLD = 1.1;

/**
 * Number of leading rows of a file that NAB does not score. NAB computes
 * `min(floor(0.15 * rows), 0.15 * 5000)` in floating point; the same
 * expression is kept so that borderline row counts agree.
 */
export function nabProbationaryLength(rows: number, fraction = NAB_PROBATIONARY_FRACTION): number {
  return Math.min(Math.floor(fraction * rows), fraction * 5000);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * NAB's scaled sigmoid `2 * sigmoid(-5 y) - 1`, clamped to -1 beyond 3. At a
 * window's left edge (y = -1) it is about 0.9866, at its right edge 0, and it
 * tends to -1 for false positives far behind a window.
 */
export function nabScaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3.0) return -1.0;
  return 2 * sigmoid(-5 * relativePosition) - 1.0;
}

const MAX_TP = nabScaledSigmoid(-1.0);

/** One file as the scorer needs it: row timestamps, anomaly scores, label windows. */
export interface NabFile {
  /** Relative data path, e.g. `realKnownCause/nyc_taxi.csv` (names the windows). */
  readonly name: string;
  /** Epoch milliseconds of every row, in file order. */
  readonly timestamps: ArrayLike<number>;
  /** The detector's anomaly score of every row, in [0, 1]. */
  readonly scores: ArrayLike<number>;
  /** Label windows as inclusive `[start, end]` epoch milliseconds, in time order. */
  readonly windows: ReadonlyArray<readonly [number, number]>;
}

/**
 * Per-row facts that do not depend on the threshold or the profile: whether
 * the row is probationary, which window holds it, and its unweighted sweep
 * score (the scaled sigmoid NAB would credit or charge for a detection there).
 */
export interface NabRowLabels {
  readonly probationaryLength: number;
  /** Index into the file's windows, or -1 outside every window. */
  readonly window: Int32Array;
  /** Scaled-sigmoid value of a detection at this row, before profile weights. */
  readonly unweighted: Float64Array;
}

/**
 * Labels every row of a file the way NAB's `calcSweepScore` does: a window is
 * entered on the row whose timestamp equals its start and left after the row
 * that equals its end; inside it a detection at row `i` is worth
 * `ss(-(right - i + 1) / width)`, outside it `ss((i - prevRight) / (prevWidth - 1))`
 * after a window and `-1` before the first one. Throws TSAD_ERR_INPUT_INVALID
 * when a window bound is not a timestamp of the file or windows overlap, since
 * NAB would then silently skip the window and every later one.
 */
export function labelNabRows(
  name: string,
  timestamps: ArrayLike<number>,
  windows: ReadonlyArray<readonly [number, number]>,
): NabRowLabels {
  const n = timestamps.length;
  const firstIndex = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t = timestamps[i] as number;
    if (!firstIndex.has(t)) firstIndex.set(t, i);
  }
  const bounds = windows.map(([start, end], k) => {
    const left = firstIndex.get(start);
    const right = firstIndex.get(end);
    if (left === undefined || right === undefined) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `${name}: label window ${k} [${new Date(start).toISOString()}, ${new Date(end).toISOString()}] ` +
          'does not start and end on timestamps of the file',
      );
    }
    if (right < left) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `${name}: label window ${k} ends before it starts`,
      );
    }
    return { left, right };
  });
  for (let k = 1; k < bounds.length; k++) {
    if ((bounds[k] as { left: number }).left <= (bounds[k - 1] as { right: number }).right) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `${name}: label windows ${k - 1} and ${k} overlap or are out of order`,
      );
    }
  }

  const window = new Int32Array(n).fill(-1);
  const unweighted = new Float64Array(n);
  let next = 0;
  let current = -1;
  let currentRight = 0;
  let currentWidth = 0;
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < n; i++) {
    const nextBounds = bounds[next];
    if (current < 0 && nextBounds !== undefined && i === nextBounds.left) {
      current = next;
      next += 1;
      currentRight = nextBounds.right;
      currentWidth = nextBounds.right - nextBounds.left + 1;
    }
    if (current >= 0) {
      window[i] = current;
      unweighted[i] = nabScaledSigmoid(-(currentRight - i + 1) / currentWidth);
      if (i === currentRight) {
        prevRight = i;
        prevWidth = currentWidth;
        current = -1;
      }
    } else if (prevRight < 0) {
      unweighted[i] = -1.0;
    } else {
      // NAB divides by zero after a one-row window; an infinitely distant
      // false positive (the full -fpWeight) is the limit it stands for.
      const distance = prevWidth > 1 ? Math.abs(prevRight - i) / (prevWidth - 1) : Infinity;
      unweighted[i] = nabScaledSigmoid(distance);
    }
  }
  return { probationaryLength: nabProbationaryLength(n), window, unweighted };
}

/** One row of a threshold sweep: the total score and counts when `score >= threshold` detects. */
export interface NabThresholdScore {
  readonly threshold: number;
  readonly score: number;
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
}

interface CorpusFile {
  readonly name: string;
  readonly rows: number;
  readonly probationaryLength: number;
  readonly windows: number;
  /** The file's scorable rows in sweep order (indices into the corpus arrays). */
  readonly order: Uint32Array;
}

/**
 * Every file's scorable (non-probationary) rows, labelled once and sorted once
 * by descending anomaly score, so that each profile's sweep and each per-file
 * score is one linear pass. Build it with `prepareNabCorpus`.
 */
export interface NabCorpus {
  readonly files: readonly CorpusFile[];
  readonly score: Float64Array;
  readonly unweighted: Float64Array;
  /** Corpus-wide window id of each scorable row, or -1 outside windows. */
  readonly window: Int32Array;
  /** Number of label windows over all files (probationary ones included). */
  readonly windowCount: number;
  /** All scorable rows by descending score; ties keep file and row order, as Python's stable sort does. */
  readonly order: Uint32Array;
}

/**
 * Labels and sorts a set of files for scoring. Throws TSAD_ERR_INPUT_INVALID
 * when a file's timestamps and scores differ in length, or a score is not a
 * finite number.
 */
export function prepareNabCorpus(files: readonly NabFile[]): NabCorpus {
  let scorable = 0;
  const labelled = files.map((file) => {
    if (file.timestamps.length !== file.scores.length) {
      throw new TsadError(
        'TSAD_ERR_INPUT_INVALID',
        `${file.name}: ${file.timestamps.length} timestamps but ${file.scores.length} scores`,
      );
    }
    const labels = labelNabRows(file.name, file.timestamps, file.windows);
    scorable += Math.max(0, file.timestamps.length - Math.ceil(labels.probationaryLength));
    return labels;
  });

  const score = new Float64Array(scorable);
  const unweighted = new Float64Array(scorable);
  const window = new Int32Array(scorable);
  const fileOf = new Int32Array(scorable);
  let windowBase = 0;
  let row = 0;
  files.forEach((file, f) => {
    const labels = labelled[f] as NabRowLabels;
    for (let i = 0; i < file.scores.length; i++) {
      if (i < labels.probationaryLength) continue;
      const s = file.scores[i] as number;
      if (!Number.isFinite(s)) {
        throw new TsadError(
          'TSAD_ERR_INPUT_INVALID',
          `${file.name}: row ${i} has anomaly score ${s}`,
        );
      }
      score[row] = s;
      unweighted[row] = labels.unweighted[i] as number;
      const w = labels.window[i] as number;
      window[row] = w < 0 ? -1 : windowBase + w;
      fileOf[row] = f;
      row += 1;
    }
    windowBase += file.windows.length;
  });

  const order = new Uint32Array(scorable);
  for (let i = 0; i < scorable; i++) order[i] = i;
  order.sort((a, b) => (score[b] as number) - (score[a] as number) || a - b);

  const perFile = files.map(() => [] as number[]);
  for (const r of order) (perFile[fileOf[r] as number] as number[]).push(r);
  const corpusFiles = files.map((file, f) => ({
    name: file.name,
    rows: file.timestamps.length,
    probationaryLength: (labelled[f] as NabRowLabels).probationaryLength,
    windows: file.windows.length,
    order: Uint32Array.from(perFile[f] as number[]),
  }));
  return { files: corpusFiles, score, unweighted, window, windowCount: windowBase, order };
}

/**
 * State of one sweep: NAB's `scoreParts` (the false-positive sum plus the best
 * credit of each window, in the order windows first appear in the sorted
 * rows, which is the order Python's dict sums them in) and the row counts.
 */
class SweepState {
  private readonly best: Float64Array;
  private readonly windows: number[] = [];
  private fpSum = 0;
  tp = 0;
  tn = 0;
  fp = 0;
  fn = 0;

  constructor(
    private readonly corpus: NabCorpus,
    private readonly cost: NabCostMatrix,
    rows: Uint32Array,
  ) {
    this.best = new Float64Array(corpus.windowCount);
    const seen = new Uint8Array(corpus.windowCount);
    for (const r of rows) {
      const w = corpus.window[r] as number;
      if (w < 0) {
        this.tn += 1;
        continue;
      }
      this.fn += 1;
      if (seen[w] === 0) {
        seen[w] = 1;
        this.windows.push(w);
        this.best[w] = -cost.fnWeight;
      }
    }
  }

  /** Counts row `r` as a detection. */
  detect(r: number): void {
    const w = this.corpus.window[r] as number;
    const u = this.corpus.unweighted[r] as number;
    if (w < 0) {
      this.fp += 1;
      this.tn -= 1;
      this.fpSum += u * this.cost.fpWeight;
    } else {
      this.tp += 1;
      this.fn -= 1;
      const credit = (u * this.cost.tpWeight) / MAX_TP;
      if (credit > (this.best[w] as number)) this.best[w] = credit;
    }
  }

  /** The total score, summed in NAB's order (false positives first, then windows). */
  total(): number {
    let sum = this.fpSum;
    for (const w of this.windows) sum += this.best[w] as number;
    return sum;
  }

  snapshot(threshold: number): NabThresholdScore {
    return { threshold, score: this.total(), tp: this.tp, tn: this.tn, fp: this.fp, fn: this.fn };
  }
}

/**
 * NAB's `calcScoreByThreshold` over a set of sorted rows: the score and counts
 * for "nothing detected" (threshold 1.1) and then for every distinct anomaly
 * score from the highest down, each row meaning "every row with a score at
 * least this high is a detection".
 */
function sweepRows(corpus: NabCorpus, cost: NabCostMatrix, rows: Uint32Array): NabThresholdScore[] {
  const state = new SweepState(corpus, cost, rows);
  const table: NabThresholdScore[] = [];
  let current = NAB_NOTHING_DETECTED_THRESHOLD;
  for (const r of rows) {
    const s = corpus.score[r] as number;
    if (s !== current) {
      table.push(state.snapshot(current));
      current = s;
    }
    state.detect(r);
  }
  table.push(state.snapshot(current));
  return table;
}

/**
 * The full threshold sweep of one profile over the whole corpus, highest
 * threshold first, as NAB's optimiser computes it.
 */
export function sweepNabThresholds(corpus: NabCorpus, cost: NabCostMatrix): NabThresholdScore[] {
  return sweepRows(corpus, cost, corpus.order);
}

/**
 * The best row of a sweep. Like Python's `max`, the first maximum wins, so
 * among equal scores the highest threshold (fewest detections) is chosen.
 */
export function bestNabThreshold(sweep: readonly NabThresholdScore[]): NabThresholdScore {
  let best = sweep[0];
  if (best === undefined) {
    throw new TsadError('TSAD_ERR_INTERNAL', 'a NAB sweep always has the nothing-detected row');
  }
  for (const row of sweep) if (row.score > best.score) best = row;
  return best;
}

/** One file's result at one threshold. */
export interface NabFileScore {
  readonly name: string;
  readonly score: number;
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
  readonly rows: number;
  readonly probationaryRows: number;
  readonly windows: number;
}

/**
 * Scores every file at one threshold, as NAB's `scoreDataSet` does: the state
 * after every row with `score >= threshold` is detected. (NAB returns nothing
 * when the threshold lies below all of a file's scores; here every row then
 * counts as a detection, which is what `>=` means.)
 */
export function scoreNabFiles(
  corpus: NabCorpus,
  cost: NabCostMatrix,
  threshold: number,
): NabFileScore[] {
  return corpus.files.map((file) => {
    const state = new SweepState(corpus, cost, file.order);
    for (const r of file.order) {
      if ((corpus.score[r] as number) < threshold) break;
      state.detect(r);
    }
    return {
      name: file.name,
      score: state.total(),
      tp: state.tp,
      tn: state.tn,
      fp: state.fp,
      fn: state.fn,
      rows: file.rows,
      probationaryRows: Math.ceil(file.probationaryLength),
      windows: file.windows,
    };
  });
}

/** NAB's normalisation: 100 for a perfect detector, 0 for one that detects nothing. */
export function normaliseNabScore(raw: number, windows: number, cost: NabCostMatrix): number {
  const perfect = windows * cost.tpWeight;
  const nothing = -windows * cost.fnWeight;
  return (100 * (raw - nothing)) / (perfect - nothing);
}

/** A profile's result over the corpus. */
export interface NabProfileResult {
  /** Normalised score (100 perfect, 0 nothing detected). */
  readonly score: number;
  /** Sum of the per-file raw scores. */
  readonly rawScore: number;
  readonly threshold: number;
  /** `optimised` when chosen by the sweep, `fixed` when given by the caller. */
  readonly thresholdSource: 'optimised' | 'fixed';
  readonly nullScore: number;
  readonly perfectScore: number;
  readonly counts: { tp: number; tn: number; fp: number; fn: number };
  readonly files: readonly NabFileScore[];
}

export interface NabEvaluation {
  readonly files: number;
  readonly windows: number;
  readonly profiles: Record<NabProfileName, NabProfileResult>;
}

export interface EvaluateNabOptions {
  /** Score at this threshold instead of optimising one per profile. */
  readonly threshold?: number;
}

/**
 * Scores a detector on a set of NAB files for all three profiles: for each,
 * the threshold that maximises the corpus score (or the given one), the
 * per-file raw scores and counts at it, and the normalised score. The
 * normalisation counts the windows of the given files only, so a subset of
 * the corpus is scored on its own terms.
 */
export function evaluateNab(
  files: readonly NabFile[],
  options: EvaluateNabOptions = {},
): NabEvaluation {
  const corpus = prepareNabCorpus(files);
  const profiles = {} as Record<NabProfileName, NabProfileResult>;
  for (const name of NAB_PROFILE_NAMES) {
    const cost = NAB_PROFILES[name];
    const threshold =
      options.threshold ?? bestNabThreshold(sweepNabThresholds(corpus, cost)).threshold;
    const perFile = scoreNabFiles(corpus, cost, threshold);
    let rawScore = 0;
    const counts = { tp: 0, tn: 0, fp: 0, fn: 0 };
    for (const file of perFile) {
      rawScore += file.score;
      counts.tp += file.tp;
      counts.tn += file.tn;
      counts.fp += file.fp;
      counts.fn += file.fn;
    }
    profiles[name] = {
      score: normaliseNabScore(rawScore, corpus.windowCount, cost),
      rawScore,
      threshold,
      thresholdSource: options.threshold === undefined ? 'optimised' : 'fixed',
      nullScore: -corpus.windowCount * cost.fnWeight,
      perfectScore: corpus.windowCount * cost.tpWeight,
      counts,
      files: perFile,
    };
  }
  return { files: files.length, windows: corpus.windowCount, profiles };
}
