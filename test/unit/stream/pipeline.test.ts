import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SensorWindow, WindowScore, WindowScorer } from '../../../src/detector/index.ts';
import { TsadError } from '../../../src/errors.ts';
import {
  alignChannels,
  createPipeline,
  type PipelineDetector,
  type PipelineOptions,
} from '../../../src/stream/pipeline.ts';
import {
  type AlertLike,
  type DeadLetterSink,
  nullObserver,
  type PipelineLogger,
  type PipelineObserver,
  type RejectReason,
  type SourceMessage,
} from '../../../src/stream/ports.ts';

interface FakeAlert extends AlertLike {
  ts: number;
}

/** Scores a window by its largest absolute value, so a spike scores high. */
function fakeScorer(
  channels: string[] = ['value'],
  windowSize = 3,
): WindowScorer & { calls: number; failNext: number } {
  const scorer = {
    version: 'fake-1',
    windowSize,
    channels,
    calls: 0,
    failNext: 0,
    async scoreBatch(windows: readonly SensorWindow[]): Promise<WindowScore[]> {
      scorer.calls++;
      if (scorer.failNext > 0) {
        scorer.failNext--;
        throw new TsadError('TSAD_ERR_INTERNAL', 'scorer hiccup', { retriable: true });
      }
      return windows.map((w) => ({
        score: Math.max(...[...w.data].map(Math.abs)),
        perChannel: new Float32Array(w.channels.length),
        perStep: new Float32Array(w.size),
      }));
    },
  };
  return scorer;
}

/** Fires on a score above 100, resolves on the next normal one. */
function fakeDetector(): PipelineDetector<FakeAlert> & {
  forgotten: string[];
  seen: SensorWindow[];
} {
  const firing = new Set<string>();
  const d = {
    forgotten: [] as string[],
    seen: [] as SensorWindow[],
    observe({ window, score }: { window: SensorWindow; score: WindowScore }) {
      d.seen.push(window);
      const anomalous = score.score > 100;
      const events: FakeAlert[] = [];
      if (anomalous && !firing.has(window.sensor)) {
        firing.add(window.sensor);
        events.push({
          id: `${window.sensor}@${window.endTs}`,
          sensor: window.sensor,
          state: 'firing',
          ts: window.endTs,
        });
      } else if (!anomalous && firing.delete(window.sensor)) {
        events.push({
          id: `${window.sensor}@r`,
          sensor: window.sensor,
          state: 'resolved',
          ts: window.endTs,
        });
      }
      return {
        calibratedScore: anomalous ? 0.9 : 0.1,
        threshold: 100,
        anomalous,
        alertState: firing.has(window.sensor) ? ('firing' as const) : ('normal' as const),
        events,
      };
    },
    forget(sensor: string) {
      d.forgotten.push(sensor);
      return true;
    },
  };
  return d;
}

const quiet = { info() {}, warn() {}, error() {} };

function message(offset: number, value: unknown, acked: number[], partition = 0): SourceMessage {
  return {
    topic: 'in',
    partition,
    offset: String(offset),
    key: null,
    value: typeof value === 'string' ? value : JSON.stringify(value),
    ack: () => acked.push(offset),
  };
}

