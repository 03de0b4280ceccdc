/**
 * SPOT and DSPOT (Siffer, Fouque, Termier, Largouët: "Anomaly Detection in
 * Streams with Extreme Value Theory", KDD 2017).
 *
 * SPOT gathers `nInit` scores, takes their `initQuantile` quantile as the peak
 * level t, fits a generalised Pareto tail to the excesses over t and sets the
 * threshold z_q exceeded by a normal score with probability q. Each later score
 * above z_q is flagged and ignored; one between t and z_q is a new peak (the
 * tail is refitted once 5% of the peaks are new, with the truncation
 * correction of gpd.ts); the rest only count. DSPOT runs the same on the
 * deviation of each score from the moving average of the last `depth` normal
 * scores, so slow drift of the score level does not raise alarms.
 *
 * Memory (one instance per sensor, so every byte counts a hundred thousand
 * times; docs/performance.md): while warming up, a summary of the initial
 * batch (its largest values and a median estimate, warm-up-summary.ts: 416 B
 * at `nInit` 1,000, freed once fitted); then a ring of the newest `maxPeaks`
 * excesses with their truncation limits and, for DSPOT, a ring of `depth`
 * scores. The counts n and N_t are numbers, not buffers. Both are classes,
 * not closures: methods live once on the prototype instead of a dozen
 * closures (and their contexts) per sensor.
 *
 * t and the first peaks are exactly those of the whole batch; the median
 * (the calibration's lower anchor and the hysteresis baseline) is the P²
 * estimate. The peaks and their limits are float32: an excess then carries a
 * relative rounding of at most 2⁻²⁴ ≈ 6·10⁻⁸, no larger than the rounding
 * the model's float32 score itself already carries (|excess| ≤ |score| for
 * positive scores), and the tail fit is a smooth function of them, so z moves
 * in its seventh significant digit; tests compare verdicts with the float64
 * version that keeps the whole batch.
 */

import { calibrateLinear, calibrateRatio } from './calibration.ts';
import { fitTail, type GpdFit, gpdLogTail, gpdQuantile } from './gpd.ts';
import type { AdaptiveThreshold, DspotConfig, SpotConfig, ThresholdVerdict } from './threshold.ts';
import { WarmUpSummary } from './warm-up-summary.ts';

/**
 * The peaks buffer starts small and doubles up to its configured size: most
 * sensors of a large fleet hold a few dozen peaks, and 100,000 sensors at the
 * full size each would not fit the daemon's memory budget (docs/thresholds.md).
 */
const FIRST_CAPACITY = 32;

/** Shared by every instance until it stores its first peak (never written: length 0). */
const NONE = new Float32Array(0);

function grownCapacity(length: number, limit: number): number {
  return Math.min(limit, Math.max(FIRST_CAPACITY, length * 2));
}

/** The SPOT model on a stream of values (raw scores for SPOT, deviations for DSPOT). */
class SpotCore {
  /** The warm-up's summary, from its first value until the first fit. */
  private warmUp: WarmUpSummary | null = null;
  /**
   * The peaks ring: excesses in [0, capacity) and, in [capacity, 2·capacity),
   * the excess each had to stay under to be learnt (z − t then; +∞ for the
   * initial batch). One buffer, not two: each typed array costs a few hundred
   * bytes of its own (object, array buffer, native backing-store record).
   */
  private peakBuffer: Float32Array = NONE;
  private capacity = 0;
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

  /** `config` is shared by every sensor with the same settings (frozen; never copied). */
  constructor(private readonly config: Readonly<Omit<SpotConfig, 'method'>>) {}

  get ready(): boolean {
    return this.fit !== null;
  }

  get threshold(): number {
    return this.z;
  }

  get baseline(): number {
    return this.median;
  }

  /** Adds a warm-up value; fits the first model once the batch is complete. */
  addInitial(value: number): void {
    const { nInit, initQuantile } = this.config;
    this.warmUp ??= WarmUpSummary.forQuantile(nInit, initQuantile);
    this.warmUp.add(value);
    if (this.warmUp.count >= nInit) this.initialise(this.warmUp);
  }

  private initialise(batch: WarmUpSummary): void {
    this.t = batch.quantile(this.config.initQuantile);
    this.median = batch.median();
    this.n = batch.count;
    this.nPeaks = 0;
    this.peakHead = 0;
    this.peakCount = 0;
    for (const value of batch.valuesAbove(this.t))
      this.pushPeak(value - this.t, Number.POSITIVE_INFINITY);
    this.warmUp = null;
    this.refit();
  }

  /** Appends while the buffers grow to maxPeaks, then overwrites the oldest peak (a ring). */
  private pushPeak(excess: number, limit: number): void {
    const max = this.config.maxPeaks;
    if (this.peakCount < max && this.peakCount === this.capacity) {
      const capacity = grownCapacity(this.capacity, max);
      const next = new Float32Array(2 * capacity);
      next.set(this.peakBuffer.subarray(0, this.capacity));
      next.set(this.peakBuffer.subarray(this.capacity), capacity);
      this.peakBuffer = next;
      this.capacity = capacity;
    }
    this.peakBuffer[this.peakHead] = excess;
    this.peakBuffer[this.capacity + this.peakHead] = limit;
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
    const peaks = this.peakBuffer.subarray(0, this.capacity);
    const limits = this.peakBuffer.subarray(this.capacity);
    this.fit = fitTail(peaks, limits, this.peakCount, this.fit) ?? this.fallbackFit();
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
    this.warmUp?.rescale(scale);
    for (let i = 0; i < this.peakBuffer.length; i++) this.peakBuffer[i]! *= scale;
    this.t *= scale;
    this.median *= scale;
    if (this.fit) this.fit = { xi: this.fit.xi, sigma: this.fit.sigma * scale };
    if (this.ready) this.updateZ();
  }

