import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createDaemon, type DaemonSource } from '../../../src/app/daemon.ts';
import type { ModelSwitch } from '../../../src/app/model-switch.ts';
import { runCli } from '../../../src/cli/cli.ts';
import { loadConfig } from '../../../src/config/load-config.ts';
import type { SensorWindow, WindowScore, WindowScorer } from '../../../src/detector/index.ts';
import { isTsadError } from '../../../src/errors.ts';
import type { Autoencoder } from '../../../src/model/autoencoder.ts';
import { initBackend } from '../../../src/model/backend.ts';
import { openModelRegistry } from '../../../src/model/registry.ts';
import { trainAutoencoder } from '../../../src/model/train.ts';
import { windowsFromSeries } from '../../../src/model/windows.ts';
import { tempDir } from '../../harness/temp-dir.ts';
import { sink } from '../cli/run-tsad.ts';
import { periodicSeries } from '../model/fixtures.ts';
import { fakeSource } from './fake-source.ts';

const scorer: WindowScorer = {
  version: 'fake',
  windowSize: 4,
  channels: ['value'],
  async scoreBatch(windows: readonly SensorWindow[]): Promise<WindowScore[]> {
    return windows.map((w) => ({
      score: Math.max(...w.data),
      perChannel: new Float32Array(1),
      perStep: new Float32Array(w.size),
    }));
  },
};

/** `count` readings of one sensor with a spike over the last 8. */
function spikeAtEnd(count: number): number[] {
  return Array.from({ length: count }, (_, i) => (i >= count - 8 ? 1_000 : Math.sin(i / 3)));
}

function setup(count: number) {
  const config = loadConfig({
    env: {},
    flags: {
      window: { size: 4, stride: 1 },
      input: { maxLatenessMs: 0 },
      threshold: { method: 'rolling', rolling: { window: 100, warmup: 50, k: 6 } },
      alerts: { confirmK: 1, confirmN: 1, cooldownMs: 0 },
      metrics: { enabled: false },
      model: { backend: 'cpu' },
      shutdown: { timeoutMs: 2_000 },
    },
  });
  let out = '';
  const stdout = new Writable({
    write(chunk, _encoding, done) {
      out += String(chunk);
      done();
    },
  });
  const source = fakeSource(spikeAtEnd(count));
  const daemon = createDaemon({
    config,
    logger: pino({ level: 'silent' }),
    stdout,
    source,
    scorer,
  });
  return { daemon, source, output: () => out };
}

