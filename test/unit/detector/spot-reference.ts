/**
 * The SPOT and DSPOT implementation as it was before the memory work of
 * 2026-11-28 (float64 buffers, closures), kept verbatim as the reference the
 * behaviour-preserving tests compare the compact implementation against.
 * Test code only.
 */

import { calibrateLinear, calibrateRatio } from '../../../src/detector/thresholds/calibration.ts';
import {
  fitTail,
  type GpdFit,
  gpdLogTail,
  gpdQuantile,
} from '../../../src/detector/thresholds/gpd.ts';
import type {
  AdaptiveThreshold,
  DspotConfig,
  SpotConfig,
  ThresholdVerdict,
} from '../../../src/detector/thresholds/threshold.ts';

/** The empirical quantile of sorted values, linear interpolation (type 7). */
function sortedQuantile(sorted: Float64Array, level: number): number {
  const position = (sorted.length - 1) * level;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  const weight = position - below;
  return sorted[below]! * (1 - weight) + sorted[above]! * weight;
}

/** The SPOT model on a stream of values (raw scores for SPOT, deviations for DSPOT). */
/**
 * Buffers start small and double up to their configured size, and the
 * initial batch is freed once the tail is fitted: most sensors of a large
 * fleet hold a few dozen peaks, and 100,000 sensors at the full 16 KB each
 * would not fit the daemon's memory budget (docs/thresholds.md).
 */
const FIRST_CAPACITY = 32;

function grown(buffer: Float64Array, limit: number): Float64Array {
  const next = new Float64Array(Math.min(limit, Math.max(FIRST_CAPACITY, buffer.length * 2)));
  next.set(buffer);
  return next;
}

class SpotCore {
  private initBatch: Float64Array = new Float64Array(0);
  private peaks: Float64Array = new Float64Array(0);
  /** Per peak, the excess it had to stay under to be learnt (z − t then); +∞ for the initial batch. */
  private limits: Float64Array = new Float64Array(0);
  private initCount = 0;
  private peakHead = 0;
  private peakCount = 0;
  /** Scores counted (n) and peaks counted (N_t) since the initial batch; not capped by the ring. */
  private n = 0;
  private nPeaks = 0;
  private t = 0;
  private median = 0;
  private fit: GpdFit | null = null;
  /** Peaks learnt since the tail was last fitted. */
  private peaksSinceFit = 0;
  private z = Number.POSITIVE_INFINITY;

  constructor(private readonly config: Omit<SpotConfig, 'method'>) {}

  get ready(): boolean {
    return this.initCount >= this.config.nInit;
  }

  get threshold(): number {
    return this.z;
  }

  get baseline(): number {
    return this.median;
  }

  /** Adds a warm-up value; fits the first model once the batch is complete. */
  addInitial(value: number): void {
    if (this.initCount === this.initBatch.length) {
      this.initBatch = grown(this.initBatch, this.config.nInit);
    }
    this.initBatch[this.initCount++] = value;
    if (this.ready) this.initialise();
  }

  private initialise(): void {
    const sorted = Float64Array.from(this.initBatch).sort();
    this.t = sortedQuantile(sorted, this.config.initQuantile);
    this.median = sortedQuantile(sorted, 0.5);
    this.n = sorted.length;
    this.nPeaks = 0;
    this.peakHead = 0;
    this.peakCount = 0;
    for (const value of this.initBatch) {
      if (value > this.t) this.pushPeak(value - this.t, Number.POSITIVE_INFINITY);
    }
    this.initBatch = new Float64Array(0);
    this.refit();
  }

  /** Appends while the buffers grow to maxPeaks, then overwrites the oldest peak (a ring). */
  private pushPeak(excess: number, limit: number): void {
    const max = this.config.maxPeaks;
    if (this.peakCount < max && this.peakCount === this.peaks.length) {
      this.peaks = grown(this.peaks, max);
      this.limits = grown(this.limits, max);
    }
    this.peaks[this.peakHead] = excess;
    this.limits[this.peakHead] = limit;
    this.peakHead = (this.peakHead + 1) % max;
    this.peakCount = Math.min(this.peakCount + 1, max);
    this.nPeaks++;
  }

  /**
   * The spread used when there are no peaks to fit (a constant initial batch):
   * the gap between median and t, else a relative 1e-6 of the level, so that a
   * constant signal flags any clear rise but not rounding noise.
   */
  private fallbackFit(): GpdFit {
    return { xi: 0, sigma: Math.max(this.t - this.median, Math.abs(this.t) * 1e-6, 1e-12) };
  }

  private refit(): void {
    this.peaksSinceFit = 0;
    this.fit = fitTail(this.peaks, this.limits, this.peakCount, this.fit) ?? this.fallbackFit();
    this.updateZ();
  }

  private updateZ(): void {
    this.z = gpdQuantile(this.fit!, this.t, this.config.q, this.n, Math.max(1, this.nPeaks));
  }

  /** Learns a value judged normal (≤ z): a peak refits the tail, others only count. */
  learn(value: number): void {
    this.n++;
    if (value > this.t) {
      this.pushPeak(value - this.t, this.z - this.t);
      // One new peak among hundreds barely moves the fit: refit once 5% of the
      // peaks are new (every peak while there are fewer than 20). A fit of 500
      // peaks costs milliseconds; z itself follows n and N_t at every score.
      if (++this.peaksSinceFit >= Math.ceil(this.peakCount / 20)) this.refit();
      else this.updateZ();
    } else {
      this.updateZ();
    }
  }

