/**
 * Threshold benchmark: for each method with its defaults, the false-alarm rate
 * on i.i.d. noise (exponential, and χ²₄/4 which looks like a window MSE), the
 * cost per score, and the memory per sensor (buffers, and the heap measured
 * over many detectors). Prints one JSON object.
 *
 *   node --import tsx --expose-gc bench/detector-thresholds.ts [scores=100000] [seeds=5]
 */
import {
  createSensorDetector,
  createThreshold,
  resolveThresholdConfig,
  type ThresholdMethod,
} from '../src/detector/index.ts';

const scores = Number(process.argv[2] ?? 100_000);
const seeds = Number(process.argv[3] ?? 5);
const methods: ThresholdMethod[] = ['spot', 'dspot', 'rolling', 'telemanom'];

function seededRandom(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const noises = {
  exponential: (r: () => number) => () => -Math.log(1 - r()),
  chiSquare4: (r: () => number) => () => {
    let s = 0;
    for (let i = 0; i < 4; i++) {
      s += (Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())) ** 2;
    }
    return s / 4;
  },
};

function heapPerDetector(
  method: ThresholdMethod,
): { arrayBuffers: number; heapOverhead: number } | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  const count = 1000;
  // A first detector warms the code paths up so their allocations are not counted.
  createSensorDetector('warm-up', { threshold: { method } });
  gc();
  const before = process.memoryUsage();
  const held = [];
  for (let i = 0; i < count; i++)
    held.push(createSensorDetector(`s${i}`, { threshold: { method } }));
  gc();
  const after = process.memoryUsage();
  held.length = 0;
  return {
    // Typed-array storage: exact.
    arrayBuffers: Math.round((after.arrayBuffers - before.arrayBuffers) / count),
    // Objects and closures: approximate (the garbage collector adds noise).
    heapOverhead: Math.round((after.heapUsed - before.heapUsed) / count),
  };
}

const result: Record<string, unknown> = { scores, seeds, methods: {} };
for (const method of methods) {
  const perNoise: Record<string, unknown> = {};
  let nanos = 0;
  let total = 0;
  for (const [name, make] of Object.entries(noises)) {
    const rates: number[] = [];
    for (let seed = 1; seed <= seeds; seed++) {
      const threshold = createThreshold(resolveThresholdConfig({ method }));
      const next = make(seededRandom(seed));
      let judged = 0;
      let flagged = 0;
      const start = process.hrtime.bigint();
      for (let i = 0; i < scores; i++) {
        const verdict = threshold.update(next());
        if (!verdict.warmingUp) {
          judged++;
          if (verdict.anomalous) flagged++;
        }
      }
      nanos += Number(process.hrtime.bigint() - start);
      total += scores;
      rates.push(flagged / judged);
    }
    rates.sort((a, b) => a - b);
    perNoise[name] = { falseAlarmRates: rates.map((r) => Number(r.toPrecision(3))) };
  }
  (result.methods as Record<string, unknown>)[method] = {
    ...perNoise,
    microsPerScore: Number((nanos / total / 1000).toFixed(2)),
    bufferBytes: createThreshold(resolveThresholdConfig({ method })).memoryBytes(),
    bytesPerSensor: heapPerDetector(method),
  };
}
console.log(JSON.stringify(result, null, 2));
