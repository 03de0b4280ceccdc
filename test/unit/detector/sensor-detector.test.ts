import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import fc from 'fast-check';
import {
  type AlertEvent,
  alertId,
  createDetectorRegistry,
  createSensorDetector,
  type DetectorConfig,
  type SensorDetector,
  scoreScaleRatio,
} from '../../../src/detector/index.ts';
import { isTsadError } from '../../../src/errors.ts';
import { exponentialNoise, scoredWindow, seededRandom } from './noise.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../../schemas/alert.schema.json', import.meta.url), 'utf8'),
);
const validate = new Ajv2020.default({ allErrors: true, strict: true }).compile(schema);

function assertValid(event: AlertEvent): void {
  // Through JSON, as consumers of the alert topic receive it.
  const ok = validate(JSON.parse(JSON.stringify(event)));
  assert.ok(ok, JSON.stringify(validate.errors));
}

const CONFIG: DetectorConfig = {
  threshold: { method: 'rolling', window: 200, warmup: 100 },
  alert: { confirmK: 2, confirmN: 3, resolveAfter: 3, minFiringMs: 0, cooldownMs: 10_000 },
};

const T0 = Date.UTC(2026, 0, 1);

/** Feeds `scores` as windows one second apart; returns the events in order. */
function feed(detector: SensorDetector, scores: number[], start = 0, hotChannel = 1) {
  const events: AlertEvent[] = [];
  scores.forEach((score, i) => {
    const { window, score: s } = scoredWindow({
      sensor: detector.sensor,
      endTs: T0 + (start + i) * 1000,
      score,
      hotChannel,
      reconstruction: true,
    });
    events.push(...detector.observe({ window, score: s, modelVersion: 'm-1' }).events);
  });
  return events;
}

function noiseScores(seed: number, count: number): number[] {
  const noise = exponentialNoise(seededRandom(seed));
  return Array.from({ length: count }, () => noise());
}

test('a fault fires one alert explained by the faulty channel, and it resolves with the same id', () => {
  const detector = createSensorDetector('pump-7', CONFIG);
  const scores = [...noiseScores(1, 300), ...Array(20).fill(50), ...noiseScores(2, 50)];
  const events = feed(detector, scores);
  assert.deepEqual(
    events.map((e) => e.state),
    ['firing', 'resolved'],
  );
  const [firing, resolved] = events as [AlertEvent, AlertEvent];
  assert.equal(firing.startedAt, new Date(T0 + 301_000).toISOString());
  assert.equal(firing.endedAt, null);
  assert.equal(firing.id, alertId('pump-7', T0 + 301_000));
  assert.equal(resolved.id, firing.id);
  assert.equal(resolved.startedAt, firing.startedAt);
  assert.ok(resolved.endedAt !== null && resolved.endedAt > firing.startedAt);
  assert.equal(resolved.peakScore, 50);
  assert.equal(firing.method, 'rolling');
  assert.equal(firing.modelVersion, 'm-1');
  assert.ok(firing.score > firing.threshold);
  assert.ok(firing.calibratedScore > 0.5);
  assert.equal(firing.explanation.channels[0]!.channel, 'b');
  assert.ok(firing.explanation.channels[0]!.share > 0.9);
  const peak = firing.explanation.peakStep;
  assert.equal(peak.index, 3);
  assert.equal(peak.timestamp, firing.window.end);
  assert.deepEqual(peak.observed, { a: 3, b: Math.fround(3.1) });
  assert.deepEqual(peak.reconstructed, { a: 3.25, b: Math.fround(Math.fround(3.1) + 0.25) });
  assertValid(firing);
  assertValid(resolved);
  // 50 quiet windows after the resolve: the 10 s cooldown is over.
  assert.equal(detector.alertState, 'normal');
});

test('scores from EXTREME_SCORE up stay out of the threshold warm-up, and fire once it is ready', () => {
  const config: DetectorConfig = {
    threshold: { method: 'spot', nInit: 500 },
    alert: { confirmK: 1, confirmN: 1, minFiringMs: 0, cooldownMs: 0 },
  };
  const normal = noiseScores(7, 1_000);
  // A clamped reading's windows: 16 in a row, inside the warm-up (the first 500 scores).
  const withExtremes = [...normal.slice(0, 200), ...Array(16).fill(6e10), ...normal.slice(200)];
  const judge = (scores: number[]) => {
    const detector = createSensorDetector('s', config);
    return scores.map((score, i) => {
      const { window, score: s } = scoredWindow({ sensor: 's', endTs: T0 + i * 1000, score });
      return detector.observe({ window, score: s, modelVersion: 'm-1' });
    });
  };
  const plain = judge(normal);
  const spoilt = judge(withExtremes);
  for (const result of spoilt.slice(200, 216)) {
    assert.equal(result.warmingUp, true);
    assert.equal(result.anomalous, false);
  }
  // The threshold learnt exactly what it would have without them.
  assert.ok(plain.at(-1)!.threshold < 10, `threshold ${plain.at(-1)!.threshold}`);
  assert.equal(spoilt.at(-1)!.threshold, plain.at(-1)!.threshold);
  // Once the threshold is ready, such a score is judged like any other: far above it.
  const after = judge([...withExtremes, 6e10]).at(-1)!;
  assert.equal(after.warmingUp, false);
  assert.equal(after.anomalous, true);
  assert.equal(after.events[0]?.state, 'firing');
});