describe('daemon', () => {
  it('scores the input, prints alerts and acks every message', async () => {
    const { daemon, source, output } = setup(200);
    await daemon.start();
    await daemon.ended;
    assert.equal(source.acked(), 200);
    assert.equal(daemon.stats()?.windowsScored, 197);
    assert.match(output(), /FIRING {3}s: score/);
    await daemon.stop();
  });

  it("reports the cold-start model's best loss as tsad_training_last_loss", async () => {
    const config = loadConfig({
      env: {},
      flags: {
        window: { size: 4, stride: 1 },
        input: { maxLatenessMs: 0 },
        model: { backend: 'cpu', hiddenUnits: [4], codeSize: 2, maxEpochs: 2, warmupWindows: 40 },
        retraining: { enabled: false },
        metrics: { host: '127.0.0.1', port: 0 },
        shutdown: { timeoutMs: 5_000 },
      },
    });
    const daemon = createDaemon({
      config,
      logger: pino({ level: 'silent' }),
      stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
      source: fakeSource(spikeAtEnd(100)),
    });
    await daemon.start();
    await daemon.ended;
    const address = daemon.metricsAddress();
    const text = await (await fetch(`http://127.0.0.1:${address?.port}/metrics`)).text();
    await daemon.stop();
    assert.match(text, /^tsad_training_runs_total\{outcome="success"\} 1$/m);
    const loss = Number(/^tsad_training_last_loss (\S+)$/m.exec(text)?.[1]);
    assert.ok(Number.isFinite(loss) && loss > 0, `tsad_training_last_loss ${loss}`);
  });

  it('dead-letters readings without exactly the channels of input.channels, with or without a model', async () => {
    const config = loadConfig({
      env: {},
      flags: {
        window: { size: 4, stride: 1 },
        input: { maxLatenessMs: 0, channels: ['temp', 'vibration'] },
        // The readings come from fakeSource; the rule for embedded mode wants the simulator's channels to match.
        simulator: { channels: ['temp', 'vibration'] },
        model: { backend: 'cpu', warmupWindows: 10 },
        metrics: { enabled: false },
        shutdown: { timeoutMs: 2_000 },
      },
    });
    const pair = { vibration: 2, temp: 1 };
    const readings = [5, { temp: 1 }, pair, { ...pair, pressure: 3 }, pair, 6, pair, pair];
    const twoChannels: WindowScorer = { ...scorer, channels: ['temp', 'vibration'] };
    for (const model of [undefined, twoChannels]) {
      const daemon = createDaemon({
        config,
        logger: pino({ level: 'silent' }),
        stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
        source: fakeSource(readings),
        scoreInWorker: false,
        ...(model ? { scorer: model } : {}),
      });
      await daemon.start();
      await daemon.ended;
      const stats = { ...daemon.stats() };
      await daemon.stop();
      const label = model ? 'with a model' : 'cold';
      assert.equal(stats.rejected, 4, label);
      assert.equal(stats.readings, 4, label);
      assert.equal((stats.windowsScored ?? 0) + (stats.windowsUnscored ?? 0), 1, label);
    }
  });

  it('trains the cold-start model on input.channels in their order, its data laid out in it', async () => {
    const config = loadConfig({
      env: {},
      flags: {
        window: { size: 4, stride: 1 },
        // Not sorted by name, as the windows hold their channels.
        input: { maxLatenessMs: 0, channels: ['vibration', 'temp'] },
        simulator: { channels: ['temp', 'vibration'] },
        model: { backend: 'cpu', hiddenUnits: [4], codeSize: 2, maxEpochs: 2, warmupWindows: 40 },
        retraining: { enabled: false },
        metrics: { enabled: false },
        shutdown: { timeoutMs: 5_000 },
      },
    });
    let models: ModelSwitch | undefined;
    const daemon = createDaemon({
      config,
      logger: pino({ level: 'silent' }),
      stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
      // Temperatures near 10, vibrations near 1000: the model's centres tell them apart.
      source: fakeSource(
        Array.from({ length: 120 }, (_, i) => ({
          temp: 10 + Math.sin(i / 3),
          vibration: 1_000 + 10 * Math.cos(i / 3),
        })),
      ),
      scoreInWorker: false,
      instrumentScorer: (scorer) => {
        models = scorer as ModelSwitch;
        return scorer;
      },
    });
    await daemon.start();
    await daemon.ended;
    const model = models?.current() as Autoencoder | null | undefined;
    const stats = { ...daemon.stats() };
    const centres = model?.metadata.normalisation.center;
    await daemon.stop();
    assert.ok(model, 'a model was trained');
    assert.deepEqual(model.channels, ['vibration', 'temp']);
    assert.ok(centres !== undefined && centres[0]! > 900 && centres[1]! < 20, `centres ${centres}`);
    assert.ok((stats.windowsScored ?? 0) > 0, 'windows scored after the cold start');
  });

  it('refuses at start a model whose channels differ from input.channels, as a config error (exit 2)', async () => {
    await initBackend({ prefer: 'cpu' });
    const dir = tempDir('tsad-daemon-');
    try {
      const model = await trainAutoencoder(windowsFromSeries(periodicSeries(40), 1, 4), {
        windowSize: 4,
        hiddenUnits: [4],
        codeSize: 2,
        maxEpochs: 1,
        seed: 1,
      });
      const modelDir = path.join(dir, 'model');
      await model.save(modelDir);
      const registryDir = path.join(dir, 'registry');
      const registry = await openModelRegistry(registryDir, 5, { create: true });
      await registry.register(model);
      await registry.activate(model.version);
      const start = async (
        channels: string[],
        from: { path: string } | { registryDir: string },
      ) => {
        const config = loadConfig({
          env: {},
          flags: {
            window: { size: 4, stride: 1 },
            input: { channels },
            simulator: { channels },
            model: { backend: 'cpu', ...from },
            metrics: { enabled: false },
            shutdown: { timeoutMs: 2_000 },
          },
        });
        const daemon = createDaemon({
          config,
          logger: pino({ level: 'silent' }),
          stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
          source: fakeSource([]),
          scoreInWorker: false,
        });
        try {
          await daemon.start();
          return daemon.modelVersion();
        } finally {
          await daemon.stop();
        }
      };
      for (const [from, where] of [
        [{ path: modelDir }, /model\.path /],
        [{ registryDir }, /the active version of the registry /],
      ] as const) {
        await assert.rejects(start(['temp', 'vibration'], from), (error: unknown) => {
          assert.ok(isTsadError(error, 'TSAD_ERR_CONFIG_INVALID'), String(error));
          assert.match(
            error.message,
            /^input\.channels is \[temp, vibration\] but the model \S+ \(.+\) has the channels \[value\]/,
          );
          assert.match(error.message, where);
          return true;
        });
        assert.equal(await start(['value'], from), model.version);
      }

      const stderr = sink();
      const code = await runCli(
        [
          'run',
          '--model',
          modelDir,
          '--set',
          'input.channels=temp,vibration',
          '--set',
          'simulator.channels=temp,vibration',
          '--set',
          'window.size=4',
          '--set',
          'window.stride=1',
          '--set',
          'model.backend=cpu',
          '--set',
          'metrics.enabled=false',
          '--set',
          'log.level=silent',
        ],
        {
          stdout: sink().stream,
          stderr: stderr.stream,
        },
      );
      assert.equal(code, 2, stderr.text());
      assert.match(stderr.text(), /input\.channels is \[temp, vibration\].*\[value\]/);
      model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses at start, in embedded mode, a model without the simulator channels (exit 2)', async () => {
    await initBackend({ prefer: 'cpu' });
    const dir = tempDir('tsad-daemon-');
    try {
      const model = await trainAutoencoder(windowsFromSeries(periodicSeries(40), 1, 4), {
        windowSize: 4,
        hiddenUnits: [4],
        codeSize: 2,
        maxEpochs: 1,
        seed: 1,
      });
      const modelDir = path.join(dir, 'model');
      await model.save(modelDir);
      model.dispose();
      const args = (channels: string) => [
        ...['run', '--model', modelDir, '--set', `simulator.channels=${channels}`],
        ...['--set', 'window.size=4', '--set', 'model.backend=cpu'],
        ...['--set', 'metrics.enabled=false', '--set', 'log.level=silent'],
      ];
      const stderr = sink();
      const code = await runCli(args('temp,vibration'), {
        // Only to end the run if it did start.
        shutdownSignal: AbortSignal.timeout(3_000),
        stdout: sink().stream,
        stderr: stderr.stream,
      });
      assert.equal(code, 2, stderr.text());
      assert.match(
        stderr.text(),
        /^tsad: simulator\.channels is \[temp, vibration\] but the model \S+ \(model\.path .+\) has the channels \[value\]/,
      );
      // The model's own channel runs.
      const ok = await runCli(args('value'), {
        shutdownSignal: AbortSignal.timeout(1_000),
        stdout: sink().stream,
        stderr: sink().stream,
      });
      assert.equal(ok, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second daemon on the same model registry as a config error (exit 2) while the first runs', async () => {
    const registryDir = path.join(tempDir('tsad-daemon-'), 'registry');
    const daemon = (registry: string) =>
      createDaemon({
        config: loadConfig({
          env: {},
          flags: {
            window: { size: 4, stride: 1 },
            model: { backend: 'cpu', registryDir: registry },
            metrics: { enabled: false },
            shutdown: { timeoutMs: 2_000 },
          },
        }),
        logger: pino({ level: 'silent' }),
        stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
        source: fakeSource([]),
        scorer,
        scoreInWorker: false,
      });
    const first = daemon(registryDir);
    const second = daemon(registryDir);
    try {
      await first.start();
      await assert.rejects(second.start(), (error: unknown) => {
        assert.ok(isTsadError(error, 'TSAD_ERR_CONFIG_INVALID'), String(error));
        assert.match(
          error.message,
          /^model registry .+ is in use by another daemon.*: pid \d+ on host .+: each tsad daemon needs its own model\.registryDir/,
        );
        assert.ok(error.message.includes(registryDir), error.message);
        return true;
      });

      const stderr = sink();
      const code = await runCli(
        [
          'run',
          '--set',
          `model.registryDir=${registryDir}`,
          '--set',
          'metrics.enabled=false',
          '--set',
          'log.level=silent',
        ],
        {
          // Only to end the run if it did start.
          shutdownSignal: AbortSignal.timeout(3_000),
          stdout: sink().stream,
          stderr: stderr.stream,
        },
      );
      assert.equal(code, 2, stderr.text());
      assert.match(stderr.text(), /^tsad: model registry .+ is in use by another daemon/);
    } finally {
      await second.stop();
      await first.stop();
    }
    const third = daemon(registryDir);
    await third.start();
    await third.stop();
  });

  it('shares one promise between concurrent start and stop calls', async () => {
    const { daemon } = setup(10);
    const [a, b] = [daemon.start(), daemon.start()];
    assert.equal(a, b);
    await a;
    const [x, y] = [daemon.stop(), daemon.stop()];
    assert.equal(x, y);
    const report = await x;
    assert.deepEqual(report.abandoned, []);
    await assert.rejects(daemon.start());
  });

  it('tears down in order: stop consuming, drain, commit, close', async () => {
    const { daemon, source } = setup(10);
    await daemon.start();
    const report = await daemon.stop();
    assert.deepEqual(source.calls, ['start', 'stopConsuming', 'commit', 'close']);
    assert.deepEqual(report.completed, [
      'stop cold-start training',
      'stop retraining',
      'stop consuming',
      'drain pipeline',
      'commit offsets',
      'close input',
      'close pipeline',
      'dispose model',
    ]);
  });

  it('reports the drain as abandoned when a send is given up at the budget, though every step returned in time', async () => {
    const config = loadConfig({
      env: {},
      flags: {
        window: { size: 4, stride: 1 },
        metrics: { enabled: false },
        retraining: { enabled: false },
        shutdown: { timeoutMs: 1_500 },
      },
    });
    let attempts = 0;
    // One malformed message, and a dead-letter topic that refuses every send
    // 1.2 s after it was made: after the abort (budget - 0.5 s), before the budget ends.
    const source: DaemonSource = {
      kind: 'simulator',
      ended: new Promise(() => {}),
      async start(pipeline) {
        pipeline.push({
          topic: 't',
          partition: 0,
          offset: '0',
          key: 's',
          value: 'not json',
          ack() {},
        });
      },
      async stopConsuming() {},
      async commit() {},
      async close() {},
      connected: () => 'not_configured',
      deadLetters: {
        async send() {
          attempts++;
          await new Promise((resolve) => setTimeout(resolve, 1_200));
          throw new Error('broker away');
        },
      },
    };
    const daemon = createDaemon({
      config,
      logger: pino({ level: 'silent' }),
      stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
      source,
      scorer,
    });
    await daemon.start();
    while (attempts === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const report = await daemon.stop();
    // Every step returned within the budget, but the send was given up, not made.
    assert.equal(attempts, 1);
    assert.ok(report.completed.includes('commit offsets'), JSON.stringify(report));
    assert.deepEqual(report.abandoned, ['drain pipeline (1 windows or sends given up)']);
  });

  it('gives up a send waiting to retry at the budget, so the steps after the drain still run', async () => {
    const config = loadConfig({
      env: {},
      flags: {
        window: { size: 4, stride: 1 },
        metrics: { enabled: false },
        retraining: { enabled: false },
        shutdown: { timeoutMs: 1_500 },
      },
    });
    let attempts = 0;
    // A dead-letter topic that refuses every send at once: the retries back
    // off 0.1, 0.2, 0.4, 0.8, 1.6, 3.2 s, so after the sixth attempt the send
    // waits 3.2 s, far past the abort (budget - 0.5 s) and the budget.
    const source: DaemonSource = {
      kind: 'simulator',
      ended: new Promise(() => {}),
      async start(pipeline) {
        pipeline.push({
          topic: 't',
          partition: 0,
          offset: '0',
          key: 's',
          value: 'not json',
          ack() {},
        });
      },
      async stopConsuming() {},
      async commit() {},
      async close() {},
      connected: () => 'not_configured',
      deadLetters: {
        async send() {
          attempts++;
          throw new Error('broker away');
        },
      },
    };
    const daemon = createDaemon({
      config,
      logger: pino({ level: 'silent' }),
      stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
      source,
      scorer,
    });
    await daemon.start();
    while (attempts < 6) await new Promise((resolve) => setTimeout(resolve, 10));
    const report = await daemon.stop();
    assert.equal(attempts, 6, 'no send after the abort');
    assert.ok(report.completed.includes('commit offsets'), JSON.stringify(report));
    assert.ok(report.completed.includes('close input'), JSON.stringify(report));
    assert.deepEqual(report.abandoned, ['drain pipeline (1 windows or sends given up)']);
  });
});
