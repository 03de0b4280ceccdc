/**
 * A reading absurdly far from its channel's normal range (a broken sensor's
 * 1e20, or a value past float32's range that the window stores as Infinity)
 * must alert like any other anomaly: its windows are scored finite and above
 * the threshold, not given up as unscorable.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createDaemon } from '../../../src/app/daemon.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { Autoencoder } from '../../../src/model/autoencoder.ts';
import { initBackend } from '../../../src/model/backend.ts';
import type { ScoredWindow } from '../../../src/stream/ports.ts';
import { sink } from '../cli/run-tsad.ts';
import { PERIODIC_MODEL, periodicSeries, trainPeriodicModel } from '../model/fixtures.ts';
import { fakeSource } from './fake-source.ts';

const W = PERIODIC_MODEL.windowSize;
const READINGS = 400;
/** Reading number → value: 1e20 squared leaves float32; 1e39 is Infinity once stored as float32. */
const EXTREME = new Map([
  [150, 1e20],
  [300, 1e39],
]);

/** PERIODIC_MODEL as config flags (the window size is set under `window`). */
const { windowSize: _, ...periodic } = PERIODIC_MODEL;
const MODEL_FLAGS = { ...periodic, hiddenUnits: [...periodic.hiddenUnits] };

let model: Autoencoder;

/**
 * The tests' daemon: windows of PERIODIC_MODEL's size, a rolling threshold
 * that alerts on one window, no metrics, no retraining; `flags` adds to it.
 */
function daemonConfig(flags: Record<string, unknown>) {
  return loadConfig({
    env: {},
    flags: {
      window: { size: W, stride: 1 },
      input: { maxLatenessMs: 0 },
      threshold: { method: 'rolling', rolling: { window: 100, warmup: 50, k: 6 } },
      alerts: { confirmK: 1, confirmN: 1, cooldownMs: 0 },
      metrics: { enabled: false },
      retraining: { enabled: false },
      shutdown: { timeoutMs: 5_000 },
      ...flags,
    },
  });
}

before(async () => {
  await initBackend();
  model = await trainPeriodicModel();
});

/** The signal the model knows, with the extreme readings put in (as numbers: 1e39 stays 1e39 in JSON). */
function withExtremes(values: Float32Array, extreme: ReadonlyMap<number, number>): number[] {
  return Array.from(values, (v, i) => extreme.get(i) ?? v);
}

describe('a reading far outside anything the model has seen', () => {
  it('scores its windows finite and above the threshold, and alerts', async () => {
    const config = daemonConfig({});
    const { stream: stdout, text } = sink();
    const scored: ScoredWindow[] = [];
    const daemon = createDaemon({
      config,
      logger: pino({ level: 'silent' }),
      stdout,
      source: fakeSource(withExtremes(periodicSeries(READINGS, { seed: 2, offset: 5 }), EXTREME)),
      scorer: model,
      scoreInWorker: false,
      scoredWindows: [{ write: (w) => scored.push(w) }],
    });
    await daemon.start();
    await daemon.ended;
    const stats = { ...daemon.stats() };
    await daemon.stop();

    assert.equal(stats.windowsGivenUp, 0);
    assert.equal(stats.windowsScored, READINGS - W + 1);
    for (const [i, value] of EXTREME) {
      const ts = 1_000 * i;
      const holding = scored.filter((w) => w.startTs <= ts && ts <= w.endTs);
      assert.equal(holding.length, W, `windows holding reading ${i} (${value})`);
      for (const w of holding) {
        assert.ok(
          Number.isFinite(w.score.score) && w.score.score > w.threshold,
          `reading ${i} (${value}): window ending ${w.endTs} scored ${w.score.score}, threshold ${w.threshold}`,
        );
      }
    }
    assert.equal(text().match(/FIRING/g)?.length, EXTREME.size, text());
  });

  it('leaves the windows holding it out of the cold start, which trains at the first try', async () => {
    // Two extreme readings among the 300 warm-up windows, one after them.
    const extreme = new Map([
      [100, 1e39],
      [200, 1e20],
      [550, 1e20],
    ]);
    // The cold start trains PERIODIC_MODEL.
    const config = daemonConfig({ model: { ...MODEL_FLAGS, warmupWindows: 300 } });
    const log = sink();
    const scored: ScoredWindow[] = [];
    const daemon = createDaemon({
      config,
      logger: pino({ level: 'info' }, log.stream),
      stdout: sink().stream,
      source: fakeSource(withExtremes(periodicSeries(700, { seed: 2, offset: 5 }), extreme)),
      scoredWindows: [{ write: (w) => scored.push(w) }],
    });
    await daemon.start();
    await daemon.ended;
    const stats = { ...daemon.stats() };
    await daemon.stop();

    const lines = log
      .text()
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { msg: string; windowsLeftOut?: number });
    const trained = lines.filter((l) => l.msg === 'cold start: model trained; scoring');
    assert.equal(trained.length, 1, log.text());
    assert.equal(trained[0]!.windowsLeftOut, 2 * W);
    assert.equal(lines.filter((l) => l.msg.includes('training failed')).length, 0, log.text());
    assert.equal(stats.windowsGivenUp, 0);
    const holding = scored.filter((w) => w.startTs <= 550_000 && 550_000 <= w.endTs);
    assert.equal(holding.length, W);
    for (const w of holding) {
      assert.ok(
        Number.isFinite(w.score.score) && w.score.score > w.threshold,
        `window ending ${w.endTs} scored ${w.score.score}, threshold ${w.threshold}`,
      );
    }
  });

  it('leaves the windows holding it out of a retraining, and logs how many', async () => {
    // Reading 20 is inside the threshold's warm-up, where an extreme score is
    // not judged: its windows count as normal and reach the retraining sample.
    const config = daemonConfig({
      model: MODEL_FLAGS,
      retraining: { intervalMs: 0, afterWindows: 250, drift: { enabled: false } },
    });
    const log = sink();
    const daemon = createDaemon({
      config,
      logger: pino({ level: 'info' }, log.stream),
      stdout: sink().stream,
      source: fakeSource(
        withExtremes(periodicSeries(300, { seed: 2, offset: 5 }), new Map([[20, 1e20]])),
      ),
      // Its own model: the daemon of the first test disposed the shared one when it stopped.
      scorer: await trainPeriodicModel(),
      scoreInWorker: false,
    });
    let lines: LogLine[];
    try {
      await daemon.start();
      await daemon.ended;
      lines = await waitForLine(log, (l) => l.msg.startsWith('retraining: candidate'));
    } finally {
      await daemon.stop();
    }

    // Each window holding reading 20 went to training or to the held-out set, and was left out there.
    const leftOut = lines.filter((l) => l.msg.includes('left out of training'));
    assert.equal(leftOut.length, 1, log.text());
    const outcome = lines.find((l) => l.msg.startsWith('retraining: candidate'))!;
    assert.equal(
      leftOut[0]!.windowsLeftOut! + outcome.validation!.holdoutWindowsLeftOut,
      W,
      log.text(),
    );
  });
});

type LogLine = {
  msg: string;
  windowsLeftOut?: number;
  validation?: { holdoutWindowsLeftOut: number };
};

/** The log's lines once one of them matches (the retraining runs after the source ends). */
async function waitForLine(
  log: { text(): string },
  match: (line: LogLine) => boolean,
): Promise<LogLine[]> {
  for (let waited = 0; ; waited += 50) {
    const lines = log
      .text()
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as LogLine);
    if (lines.some(match)) return lines;
    assert.ok(waited < 60_000, `no matching log line in 60 s:\n${log.text()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