test('alert ids are stable across replays of the same data', () => {
  const scores = [...noiseScores(3, 300), ...Array(10).fill(40), ...noiseScores(4, 30)];
  const first = feed(createSensorDetector('s', CONFIG), scores);
  const second = feed(createSensorDetector('s', CONFIG), scores);
  assert.ok(first.length > 0);
  assert.deepEqual(second, first);
});

test('every emitted alert validates against schemas/alert.schema.json, for any method and scores', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('spot', 'dspot', 'rolling', 'telemanom'),
      fc.array(fc.oneof(fc.double({ min: 0, max: 3, noNaN: true }), fc.constant(80)), {
        minLength: 50,
        maxLength: 400,
      }),
      (method, tail) => {
        const detector = createSensorDetector('x', {
          threshold: { method, nInit: 100, depth: 10, window: 200, warmup: 100 } as never,
          alert: { confirmK: 1, confirmN: 1, resolveAfter: 1, minFiringMs: 0, cooldownMs: 0 },
        });
        const events = feed(detector, [...noiseScores(5, 220), ...tail]);
        for (const event of events) assertValid(event);
        // The lifecycle alternates firing/resolved, starting with firing.
        events.forEach((e, i) => {
          assert.equal(e.state, i % 2 === 0 ? 'firing' : 'resolved');
        });
      },
    ),
    { numRuns: 40 },
  );
});

test('no alert during warm-up, and results carry the threshold and calibrated score', () => {
  const detector = createSensorDetector('w', CONFIG);
  const { window, score } = scoredWindow({ sensor: 'w', endTs: T0, score: 1e6 });
  const result = detector.observe({ window, score, modelVersion: 'm' });
  assert.deepEqual(result, {
    calibratedScore: 0,
    threshold: Number.POSITIVE_INFINITY,
    anomalous: false,
    warmingUp: true,
    alertState: 'normal',
    events: [],
  });
});

test('recalibrate() after a model swap: no alerts during the new warm-up, a firing alert stays firing', () => {
  const detector = createSensorDetector('r', {
    ...CONFIG,
    alert: { ...CONFIG.alert, cooldownMs: 0 },
  });
  const events = feed(detector, [...noiseScores(6, 300), 50, 50, 50]);
  assert.deepEqual(
    events.map((e) => e.state),
    ['firing'],
  );
  detector.recalibrate();
  // New model: scores 100× larger, and the warm-up sees them without alerting.
  const during = feed(
    detector,
    noiseScores(7, 99).map((s) => 100 * s),
    303,
  );
  assert.deepEqual(during, []);
  assert.equal(detector.alertState, 'firing');
  const after = feed(
    detector,
    noiseScores(8, 50).map((s) => 100 * s),
    402,
  );
  assert.deepEqual(
    after.map((e) => e.state),
    ['resolved'],
  );
});

test('recalibrate({ scale }) keeps judging on the new scale without a burst of alerts', () => {
  const detector = createSensorDetector('s2', CONFIG);
  feed(detector, noiseScores(9, 300));
  detector.recalibrate({ scale: 100 });
  const events = feed(
    detector,
    noiseScores(10, 500).map((s) => 100 * s),
    300,
  );
  assert.deepEqual(events, []);
  assert.throws(
    () => detector.recalibrate({ scale: 0 }),
    (e: unknown) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID'),
  );
});

test('a non-finite score is refused with TSAD_ERR_INPUT_INVALID', () => {
  const detector = createSensorDetector('n', CONFIG);
  const { window, score } = scoredWindow({ sensor: 'n', endTs: T0, score: Number.NaN });
  assert.throws(
    () => detector.observe({ window, score, modelVersion: 'm' }),
    (e: unknown) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID'),
  );
});