  /** Forgets everything and starts a new warm-up. */
  reset(): void {
    this.warmUp = null;
    this.peakBuffer = NONE;
    this.capacity = 0;
    this.peakHead = 0;
    this.peakCount = 0;
    this.n = 0;
    this.nPeaks = 0;
    this.fit = null;
    this.z = Number.POSITIVE_INFINITY;
  }

  /** An independent copy: same learnt state, own buffers of the same capacity. */
  copy(): SpotCore {
    const other = new SpotCore(this.config);
    other.warmUp = this.warmUp?.copy() ?? null;
    other.peakBuffer = this.peakBuffer.length > 0 ? this.peakBuffer.slice() : NONE;
    other.capacity = this.capacity;
    other.peakHead = this.peakHead;
    other.peakCount = this.peakCount;
    other.n = this.n;
    other.nPeaks = this.nPeaks;
    other.t = this.t;
    other.median = this.median;
    other.fit = this.fit;
    other.peaksSinceFit = this.peaksSinceFit;
    other.z = this.z;
    return other;
  }

  /** Bytes held now: the warm-up summary (416 B at nInit 1,000), then at most 4·2·maxPeaks. */
  memoryBytes(): number {
    return (this.warmUp?.memoryBytes() ?? 0) + this.peakBuffer.byteLength;
  }
}

const WARMING_UP: ThresholdVerdict = Object.freeze({
  threshold: Number.POSITIVE_INFINITY,
  baseline: Number.POSITIVE_INFINITY,
  anomalous: false,
  calibratedScore: 0,
  warmingUp: true,
});

/** SPOT on the raw scores (see the module comment). */
class SpotThreshold implements AdaptiveThreshold {
  constructor(private readonly core: SpotCore) {}

  get method(): 'spot' {
    return 'spot';
  }

  get ready(): boolean {
    return this.core.ready;
  }

  update(score: number): ThresholdVerdict {
    const core = this.core;
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
  }

  calibrate(score: number): number {
    return this.core.ready ? this.core.calibrate(score) : 0;
  }

  recalibrate(scale?: number): void {
    if (scale === undefined) this.core.reset();
    else this.core.rescale(scale);
  }

  memoryBytes(): number {
    return this.core.memoryBytes();
  }

  clone(): AdaptiveThreshold {
    return new SpotThreshold(this.core.copy());
  }
}

/** Creates a SPOT threshold (see the module comment). */
export function createSpot(config: Readonly<SpotConfig>): AdaptiveThreshold {
  return new SpotThreshold(new SpotCore(config));
}

/** DSPOT: SPOT on the deviations from a moving average of the last `depth` normal scores. */
class DspotThreshold implements AdaptiveThreshold {
  private readonly recent: Float64Array;
  private head = 0;
  private filled = 0;
  private sum = 0;

  constructor(
    private readonly core: SpotCore,
    depth: number,
  ) {
    this.recent = new Float64Array(depth);
  }

  get method(): 'dspot' {
    return 'dspot';
  }

  get ready(): boolean {
    return this.core.ready;
  }

  private push(score: number): void {
    const recent = this.recent;
    if (this.filled === recent.length) this.sum -= recent[this.head]!;
    else this.filled++;
    recent[this.head] = score;
    this.sum += score;
    this.head = (this.head + 1) % recent.length;
    // Re-add exactly once per lap so rounding errors of the running sum cannot pile up.
    if (this.head === 0) this.sum = recent.reduce((a, b) => a + b, 0);
  }

  private mean(): number {
    return this.sum / this.filled;
  }

  update(score: number): ThresholdVerdict {
    const core = this.core;
    if (this.filled < this.recent.length) {
      this.push(score);
      return WARMING_UP;
    }
    const level = this.mean();
    const deviation = score - level;
    if (!core.ready) {
      core.addInitial(deviation);
      this.push(score);
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
      this.push(score);
    }
    return verdict;
  }

  calibrate(score: number): number {
    return this.core.ready ? this.core.calibrate(score - this.mean()) : 0;
  }

  recalibrate(scale?: number): void {
    if (scale === undefined) {
      this.core.reset();
      this.head = 0;
      this.filled = 0;
      this.sum = 0;
      return;
    }
    this.core.rescale(scale);
    for (let i = 0; i < this.recent.length; i++) this.recent[i]! *= scale;
    this.sum *= scale;
  }

  memoryBytes(): number {
    return this.core.memoryBytes() + this.recent.byteLength;
  }

  clone(): AdaptiveThreshold {
    const other = new DspotThreshold(this.core.copy(), this.recent.length);
    other.recent.set(this.recent);
    other.head = this.head;
    other.filled = this.filled;
    other.sum = this.sum;
    return other;
  }
}

/** Creates a DSPOT threshold: SPOT on deviations from a moving average of normal scores. */
export function createDspot(config: Readonly<DspotConfig>): AdaptiveThreshold {
  return new DspotThreshold(new SpotCore(config), config.depth);
}