function setup(
  overrides: {
    scorer?: WindowScorer | undefined;
    alertFailures?: number;
    /** Sends the dead-letter topic refuses (a non-retriable error) before it accepts them. */
    deadLetterRefusals?: number;
    /** In place of the dead-letter sink that `dead` records. */
    deadLetters?: DeadLetterSink;
    logger?: PipelineLogger;
    options?: Partial<PipelineOptions>;
  } = {},
) {
  const scorer = 'scorer' in overrides ? overrides.scorer : fakeScorer();
  const detector = fakeDetector();
  const alerts: FakeAlert[] = [];
  const dead: Array<{ offset: string; reason: RejectReason }> = [];
  const unscored: SensorWindow[] = [];
  let alertFailures = overrides.alertFailures ?? 0;
  let deadLetterRefusals = overrides.deadLetterRefusals ?? 0;
  const hooked: Array<{ end: number; score: number; anomalous: boolean }> = [];
  const counts = {
    consumed: 0,
    dropped: [] as string[],
    scoredBatches: 0,
    forgotten: [] as string[],
  };
  const observer: PipelineObserver = {
    ...nullObserver,
    messageConsumed: () => counts.consumed++,
    readingDropped: (r, count = 1) => counts.dropped.push(...Array<string>(count).fill(r)),
    batchScored: () => counts.scoredBatches++,
    forgetSensor: (sensor) => counts.forgotten.push(sensor),
  };
  const pipeline = createPipeline<FakeAlert>({
    options: {
      window: { size: 3, stride: 1, maxLatenessMs: 0 },
      maxBatchSize: 4,
      maxDelayMs: 5,
      maxRetryDelayMs: 5,
      ...overrides.options,
    },
    scorer: () => scorer,
    detector,
    alerts: {
      async send(events) {
        if (alertFailures > 0) {
          alertFailures--;
          throw new TsadError('TSAD_ERR_KAFKA', 'broker away');
        }
        alerts.push(...events);
      },
    },
    deadLetters: overrides.deadLetters ?? {
      async send(letters) {
        if (deadLetterRefusals > 0) {
          deadLetterRefusals--;
          throw new TsadError('TSAD_ERR_KAFKA', 'not authorized', { retriable: false });
        }
        for (const { message: m, reason } of letters) dead.push({ offset: m.offset, reason });
      },
    },
    observer,
    logger: overrides.logger ?? quiet,
    onUnscored: (w) => unscored.push(w),
    onScored: (w, score, anomalous) => hooked.push({ end: w.endTs, score: score.score, anomalous }),
  });
  return { pipeline, detector, alerts, dead, unscored, counts, hooked };
}