test('the registry holds one detector per sensor, refuses one beyond maxSensors, and forgets on revoke', () => {
  const registry = createDetectorRegistry(
    { ...CONFIG, sensors: { special: { threshold: { method: 'spot', nInit: 50 } } } },
    { maxSensors: 2 },
  );
  const observe = (sensor: string, i: number) => {
    const { window, score } = scoredWindow({ sensor, endTs: T0 + i * 1000, score: 1 });
    return registry.observe({ window, score, modelVersion: 'm' });
  };
  observe('a', 0);
  observe('special', 0);
  assert.equal(registry.size, 2);
  assert.equal(registry.get('special')!.config.threshold.method, 'spot');
  assert.equal(registry.get('a')!.config.threshold.method, 'rolling');
  assert.throws(
    () => observe('c', 0),
    (e: unknown) => isTsadError(e, 'TSAD_ERR_SENSOR_LIMIT'),
  );
  for (let i = 1; i < 150; i++) observe('a', i);
  assert.equal(observe('a', 150).warmingUp, false);
  assert.equal(registry.forget('a'), true);
  assert.equal(registry.forget('a'), false);
  observe('c', 0);
  assert.deepEqual([...registry.sensors()].sort(), ['c', 'special']);
  // A forgotten sensor comes back with fresh state: warming up again.
  registry.forget('c');
  assert.equal(observe('a', 151).warmingUp, true);
  assert.ok(registry.memoryBytes() > 0);
});

test('a bad alert policy or override fails at registry creation, listing every problem', () => {
  assert.throws(
    () =>
      createDetectorRegistry(
        { threshold: { method: 'spot' }, alert: { confirmK: 5, confirmN: 3, hysteresis: 2 } },
        { maxSensors: 1 },
      ),
    (e: unknown) =>
      isTsadError(e, 'TSAD_ERR_CONFIG_INVALID') &&
      /confirmK/.test(e.message) &&
      /hysteresis/.test(e.message),
  );
  assert.throws(
    () =>
      createDetectorRegistry(
        {
          threshold: { method: 'spot' },
          sensors: { x: { threshold: { method: 'rolling', k: -1 } } },
        },
        { maxSensors: 1 },
      ),
    (e: unknown) => isTsadError(e, 'TSAD_ERR_CONFIG_INVALID') && /threshold\.k/.test(e.message),
  );
});

test('scoreScaleRatio is the ratio of high quantiles, and null when no ratio makes sense', () => {
  const old = Array.from({ length: 101 }, (_, i) => i / 100);
  assert.ok(
    Math.abs(
      scoreScaleRatio(
        old,
        old.map((s) => 7 * s),
      )! - 7,
    ) < 1e-12,
  );
  // The 98th percentile of 0..1 in steps of 0.01 is 0.98.
  assert.ok(Math.abs(scoreScaleRatio(old, [1.96])! - 2) < 1e-12);
  assert.equal(scoreScaleRatio([], old), null);
  assert.equal(scoreScaleRatio([0, 0], old), null);
});

test('a window not after the previous one is refused (event time must move forward)', () => {
  const detector = createSensorDetector('o', CONFIG);
  const at = (endTs: number) => {
    const { window, score } = scoredWindow({ sensor: 'o', endTs, score: 1 });
    return () => detector.observe({ window, score, modelVersion: 'm' });
  };
  at(T0 + 5000)();
  assert.throws(at(T0 + 5000), (e: unknown) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID'));
  assert.throws(at(T0 + 1000), (e: unknown) => isTsadError(e, 'TSAD_ERR_INPUT_INVALID'));
  at(T0 + 6000)();
});

test('sensors with the same settings share one frozen config; an override gets its own', () => {
  const registry = createDetectorRegistry(
    { ...CONFIG, sensors: { special: { alert: { confirmK: 1 } } } },
    { maxSensors: 10 },
  );
  for (const sensor of ['a', 'b', 'special']) {
    const { window, score } = scoredWindow({ sensor, endTs: T0, score: 1 });
    registry.observe({ window, score, modelVersion: 'm' });
  }
  const [a, b, special] = ['a', 'b', 'special'].map((s) => registry.get(s)!);
  assert.equal(a!.config, b!.config);
  assert.ok(Object.isFrozen(a!.config) && Object.isFrozen(a!.config.alert));
  assert.notEqual(special!.config, a!.config);
  assert.equal(special!.config.alert.confirmK, 1);
  assert.equal(special!.config.alert.confirmN, 3);
});

test('a cloned detector goes on exactly as the original would, alerts included', () => {
  const config: DetectorConfig = { ...CONFIG, threshold: { method: 'spot', nInit: 200 } };
  const original = createSensorDetector('pump-1', config);
  feed(original, noiseScores(4, 400));
  const copy = original.clone('pump-2');
  assert.equal(copy.sensor, 'pump-2');
  assert.equal(copy.config, original.config);
  const rest = [...noiseScores(5, 100), 40, 41, 42, 45, ...noiseScores(6, 30)];
  const fromOriginal = feed(original, rest, 400);
  const fromCopy = feed(copy, rest, 400);
  assert.ok(fromOriginal.length >= 2, 'the fault fires and resolves');
  assert.deepEqual(
    fromCopy.map((e) => ({ ...e, id: '', sensor: '' })),
    fromOriginal.map((e) => ({ ...e, id: '', sensor: '' })),
  );
  assert.throws(
    () => createSensorDetector('x', CONFIG).clone('y'),
    (e: unknown) => isTsadError(e, 'TSAD_ERR_CONFIG_INVALID'),
  );
});