  /**
   * Calibrated score: above t, r = ln P(X > v) / ln q from the fitted tail, so
   * r = 1 at z_q; below t, r falls linearly to 0 at the median. Mapped by
   * r / (1 + r): 0.5 at the threshold.
   */
  calibrate(value: number): number {
    const fit = this.fit!;
    const nPeaks = Math.max(1, this.nPeaks);
    const logQ = Math.log(this.config.q);
    const rAtT = Math.max(0, gpdLogTail(fit, this.t, this.t, this.n, nPeaks) / logQ);
    if (value <= this.t) {
      return calibrateRatio(rAtT * calibrateLinear(value, this.median, this.t));
    }
    return calibrateRatio(gpdLogTail(fit, this.t, value, this.n, nPeaks) / logQ);
  }

  /** Multiplies every learnt value by `scale` (a new model's score scale). */
  rescale(scale: number): void {
    for (let i = 0; i < this.initBatch.length; i++) this.initBatch[i]! *= scale;
    for (let i = 0; i < this.peaks.length; i++) {
      this.peaks[i]! *= scale;
      this.limits[i]! *= scale;
    }
    this.t *= scale;
    this.median *= scale;
    if (this.fit) this.fit = { xi: this.fit.xi, sigma: this.fit.sigma * scale };
    if (this.ready) this.updateZ();
  }

  /** Forgets everything and starts a new warm-up. */
  reset(): void {
    this.initBatch = new Float64Array(0);
    this.peaks = new Float64Array(0);
    this.limits = new Float64Array(0);
    this.initCount = 0;
    this.peakHead = 0;
    this.peakCount = 0;
    this.n = 0;
    this.nPeaks = 0;
    this.fit = null;
    this.z = Number.POSITIVE_INFINITY;
  }

  /** Bytes held now; at most 8·(nInit + 2·maxPeaks), and 8·2·maxPeaks after warm-up. */
  memoryBytes(): number {
    return this.initBatch.byteLength + this.peaks.byteLength + this.limits.byteLength;
  }
}

const WARMING_UP: ThresholdVerdict = Object.freeze({
  threshold: Number.POSITIVE_INFINITY,
  baseline: Number.POSITIVE_INFINITY,
  anomalous: false,
  calibratedScore: 0,
  warmingUp: true,
});

/** Creates a SPOT threshold (see the module comment). */
export function createReferenceSpot(config: SpotConfig): AdaptiveThreshold {
  const core = new SpotCore(config);
  return {
    method: 'spot',
    get ready() {
      return core.ready;
    },
    update(score) {
      if (!core.ready) {
        core.addInitial(score);
        return WARMING_UP;
      }
      const threshold = core.threshold;
      const verdict: ThresholdVerdict = {
        threshold,
        baseline: core.baseline,
        anomalous: score > threshold,
        calibratedScore: core.calibrate(score),
        warmingUp: false,
      };
      if (!verdict.anomalous) core.learn(score);
      return verdict;
    },
    calibrate(score) {
      return core.ready ? core.calibrate(score) : 0;
    },
    recalibrate(scale) {
      if (scale === undefined) core.reset();
      else core.rescale(scale);
    },
    memoryBytes() {
      return core.memoryBytes();
    },
  };
}

/** Creates a DSPOT threshold: SPOT on deviations from a moving average of normal scores. */
export function createReferenceDspot(config: DspotConfig): AdaptiveThreshold {
  const core = new SpotCore(config);
  const recent = new Float64Array(config.depth);
  let head = 0;
  let filled = 0;
  let sum = 0;

  const push = (score: number): void => {
    if (filled === recent.length) sum -= recent[head]!;
    else filled++;
    recent[head] = score;
    sum += score;
    head = (head + 1) % recent.length;
    // Re-add exactly once per lap so rounding errors of the running sum cannot pile up.
    if (head === 0) sum = recent.reduce((a, b) => a + b, 0);
  };
  const mean = (): number => sum / filled;

  return {
    method: 'dspot',
    get ready() {
      return core.ready;
    },
    update(score) {
      if (filled < recent.length) {
        push(score);
        return WARMING_UP;
      }
      const level = mean();
      const deviation = score - level;
      if (!core.ready) {
        core.addInitial(deviation);
        push(score);
        return WARMING_UP;
      }
      const threshold = level + core.threshold;
      const verdict: ThresholdVerdict = {
        threshold,
        baseline: level + core.baseline,
        anomalous: score > threshold,
        calibratedScore: core.calibrate(deviation),
        warmingUp: false,
      };
      if (!verdict.anomalous) {
        core.learn(deviation);
        push(score);
      }
      return verdict;
    },
    calibrate(score) {
      return core.ready ? core.calibrate(score - mean()) : 0;
    },
    recalibrate(scale) {
      if (scale === undefined) {
        core.reset();
        head = 0;
        filled = 0;
        sum = 0;
        return;
      }
      core.rescale(scale);
      for (let i = 0; i < recent.length; i++) recent[i]! *= scale;
      sum *= scale;
    },
    memoryBytes() {
      return core.memoryBytes() + recent.byteLength;
    },
  };
}