describe('pipeline', () => {
  it('scores windows, raises alerts and acks every message once its windows are done', async () => {
    const { pipeline, alerts, detector, counts } = setup();
    const acked: number[] = [];
    const values = [1, 2, 3, 500, 4, 5, 6, 7];
    for (const [i, v] of values.entries()) {
      pipeline.push(message(i, { sensor: 's', ts: 1000 + i, value: v }, acked));
    }
    await pipeline.waitIdle();
    assert.deepEqual(
      acked.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(
      detector.seen.map((w) => w.endTs),
      [1002, 1003, 1004, 1005, 1006, 1007],
    );
    assert.deepEqual(
      alerts.map((a) => a.state),
      ['firing', 'resolved'],
    );
    assert.equal(counts.consumed, 8);
    assert.ok(counts.scoredBatches >= 1);
    assert.equal(pipeline.stats().windowsScored, 6);
    await pipeline.close();
  });

  it('hands every scored window with its verdict to the onScored hook', async () => {
    const { pipeline, hooked } = setup();
    for (const [i, v] of [1, 2, 300, 4].entries()) {
      pipeline.push(message(i, { sensor: 's', ts: i, value: v }, []));
    }
    await pipeline.waitIdle();
    assert.deepEqual(hooked, [
      { end: 2, score: 300, anomalous: true },
      { end: 3, score: 300, anomalous: true },
    ]);
    await pipeline.close();
  });

  it('dead-letters malformed messages with their reason and acks them after the send', async () => {
    const { pipeline, dead } = setup();
    const acked: number[] = [];
    pipeline.push(message(0, 'not json', acked));
    pipeline.push(message(1, { sensor: 's', ts: 'soon', value: 1 }, acked));
    pipeline.push(message(2, { sensor: 's', ts: 1, value: 'x' }, acked));
    await pipeline.waitIdle();
    assert.deepEqual(
      dead.map((d) => d.reason),
      ['not_json', 'bad_timestamp', 'non_numeric'],
    );
    assert.deepEqual(acked.sort(), [0, 1, 2]);
    assert.equal(pipeline.stats().rejected, 3);
    await pipeline.close();
  });

  it('logs a dead-letter topic that refuses sends once, retries them, and acks once it accepts them', async () => {
    const logged: string[] = [];
    const logger: PipelineLogger = {
      info: (_fields, text) => logged.push(`info: ${text}`),
      warn: (_fields, text) => logged.push(`warn: ${text}`),
      error: (_fields, text) => logged.push(`error: ${text}`),
    };
    const { pipeline, dead } = setup({ deadLetterRefusals: 9, logger });
    const acked: number[] = [];
    for (const offset of [0, 1, 2]) pipeline.push(message(offset, 'not json', acked));
    await pipeline.waitIdle();
    await pipeline.close();
    assert.deepEqual(
      acked.sort((a, b) => a - b),
      [0, 1, 2],
    );
    assert.equal(dead.length, 3);
    assert.deepEqual(logged, [
      'error: dead-letter send refused; rejected messages are retried, and their offsets not committed, until the dead-letter topic accepts them',
      'info: dead-letter sends accepted again',
    ]);
  });

  it('sends dead letters again in batches of at most 500 while the topic refuses them, and acks each once written', async (t) => {
    let refusing = true;
    const calls: number[] = [];
    const written: string[] = [];
    const { pipeline } = setup({
      deadLetters: {
        async send(letters) {
          calls.push(letters.length);
          if (refusing) throw new TsadError('TSAD_ERR_KAFKA', 'refused', { retriable: false });
          for (const { message: m } of letters) written.push(m.offset);
        },
      },
      options: { maxRetryDelayMs: 5_000 },
    });
    t.after(() => pipeline.abort());
    const acked: number[] = [];
    for (let offset = 0; offset < 1_200; offset++) pipeline.push(message(offset, 'x', acked));
    // Each is tried once on its own; the refused ones are retried together, first after 0.1 s.
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(calls.splice(0, 1_200), Array(1_200).fill(1));
    assert.deepEqual(calls, [500]);
    assert.deepEqual(acked, []);
    refusing = false;
    await pipeline.waitIdle();
    // The refused batch again, then the rest.
    assert.deepEqual(calls, [500, 500, 500, 200]);
    assert.equal(written.length, 1_200);
    assert.equal(new Set(written).size, 1_200);
    assert.equal(acked.length, 1_200);
    await pipeline.close();
  });

  it('bounds a retried batch of dead letters to about 512 KiB of values, one letter at least', async (t) => {
    let refusing = true;
    const retried: number[] = [];
    const { pipeline } = setup({
      deadLetters: {
        async send(letters) {
          if (refusing) throw new TsadError('TSAD_ERR_KAFKA', 'refused', { retriable: false });
          retried.push(letters.length);
        },
      },
      options: { maxRetryDelayMs: 5_000 },
    });
    t.after(() => pipeline.abort());
    const acked: number[] = [];
    for (let offset = 0; offset < 7; offset++) {
      pipeline.push(message(offset, 'x'.repeat(200_000), acked));
    }
    pipeline.push(message(7, 'y'.repeat(600_000), acked));
    await new Promise((resolve) => setTimeout(resolve, 20));
    refusing = false;
    await pipeline.waitIdle();
    // Two of 200 kB fit under 512 KiB, a third does not; 600 kB goes alone.
    assert.deepEqual(retried, [2, 2, 2, 1, 1]);
    assert.equal(acked.length, 8);
    await pipeline.close();
  });

  it('queues a message rejected while dead letters wait instead of sending it alone', async (t) => {
    let refusing = true;
    const calls: number[] = [];
    const { pipeline } = setup({
      deadLetters: {
        async send(letters) {
          calls.push(letters.length);
          if (refusing) throw new TsadError('TSAD_ERR_KAFKA', 'refused', { retriable: false });
        },
      },
      options: { maxRetryDelayMs: 5_000 },
    });
    t.after(() => pipeline.abort());
    const acked: number[] = [];
    for (const offset of [0, 1, 2]) pipeline.push(message(offset, 'x', acked));
    await new Promise((resolve) => setTimeout(resolve, 20));
    pipeline.push(message(3, 'x', acked));
    refusing = false;
    await pipeline.waitIdle();
    assert.deepEqual(calls, [1, 1, 1, 4]);
    assert.deepEqual(
      acked.sort((a, b) => a - b),
      [0, 1, 2, 3],
    );
    await pipeline.close();
  });

  it('gives up dead letters still refused when aborted in one summary line: count, reasons, partitions with their first and last offsets', async (t) => {
    const logged: Array<{
      level: string;
      text: string | undefined;
      fields: Record<string, unknown>;
    }> = [];
    const record = (level: string) => (fields: object, text?: string) =>
      logged.push({ level, text, fields: fields as Record<string, unknown> });
    const logger: PipelineLogger = {
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const { pipeline } = setup({
      deadLetters: {
        async send() {
          throw new TsadError('TSAD_ERR_KAFKA', 'refused', { retriable: false });
        },
      },
      options: { maxRetryDelayMs: 5_000 },
      logger,
    });
    t.after(() => pipeline.close());
    const acked: number[] = [];
    for (let offset = 10; offset < 40; offset++) pipeline.push(message(offset, 'x', acked, 0));
    for (let offset = 5; offset < 25; offset++) {
      pipeline.push(message(offset, { sensor: 's', ts: 1 }, acked, 1));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    pipeline.abort();
    await pipeline.waitIdle();
    assert.deepEqual(acked, []);
    const abandoned = logged.filter((l) => l.text?.startsWith('dead-letter sends abandoned'));
    assert.equal(abandoned.length, 1, JSON.stringify(logged.map((l) => l.text)));
    assert.equal(logged.filter((l) => l.text === 'dead-letter send abandoned').length, 0);
    const [line] = abandoned;
    assert.equal(line?.level, 'error');
    assert.match(line?.text ?? '', /50 rejected messages/);
    assert.equal((line?.fields['err'] as Error | undefined)?.message, 'refused');
    assert.deepEqual(line?.fields['messages'], 50);
    assert.deepEqual(line?.fields['reasons'], { not_json: 30, missing_field: 20 });
    assert.deepEqual(line?.fields['partitions'], {
      'in:0': { messages: 30, firstOffset: '10', lastOffset: '39' },
      'in:1': { messages: 20, firstOffset: '5', lastOffset: '24' },
    });
  });

  it('rejects readings whose channels differ from the loaded model', async () => {
    const { pipeline, dead } = setup();
    pipeline.push(message(0, { sensor: 's', ts: 1, values: { a: 1, b: 2 } }, []));
    await pipeline.waitIdle();
    assert.deepEqual(dead, [{ offset: '0', reason: 'unknown_channel' }]);
    await pipeline.close();
  });

  it('checks channels against the model in use, also after a model with other channels swaps in', async () => {
    const scorer = fakeScorer(['value']);
    const { pipeline, dead } = setup({ scorer });
    const pair = { a: 1, b: 2 };
    pipeline.push(message(0, { sensor: 's', ts: 1, values: pair }, []));
    await pipeline.waitIdle();
    // A retrained model with channels b and a (in its own order) replaces the first.
    (scorer as { channels: readonly string[] }).channels = ['b', 'a'];
    pipeline.push(message(1, { sensor: 't', ts: 1, values: pair }, []));
    pipeline.push(message(2, { sensor: 't', ts: 2, value: 5 }, []));
    await pipeline.waitIdle();
    // The same channels again, in a new array: still accepted.
    (scorer as { channels: readonly string[] }).channels = ['a', 'b'];
    pipeline.push(message(3, { sensor: 't', ts: 3, values: pair }, []));
    await pipeline.waitIdle();
    assert.deepEqual(dead, [
      { offset: '0', reason: 'unknown_channel' },
      { offset: '2', reason: 'unknown_channel' },
    ]);
    await pipeline.close();
  });

  it('acks an array message only after all of its readings are done', async () => {
    const { pipeline, detector } = setup();
    const acked: number[] = [];
    pipeline.push(
      message(
        7,
        [1, 2, 3].map((i) => ({ sensor: 's', ts: i, value: i })),
        acked,
      ),
    );
    await pipeline.waitIdle();
    assert.deepEqual(acked, [7]);
    assert.equal(detector.seen.length, 1);
    await pipeline.close();
  });

  it("acks through the source's ack handle when it offers one, for single and array messages", async () => {
    const { pipeline } = setup();
    const viaHandle: number[] = [];
    const withHandle = (offset: number, value: unknown): SourceMessage => ({
      ...message(offset, value, []),
      ack: () => assert.fail(`message ${offset} acked itself instead of through its handle`),
      ackHandle: { ack: () => viaHandle.push(offset) },
    });
    for (let i = 0; i < 4; i++) pipeline.push(withHandle(i, { sensor: 's', ts: i, value: i }));
    pipeline.push(
      withHandle(
        4,
        [4, 5, 6].map((i) => ({ sensor: 's', ts: i, value: i })),
      ),
    );
    await pipeline.waitIdle();
    assert.deepEqual(
      viaHandle.sort((a, b) => a - b),
      [0, 1, 2, 3, 4],
    );
    await pipeline.close();
  });

  it('retries a failing scorer, and retries alert delivery until it succeeds', async () => {
    const scorer = fakeScorer();
    scorer.failNext = 1;
    const { pipeline, alerts } = setup({ scorer, alertFailures: 2 });
    const acked: number[] = [];
    for (const [i, v] of [1, 2, 300].entries())
      pipeline.push(message(i, { sensor: 's', ts: i, value: v }, acked));
    await pipeline.waitIdle();
    assert.equal(scorer.calls, 2);
    assert.equal(alerts.length, 1);
    assert.equal(acked.length, 3);
    await pipeline.close();
  });

  it('gives up a failing scoring call as soon as it is aborted, not after the backoff under way', async () => {
    const scorer = fakeScorer();
    scorer.failNext = 1_000;
    const failures: number[] = [];
    const logger: PipelineLogger = {
      ...quiet,
      warn: (_fields, text) => {
        if (text === 'scoring failed; retrying') failures.push(Date.now());
      },
    };
    const { pipeline } = setup({
      scorer,
      logger,
      options: { maxRetryDelayMs: 5_000, scoreAttempts: 1_000 },
    });
    const acked: number[] = [];
    for (const [i, v] of [1, 2, 3].entries())
      pipeline.push(message(i, { sensor: 's', ts: i, value: v }, acked));
    // The 5th failure is followed by a 1.6 s wait.
    while (failures.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    const aborted = Date.now();
    pipeline.abort();
    await pipeline.waitIdle();
    const took = Date.now() - aborted;
    assert.ok(took < 500, `idle ${took} ms after the abort`);
    assert.equal(scorer.calls, 5, 'no scoring call after the abort');
    await pipeline.close();
  });

  it('gives up alert delivery as soon as it is aborted, not after the backoff under way', async () => {
    const failures: number[] = [];
    const logger: PipelineLogger = {
      ...quiet,
      warn: (_fields, text) => {
        if (text === 'alert delivery failed; retrying') failures.push(Date.now());
      },
    };
    const { pipeline, alerts } = setup({
      alertFailures: 1_000,
      logger,
      options: { maxRetryDelayMs: 5_000 },
    });
    const acked: number[] = [];
    for (const [i, v] of [1, 2, 300].entries())
      pipeline.push(message(i, { sensor: 's', ts: i, value: v }, acked));
    // The 5th failure is followed by a 1.6 s wait.
    while (failures.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    const aborted = Date.now();
    pipeline.abort();
    await pipeline.waitIdle();
    const took = Date.now() - aborted;
    assert.ok(took < 500, `idle ${took} ms after the abort`);
    assert.equal(failures.length, 5, 'no attempt after the abort');
    assert.deepEqual(alerts, []);
    assert.ok(!acked.includes(2), `the message of the undelivered alert stays un-acked: ${acked}`);
    await pipeline.close();
  });

  it('gives windows to the cold-start collector while no model is loaded', async () => {
    const { pipeline, unscored, detector } = setup({ scorer: undefined });
    const acked: number[] = [];
    for (const [i, v] of [1, 2, 3, 4].entries())
      pipeline.push(message(i, { sensor: 's', ts: i, value: v }, acked));
    await pipeline.waitIdle();
    assert.equal(unscored.length, 2);
    assert.equal(detector.seen.length, 0);
    assert.equal(acked.length, 4);
    await pipeline.close();
  });

  it('holds windows while the first model trains, then scores them', async () => {
    let current: WindowScorer | undefined;
    let trained: (s: WindowScorer) => void = () => {};
    const training = new Promise<WindowScorer>((resolve) => {
      trained = resolve;
    });
    const detector = fakeDetector();
    const pipeline = createPipeline<FakeAlert>({
      options: { window: { size: 3, maxLatenessMs: 0 }, maxBatchSize: 4, maxDelayMs: 1 },
      scorer: () => current,
      waitForScorer: () => training,
      detector,
      alerts: { send: async () => {} },
      deadLetters: { send: async () => {} },
      observer: nullObserver,
      logger: quiet,
    });
    const acked: number[] = [];
    for (const i of [0, 1, 2, 3])
      pipeline.push(message(i, { sensor: 's', ts: i, value: i }, acked));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(detector.seen.length, 0, 'nothing scored before the model exists');
    assert.ok(pipeline.inFlight() > 0, 'the waiting windows count as in flight');
    current = fakeScorer();
    trained(current);
    await pipeline.waitIdle();
    assert.equal(detector.seen.length, 2);
    assert.equal(acked.length, 4);
    await pipeline.close();
  });

  it('drops the state of sensors of a revoked partition and forgets their detectors', async () => {
    const { pipeline, detector, counts } = setup();
    pipeline.push(message(0, { sensor: 'a', ts: 1, value: 1 }, [], 0));
    pipeline.push(message(0, { sensor: 'b', ts: 1, value: 1 }, [], 1));
    assert.equal(
      pipeline.revoke((origin) => origin === 'in:1'),
      1,
    );
    assert.deepEqual(detector.forgotten, ['b']);
    assert.deepEqual(counts.forgotten, ['b'], 'the metrics stop reporting it');
    await pipeline.close();
  });

  it('counts the readings of a revoked partition that waited for reordering as dropped (revoked)', async (t) => {
    const { pipeline, counts } = setup({
      options: { window: { size: 3, stride: 1, maxLatenessMs: 60_000 } },
    });
    t.after(() => pipeline.close());
    const acked: number[] = [];
    pipeline.push(message(0, { sensor: 'a', ts: 1, value: 1 }, acked, 0));
    pipeline.push(message(1, { sensor: 'b', ts: 1, value: 1 }, acked, 1));
    pipeline.push(message(2, { sensor: 'b', ts: 2, value: 2 }, acked, 1));
    pipeline.revoke((origin) => origin === 'in:1');
    assert.deepEqual(counts.dropped, ['revoked', 'revoked']);
    assert.deepEqual(acked, [], 'left un-acked: the new owner reads them again');
  });

  it('drains readings waiting for reordering a high-water mark at a time, then acks them', async (t) => {
    const scorer = fakeScorer();
    const { pipeline, detector } = setup({
      scorer,
      options: {
        window: { size: 3, stride: 1, maxLatenessMs: 60_000 },
        highWaterMark: 4,
        staleAfterMs: 60_000,
      },
    });
    t.after(() => pipeline.close());
    // A slow scorer, so the drain has to wait for the windows it released.
    let mostInFlight = 0;
    const scoreBatch = scorer.scoreBatch;
    scorer.scoreBatch = async (windows) => {
      mostInFlight = Math.max(mostInFlight, pipeline.inFlight());
      await new Promise((resolve) => setTimeout(resolve, 5));
      return scoreBatch(windows);
    };
    const acked: number[] = [];
    let offset = 0;
    for (const sensor of ['a', 'b', 'c', 'd', 'e'])
      for (const ts of [1, 2, 3, 4])
        pipeline.push(message(offset++, { sensor, ts, value: ts }, acked));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(detector.seen.length, 0, 'every reading waits for the watermark');
    await pipeline.drain();
    assert.equal(pipeline.inFlight(), 0, 'the drain returns once idle');
    assert.equal(acked.length, 20);
    assert.equal(detector.seen.length, 10, 'two windows of each sensor');
    assert.ok(mostInFlight <= 4, `at most the high-water mark in flight (saw ${mostInFlight})`);
  });

  it('leaves readings still waiting when the drain runs out of time un-acked, and close scores none', async (t) => {
    const { pipeline, detector } = setup({
      options: { window: { size: 3, stride: 1, maxLatenessMs: 60_000 }, staleAfterMs: 60_000 },
    });
    t.after(() => pipeline.close());
    const acked: number[] = [];
    for (const ts of [1, 2, 3, 4])
      pipeline.push(message(ts, { sensor: 's', ts, value: ts }, acked));
    await pipeline.drain(0);
    await pipeline.close();
    assert.deepEqual(acked, []);
    assert.equal(detector.seen.length, 0);
  });

  it('reports work in flight and lets a source wait for it', async () => {
    const { pipeline } = setup();
    for (let i = 0; i < 10; i++) pipeline.push(message(i, { sensor: 's', ts: i, value: 1 }, []));
    assert.ok(pipeline.inFlight() > 0);
    await pipeline.waitForCapacity();
    await pipeline.waitIdle();
    assert.equal(pipeline.inFlight(), 0);
    await pipeline.close();
  });
});

describe('alignChannels', () => {
  const window: SensorWindow = {
    sensor: 's',
    channels: ['a', 'b'],
    size: 2,
    data: Float32Array.from([1, 10, 2, 20]),
    startTs: 0,
    endTs: 1,
    timestamps: Float64Array.from([0, 1]),
  };

  it("reorders columns into the model's channel order", () => {
    const aligned = alignChannels(window, fakeScorer(['b', 'a'], 2));
    assert.deepEqual(aligned?.channels, ['b', 'a']);
    assert.deepEqual([...aligned!.data], [10, 1, 20, 2]);
  });

  it('refuses a window of other channels or size', () => {
    assert.equal(alignChannels(window, fakeScorer(['a', 'c'], 2)), undefined);
    assert.equal(alignChannels(window, fakeScorer(['a', 'b'], 3)), undefined);
  });
});
