/**
 * The monitoring daemon's lifecycle: builds the pipeline from config and
 * adapters, starts it, and stops it gracefully. `start()` and `stop()` are
 * idempotent and concurrent calls share one promise (kafkajs'
 * sharedPromiseTo). Teardown is a LIFO stack of named steps within
 * `shutdown.timeoutMs`: stop consuming, drain the pipeline, commit offsets,
 * close the consumer, the alert producer and the InfluxDB sink, and close the
 * metrics server last.
 *
 * Without a model (`model.path` unset) the daemon cold-starts: it collects
 * `model.warmupWindows` windows, pauses its input, trains the first model in
 * a worker thread, then scores. Without brokers it runs embedded: the
 * simulator is the input and alerts are printed on stdout.
 */

import { createInfluxSink, type InfluxSink } from '../adapters/influx/influx-sink.ts';
import {
  createKafkaAlertSink,
  createKafkaClient,
  createKafkaSource,
  type KafkaAlertSink,
} from '../adapters/kafka/index.ts';
import { createMetrics, type Metrics } from '../adapters/metrics/create-metrics.ts';
import { createMetricsServer, type MetricsServer } from '../adapters/metrics/metrics-server.ts';
import { createStdoutAlertSink } from '../adapters/stdout/stdout-alerts.ts';
import type { Config } from '../config/schema.ts';
import { createDriftDetector } from '../detector/drift-detector.ts';
import type { AlertEvent } from '../detector/index.ts';
import { createDetectorRegistry, type ThresholdOptions } from '../detector/index.ts';
import { createTrainingReservoir } from '../detector/training-reservoir.ts';
import type { Reading, SensorWindow, WindowScorer } from '../detector/types.ts';
import { TsadError } from '../errors.ts';
import { initBackend } from '../model/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { releaseLibraryPages } from '../model/library-pages.ts';
import { loadAutoencoder } from '../model/load-autoencoder.ts';
import { isSavableModel, type ModelRegistry, openModelRegistry } from '../model/registry.ts';
import { trainInWorker } from '../model/train-in-worker.ts';
import {
  alignChannels,
  createPipeline,
  type Pipeline,
  type PipelineStats,
} from '../stream/pipeline.ts';
import type { AlertSink, DeadLetterSink, ScoredWindowSink } from '../stream/ports.ts';
import { createEmbeddedSource, embeddedBacklog } from './embedded-source.ts';
import type { Logger } from './logger.ts';
import { createModelSwitch, type ModelSwitch, type SwitchableModel } from './model-switch.ts';
import {
  createRetrainingScheduler,
  DEFAULT_RETRAINING_POLICY,
  type RetrainingScheduler,
  type TrainingOutcome,
} from './retraining.ts';
import { createTeardown, type TeardownReport } from './teardown.ts';
import { createScoringWorker } from './worker-scorer.ts';

/** Where the daemon's messages come from (Kafka or the simulator). */
export interface DaemonSource {
  readonly kind: 'kafka' | 'simulator';
  /** Starts feeding the pipeline; `gate` resolves when the daemon can take more input. */
  start(pipeline: Pipeline, gate: () => Promise<void>): Promise<void>;
  /** Settles when the source ends by itself (a finite simulation, a fatal consumer error). */
  readonly ended: Promise<void>;
  /** Stops fetching; messages already pushed stay in the pipeline. */
  stopConsuming(): Promise<void>;
  /** Commits what is acknowledged (Kafka offsets). */
  commit(): Promise<void>;
  close(): Promise<void>;
  connected(): boolean | 'not_configured';
  /** True while a send of the source (Kafka: to the DLQ topic) has waited too long for the brokers. */
  sendsStalled?(): boolean;
  /** Dead-letter sink of the source (Kafka: the DLQ topic). */
  deadLetters?: DeadLetterSink;
}

export interface DaemonDeps {
  config: Config;
  logger: Logger;
  /** Where embedded-mode alert lines go. */
  stdout: NodeJS.WritableStream;
  /** Overrides the source chosen from config (tests). */
  source?: DaemonSource;
  /** A model to score with instead of `model.path` (tests). */
  scorer?: WindowScorer;
  /** Sinks that also receive every scored window (tests, embedding applications). */
  scoredWindows?: readonly ScoredWindowSink[];
  /**
   * Overrides `model.scoreInWorker`: score in a worker thread, so the event
   * loop keeps consuming while the model runs; false scores on the main thread.
   */
  scoreInWorker?: boolean;
  /** Wraps what the pipeline scores with (benchmarks record the calls). */
  instrumentScorer?: (scorer: WindowScorer) => WindowScorer;
}

export interface Daemon {
  /** Resolves once the daemon is consuming. Idempotent. */
  start(): Promise<void>;
  /** Graceful stop within `shutdown.timeoutMs`. Idempotent; concurrent calls share one promise. */
  stop(): Promise<TeardownReport>;
  /** Settles when the input ends by itself or fails (so the command can stop). */
  readonly ended: Promise<void>;
  /** The metrics server's bound address, once started. */
  metricsAddress(): { host: string; port: number } | undefined;
  /** Version of the model in use, if any. */
  modelVersion(): string | undefined;
  stats(): Readonly<PipelineStats> | undefined;
}

/** Creates the daemon; nothing runs until start(). */
export function createDaemon(deps: DaemonDeps): Daemon {
  const { config, logger } = deps;
  const teardown = createTeardown((name, outcome, ms, detail) => {
    if (outcome === 'done') logger.info({ step: name, ms }, 'shutdown step done');
    else if (outcome === 'failed')
      logger.warn({ step: name, ms, err: detail }, 'shutdown step failed');
    else logger.error({ step: name, ms }, 'shutdown step abandoned: out of time');
  });
  let starting: Promise<void> | undefined;
  let stopping: Promise<TeardownReport> | undefined;
  let metricsServer: MetricsServer | undefined;
  let pipeline: Pipeline | undefined;
  const scoring =
    (deps.scoreInWorker ?? config.model.scoreInWorker) === false
      ? undefined
      : createScoringWorker({
          onFallback: (version, error) =>
            logger.warn(
              { err: error, model: version },
              'scoring worker cannot load the model; scoring on the main thread',
            ),
        });
  const adopt = (model: SwitchableModel) => scoring?.adopt(model) ?? model;
  let started = false;
  const adoptAndWarm = (model: SwitchableModel) => {
    const adopted = adopt(model);
    // After start the backend is chosen: load a swapped-in model at once.
    if (started) void scoring?.warm(adopted);
    return adopted;
  };
  // The one reference to the model in use: retraining swaps it between batches.
  // Every model that enters it (loaded, cold-started, retrained) scores in the worker.
  const models = adopting(
    createModelSwitch(deps.scorer ? adopt(asSwitchable(deps.scorer)) : null),
    adoptAndWarm,
  );
  const pipelineScorer = deps.instrumentScorer?.(models) ?? models;
  const currentModel = (): WindowScorer | undefined => models.current() ?? undefined;
  let resolveEnded: () => void = () => {};
  let rejectEnded: (error: unknown) => void = () => {};
  const ended = new Promise<void>((resolve, reject) => {
    resolveEnded = resolve;
    rejectEnded = reject;
  });
  // Keeps an unobserved failure from crashing the process; callers read `ended`.
  ended.catch(() => {});

  const startAll = async () => {
    // First: a second daemon on this registry is a configuration error, and
    // is told so before it binds a port or loads anything.
    const registry = config.model.registryDir
      ? await openModelRegistry(config.model.registryDir, config.retraining.keepVersions, {
          create: true,
          exclusive: true,
          onUnreadable: ({ file, reason }) =>
            logger.warn(
              { file, reason },
              'model registry: an entry that is not a readable model was skipped by retention (kept)',
            ),
          onStaleLock: (stale, file) =>
            logger.warn(
              { file, stale },
              'model registry: taking over a lock left by a process that is no longer running',
            ),
          onLeftoverRemoved: (file) =>
            logger.warn({ file }, 'model registry: removed what an interrupted save left behind'),
        })
      : undefined;
    if (registry) teardown.push('release model registry', () => registry.close());
    const embedded = config.kafka.brokers.length === 0;
    const metrics: Metrics = createMetrics({ topSensors: config.metrics.topSensors });
    const kafka = embedded ? undefined : createKafkaClient(config, logger);
    const source: DaemonSource =
      deps.source ??
      (kafka
        ? createKafkaSource({ config, kafka, logger, observer: metrics })
        : createEmbeddedSource({
            simulator: config.simulator,
            backlogPerSensor: embeddedBacklog(config),
          }));

    let kafkaAlerts: KafkaAlertSink<AlertEvent> | undefined;
    if (config.metrics.enabled) {
      metricsServer = createMetricsServer({
        host: config.metrics.host,
        port: config.metrics.port,
        registry: metrics.registry,
        health: () => ({
          kafkaConnected: source.connected(),
          kafkaSendsStalled:
            (kafkaAlerts?.stalled() ?? false) || (source.sendsStalled?.() ?? false),
          modelLoaded: models.current() !== null,
        }),
      });
      const address = await metricsServer.start();
      teardown.push('close metrics server', () => metricsServer?.stop());
      logger.info({ url: `http://${address.host}:${address.port}/metrics` }, 'metrics served');
    }
    if (embedded && deps.source === undefined) announceEmbedded(logger, config);

    await initBackend({
      prefer: config.model.backend,
      warn: (message) => logger.warn({ backend: config.model.backend }, message),
    });
    // Where the model in use at start came from, for the error of checkModelChannels.
    let loadedFrom = 'given to the daemon';
    if (models.current() === null && config.model.path !== undefined) {
      const loaded = await loadAutoencoder(config.model.path, { windowSize: config.window.size });
      models.swap(loaded);
      loadedFrom = `model.path ${config.model.path}`;
      logger.info({ model: loaded.version, channels: loaded.channels }, 'model loaded');
    } else if (models.current() === null && registry) {
      const active = await registry.loadActive({ windowSize: config.window.size });
      if (active) {
        models.swap(active);
        loadedFrom = `the active version of the registry ${registry.dir}`;
        logger.info(
          { model: active.version, channels: active.channels, registry: registry.dir },
          'model loaded: the active version of the registry',
        );
      }
    }
    const loaded = models.current();
    // The scoring worker holds the models' copies: it goes with them.
    teardown.push('dispose model', async () => {
      models.dispose();
      await scoring?.close();
    });
    if (loaded) checkModelChannels(config.input.channels, loaded, loadedFrom);
    if (loaded && embedded && deps.source === undefined) {
      checkSimulatorChannels(config.simulator.channels, loaded, loadedFrom);
    }
    if (loaded) metrics.modelLoaded(loaded.version, modelCreatedAt(loaded));
    // Loaded into the scoring worker before the first batch, not during it.
    started = true;
    if (loaded && scoring) await scoring.warm(loaded);

    const detector = createDetectorRegistry(
      { threshold: thresholdOptions(config), alert: alertPolicy(config) },
      { maxSensors: 1_000_000 },
    );

    const alertSinks: AlertSink<AlertEvent>[] = [];
    if (kafka) {
      const sink = createKafkaAlertSink<AlertEvent>(kafka, config.kafka.alertTopic, {
        logger,
        observer: metrics,
        stalledAfterMs: config.kafka.sendStalledAfterMs,
      });
      await sink.connect();
      teardown.push('disconnect alert producer', () => sink.disconnect());
      alertSinks.push(sink);
      kafkaAlerts = sink;
    }
    if (embedded || config.alerts.stdout) alertSinks.push(createStdoutAlertSink(deps.stdout));
    const deadLetters: DeadLetterSink = source.deadLetters ?? {
      async send(letters) {
        for (const { message, reason, detail } of letters) {
          logger.warn({ reason, detail, offset: message.offset }, 'message rejected');
        }
      },
    };

    const scoredSinks: ScoredWindowSink[] = [...(deps.scoredWindows ?? [])];
    let influx: InfluxSink | undefined;
    if (config.influx.url !== undefined) {
      influx = createInfluxSink(
        {
          url: config.influx.url,
          database: config.influx.database,
          retentionPolicy: config.influx.retentionPolicy,
          retentionDuration: config.influx.retentionDuration,
          username: config.influx.username,
          password: config.influx.password,
          batchSize: config.influx.batchSize,
          flushIntervalMs: config.influx.flushIntervalMs,
          maxQueue: config.influx.maxQueue,
          writeRawReadings: config.influx.writeRawReadings,
        },
        { observer: metrics.influx, logger },
      );
      await influx.start();
      teardown.push('flush InfluxDB sink', () => influx?.close());
      const sink = influx;
      scoredSinks.push({ write: (w) => void sink.writeWindow(w) });
      alertSinks.push({
        async send(events) {
          for (const event of events) sink.writeAlert(event);
        },
      });
    }

    const libraryPages = createLibraryPageRelease(config, logger);
    const retraining = createRetraining({
      config,
      logger,
      models,
      registry,
      recalibrate: (scale) => detector.recalibrateAll(scale === null ? {} : { scale }),
      onOutcome: (outcome) => {
        libraryPages.release('retraining');
        const next = models.current();
        if (outcome.outcome === 'promoted' && next) {
          metrics.modelLoaded(next.version, modelCreatedAt(next));
        }
        const label = TRAINING_OUTCOME_LABEL[outcome.outcome];
        if (label)
          metrics.trainingRun(label, outcome.durationMs / 1000, trainingLoss(next, outcome));
      },
    });

    const coldStart = createColdStart({
      config,
      logger,
      onModel: (model) => {
        models.swap(asSwitchable(model));
        metrics.modelLoaded(model.version, Date.now());
        void registerColdStartModel(registry, model, logger);
        retraining.start();
      },
      onTraining: (outcome, seconds, loss) => {
        metrics.trainingRun(outcome, seconds, loss);
        libraryPages.release('cold start');
      },
    });
    if (models.current() !== null) retraining.start();

    const alerts: AlertSink<AlertEvent> = {
      async send(events) {
        // The durable sink (Kafka) first: a line on stdout must not claim an
        // alert that was never delivered.
        for (const sink of alertSinks) await sink.send(events);
      },
    };
    pipeline = createPipeline<AlertEvent>({
      options: {
        decode: {
          sensorField: config.input.fields.sensor,
          tsField: config.input.fields.timestamp,
          valueField: config.input.fields.value,
          valuesField: config.input.fields.values,
          maxMessageBytes: config.kafka.maxMessageBytes,
          maxFutureMs: config.input.maxFutureMs,
          // Before a model exists too: the cold start must train on these channels only.
          ...(config.input.channels.length > 0 ? { expectedChannels: config.input.channels } : {}),
        },
        window: {
          size: config.window.size,
          stride: config.window.stride,
          maxLatenessMs: config.input.maxLatenessMs,
          maxGapMs:
            config.input.gapPolicy === 'bridge' ? Number.POSITIVE_INFINITY : config.input.maxGapMs,
          duplicatePolicy: config.input.duplicatePolicy,
        },
        maxBatchSize: config.batching.maxBatchSize,
        maxDelayMs: config.batching.maxDelayMs,
        highWaterMark: config.batching.highWaterMark,
        staleAfterMs: Math.max(100, Math.min(config.input.maxLatenessMs, 5_000)),
      },
      scorer: () => (models.current() ? pipelineScorer : undefined),
      detector,
      alerts,
      deadLetters,
      scoredWindows: scoredSinks,
      observer: metrics,
      logger,
      onUnscored: (window) => coldStart.offer(window),
      waitForScorer: () => coldStart.training()?.then(currentModel),
      onScored: (window, score, anomalous) => retraining.observe(window, score.score, anomalous),
      ...(influx && config.influx.writeRawReadings
        ? { onReading: (reading: Reading) => void influx?.writeReading(reading) }
        : {}),
    });
    const activePipeline = pipeline;
    teardown.push('close pipeline', () => activePipeline.close());
    teardown.push('close input', () => source.close());
    teardown.push('commit offsets', () => source.commit());
    // Half the stop's budget for releasing readings that wait for reordering
    // leaves the rest for scoring what is in flight and committing offsets.
    teardown.push('drain pipeline', () => activePipeline.drain(config.shutdown.timeoutMs / 2));
    teardown.push('stop consuming', () => source.stopConsuming());
    teardown.push('stop retraining', () => retraining.stop());
    teardown.push('stop cold-start training', () => coldStart.stop());

    await source.start(activePipeline, () => coldStart.gate());
    source.ended.then(
      () => resolveEnded(),
      (error: unknown) => rejectEnded(error),
    );
    logger.info(
      {
        source: source.kind,
        model: models.current()?.version ?? null,
        window: config.window.size,
        stride: config.window.stride,
      },
      models.current()
        ? 'daemon started'
        : `daemon started; cold start: collecting ${config.model.warmupWindows} windows`,
    );
    libraryPages.release('start');
  };

  return {
    start() {
      if (stopping)
        return Promise.reject(new TsadError('TSAD_ERR_INTERNAL', 'daemon already stopped'));
      starting ??= startAll();
      return starting;
    },
    stop() {
      stopping ??= (async () => {
        await starting?.catch(() => {});
        const budget = config.shutdown.timeoutMs;
        // Half a second before the budget ends, sends still being retried are
        // given up, so the remaining steps can finish in time.
        let abandonedInFlight = 0;
        const timer = setTimeout(
          () => {
            abandonedInFlight = pipeline?.inFlight() ?? 0;
            pipeline?.abort();
          },
          Math.max(0, budget - 500),
        );
        const report = await teardown.run(budget);
        clearTimeout(timer);
        if (abandonedInFlight > 0 && !report.abandoned.includes('drain pipeline')) {
          // Every step returned in time, but only because the drain's sends
          // were given up: their messages stay uncommitted, and the stop was not clean.
          report.abandoned.push(`drain pipeline (${abandonedInFlight} windows or sends given up)`);
        }
        logger.info(
          {
            elapsedMs: report.elapsedMs,
            abandoned: report.abandoned,
            failed: report.failed,
            stats: pipeline?.stats(),
          },
          report.abandoned.length === 0 ? 'daemon stopped' : 'daemon stopped with steps abandoned',
        );
        resolveEnded();
        return report;
      })();
      return stopping;
    },
    ended,
    metricsAddress: () => metricsServer?.address(),
    modelVersion: () => models.current()?.version,
    stats: () => pipeline?.stats(),
  };
}

/** The first log lines of the embedded mode: what it is doing and how to point it at Kafka. */
function announceEmbedded(logger: Logger, config: Config): void {
  logger.info(
    {
      sensors: config.simulator.sensors,
      channels: config.simulator.channels,
      rate: config.simulator.ratePerSecond,
    },
    'embedded mode: no Kafka brokers configured, reading the built-in simulator; alerts are printed on stdout',
  );
  logger.info(
    'to monitor Kafka instead: tsad run --brokers host:9092 --topic <readings> --alert-topic <alerts> ' +
      '(or set KAFKA_BROKERS / kafka.brokers in a --config file; see docs/operations.md)',
  );
}

/**
 * Refuses a model loaded at start whose channels are not `input.channels`, in
 * that order: once a model is loaded, readings are checked against its
 * channels, so the setting would silently stop applying (and it states the
 * model's order). A configuration error, so `tsad run` exits 2 as for any other.
 */
function checkModelChannels(expected: readonly string[], model: WindowScorer, from: string): void {
  if (expected.length === 0) return;
  const actual = model.channels;
  if (actual.length === expected.length && actual.every((name, i) => name === expected[i])) return;
  throw new TsadError(
    'TSAD_ERR_CONFIG_INVALID',
    `input.channels is [${expected.join(', ')}] but the model ${model.version} (${from}) has the channels ` +
      `[${actual.join(', ')}]: set input.channels to the model's channels in this order, leave it empty, ` +
      'or load a model trained on these channels',
  );
}

/**
 * In the embedded mode the built-in simulator is the input: a model without
 * its channels (in any order: windows hold them sorted) would have every
 * simulated reading dead-lettered as unknown_channel, so it is a config error.
 */
function checkSimulatorChannels(
  simulated: readonly string[],
  model: WindowScorer,
  from: string,
): void {
  const names = (channels: readonly string[]) => [...channels].sort().join(', ');
  if (names(simulated) === names(model.channels)) return;
  throw new TsadError(
    'TSAD_ERR_CONFIG_INVALID',
    `simulator.channels is [${simulated.join(', ')}] but the model ${model.version} (${from}) has the channels ` +
      `[${model.channels.join(', ')}]: in embedded mode (no kafka.brokers) every simulated reading would be ` +
      "dead-lettered as unknown_channel; set simulator.channels to the model's channels, or load a model trained on the simulator",
  );
}

/** The threshold options of the configured method. */
export function thresholdOptions(config: Config): ThresholdOptions {
  const t = config.threshold;
  switch (t.method) {
    case 'spot':
      return { method: 'spot', ...t.spot };
    case 'dspot':
      return { method: 'dspot', ...t.dspot };
    case 'rolling':
      return { method: 'rolling', ...t.rolling };
    case 'telemanom':
      return { method: 'telemanom', ...t.telemanom };
  }
}

/** The alert policy of the configuration, as the detector registry takes it. */
export function alertPolicy(config: Config) {
  const a = config.alerts;
  return {
    confirmK: a.confirmK,
    confirmN: a.confirmN,
    resolveAfter: a.resolveAfter,
    hysteresis: a.hysteresis,
    minFiringMs: a.minFiringMs,
    cooldownMs: a.cooldownMs,
  };
}

interface ColdStartDeps {
  config: Config;
  logger: Logger;
  onModel(model: WindowScorer): void;
  /** `loss` is the best loss of the model trained, when it succeeded (tsad_training_last_loss). */
  onTraining(outcome: 'success' | 'failure', seconds: number, loss?: number): void;
}

/**
 * Collects windows while no model exists and trains the first one in a
 * worker thread. The gate holds the input while training runs, so the
 * windows after the warm-up are scored rather than passed by unscored.
 * A failed training is logged and retried on a fresh set of windows.
 */
function createColdStart(deps: ColdStartDeps) {
  const { config, logger } = deps;
  const wanted = config.model.warmupWindows;
  let windows: SensorWindow[] = [];
  let training: Promise<void> | undefined;
  const abort = new AbortController();

  const train = async () => {
    const started = performance.now();
    // One model scores one channel set: train on the most common one.
    const bySet = new Map<string, SensorWindow[]>();
    for (const w of windows) {
      const key = w.channels.join('\u0000');
      bySet.set(key, [...(bySet.get(key) ?? []), w]);
    }
    const mostCommon = [...bySet.values()].sort((a, b) => b.length - a.length)[0] ?? [];
    windows = [];
    // Windows hold their channels sorted by name; a model's channels are in
    // `input.channels` order when set, so its training data must be too.
    const expected = { channels: config.input.channels, windowSize: config.window.size };
    const chosen =
      expected.channels.length === 0
        ? mostCommon
        : mostCommon.flatMap((w) => alignChannels(w, expected) ?? []);
    logger.info(
      { windows: chosen.length, channels: chosen[0]?.channels, epochs: config.model.maxEpochs },
      'cold start: training the first model in a worker thread',
    );
    try {
      const model = await trainInWorker(chosen, modelConfigOf(config), {
        channels: chosen[0]?.channels ?? [],
        signal: abort.signal,
      });
      const seconds = (performance.now() - started) / 1000;
      deps.onTraining('success', seconds, model.metadata.training.bestLoss);
      logger.info(
        {
          model: model.version,
          seconds: Number(seconds.toFixed(1)),
          windowsLeftOut: model.metadata.training.windowsLeftOut,
        },
        'cold start: model trained; scoring',
      );
      deps.onModel(model);
    } catch (error) {
      deps.onTraining('failure', (performance.now() - started) / 1000);
      if (abort.signal.aborted) return;
      logger.error({ err: error }, 'cold start: training failed; collecting windows again');
    }
  };

  return {
    offer(window: SensorWindow) {
      if (training || windows.length >= wanted) return;
      windows.push(window);
      if (windows.length >= wanted) {
        training = train().finally(() => {
          training = undefined;
        });
      }
    },
    /** Resolves at once unless training is running. */
    gate(): Promise<void> {
      return training ?? Promise.resolve();
    },
    /** The training run in progress, if any. */
    training: () => training,
    async stop() {
      abort.abort(new Error('daemon stopping'));
      await training;
    },
  };
}

/**
 * Drops the TensorFlow library's pages that loading it (at start) or a
 * training left resident, when `model.releaseLibraryPages` is on
 * (src/model/library-pages.ts). Says once why it cannot.
 */
function createLibraryPageRelease(
  config: Config,
  logger: Logger,
): { release(after: string): void } {
  let unavailable = false;
  return {
    release(after) {
      if (!config.model.releaseLibraryPages || unavailable) return;
      let result: ReturnType<typeof releaseLibraryPages>;
      try {
        result = releaseLibraryPages();
      } catch (error) {
        // Memory only: never worth stopping the daemon for.
        result = { released: false, reason: (error as Error).message };
      }
      if (!result.released) {
        unavailable = true;
        logger.info({ reason: result.reason }, 'TensorFlow library pages stay resident');
        return;
      }
      const mb = (bytes: number) => Math.round(bytes / 1e6);
      logger.info(
        {
          after,
          residentFileMb: mb(result.residentFileAfter),
          before: mb(result.residentFileBefore),
        },
        'released the TensorFlow library pages left resident',
      );
    },
  };
}

/** The model settings of the configuration, as training takes them (cold start and retraining). */
function modelConfigOf(config: Config): Partial<ModelConfig> {
  return {
    windowSize: config.window.size,
    hiddenUnits: [...config.model.hiddenUnits],
    codeSize: config.model.codeSize,
    dropout: config.model.dropout,
    learningRate: config.model.learningRate,
    batchSize: config.model.batchSize,
    maxEpochs: config.model.maxEpochs,
    patience: config.model.patience,
    validationFraction: config.model.validationFraction,
    seed: config.model.seed,
  };
}

/** A scorer the model switch can hold; test scorers without dispose() get a no-op one. */
function asSwitchable(scorer: WindowScorer): SwitchableModel {
  if ('dispose' in scorer && typeof scorer.dispose === 'function') return scorer as SwitchableModel;
  const save = (scorer as { save?: unknown }).save;
  return {
    version: scorer.version,
    windowSize: scorer.windowSize,
    channels: scorer.channels,
    scoreBatch: (windows, options) => scorer.scoreBatch(windows, options),
    // Kept so a model given without dispose() can still be loaded by the scoring worker.
    ...(typeof save === 'function' ? { save: (dir: string) => save.call(scorer, dir) } : {}),
    dispose() {},
  };
}

/** A model switch that passes every model swapped in through `adopt` first. */
function adopting(
  inner: ModelSwitch,
  adopt: (model: SwitchableModel) => SwitchableModel,
): ModelSwitch {
  const outer: ModelSwitch = Object.create(inner);
  outer.swap = (next) => inner.swap(adopt(next));
  return outer;
}

/** The model's creation time (for tsad_model_age_seconds), now when it does not say. */
function modelCreatedAt(model: WindowScorer): number {
  const createdAt = (model as { metadata?: { createdAt?: string } }).metadata?.createdAt;
  const ms = createdAt === undefined ? Number.NaN : Date.parse(createdAt);
  return Number.isFinite(ms) ? ms : Date.now();
}

/** Best validation (or training) loss of a model's training, for tsad_training_last_loss. */
function trainingLoss(model: WindowScorer | null, outcome: TrainingOutcome): number | undefined {
  if (outcome.outcome !== 'promoted' || model === null) return undefined;
  const loss = (model as { metadata?: { training?: { bestLoss?: number } } }).metadata?.training
    ?.bestLoss;
  return typeof loss === 'number' ? loss : undefined;
}

const TRAINING_OUTCOME_LABEL = {
  promoted: 'success',
  rejected: 'rejected',
  failed: 'failure',
  skipped: undefined,
} as const;

async function registerColdStartModel(
  registry: ModelRegistry | undefined,
  model: WindowScorer,
  logger: Logger,
): Promise<void> {
  if (!registry || !isSavableModel(model)) return;
  try {
    await registry.register(model);
    await registry.activate(model.version, { trigger: 'cold-start' });
  } catch (error) {
    logger.warn({ err: error, registry: registry.dir }, 'could not save the first model');
  }
}

interface RetrainingWiring {
  config: Config;
  logger: Logger;
  models: ReturnType<typeof createModelSwitch>;
  registry: ModelRegistry | undefined;
  recalibrate(scale: number | null): void;
  onOutcome(outcome: TrainingOutcome): void;
}

/**
 * The retraining scheduler of docs/retraining.md, fed by every scored window.
 * Candidates train in a worker thread with the configured model settings.
 */
function createRetraining(wiring: RetrainingWiring): RetrainingScheduler {
  const { config, logger, models, registry } = wiring;
  const r = config.retraining;
  const modelConfig = modelConfigOf(config);
  return createRetrainingScheduler({
    policy: {
      ...DEFAULT_RETRAINING_POLICY,
      enabled: r.enabled,
      intervalMs: r.intervalMs,
      afterWindows: r.afterWindows,
      driftEnabled: r.drift.enabled,
      driftMinIntervalMs: r.drift.minIntervalMs,
      warmupWindows: config.model.warmupWindows,
      tolerance: r.tolerance,
    },
    reservoir: createTrainingReservoir({
      capacity: r.reservoirSize,
      holdoutCapacity: Math.max(1, Math.round(r.reservoirSize / 4)),
      seed: config.model.seed,
    }),
    drift: createDriftDetector({
      recentSize: r.drift.windows,
      threshold: r.drift.threshold,
      checkEvery: Math.max(1, Math.floor(r.drift.windows / 4)),
    }),
    model: models,
    train: async (windows, signal) => {
      const candidate = await trainInWorker(windows, modelConfig, {
        channels: windows[0]?.channels ?? [],
        signal,
      });
      const { windowsLeftOut } = candidate.metadata.training;
      if (windowsLeftOut > 0) {
        logger.info(
          { version: candidate.version, windows: windows.length, windowsLeftOut },
          'retraining: windows holding infinite or extreme values (beyond the normalisation limit) left out of training',
        );
      }
      return candidate;
    },
    recalibrate: wiring.recalibrate,
    ...(registry
      ? {
          registry: {
            register: (model) =>
              isSavableModel(model)
                ? registry.register(model)
                : Promise.reject(new TsadError('TSAD_ERR_INTERNAL', 'model cannot be saved')),
            activate: registry.activate,
            recordRejection: registry.recordRejection,
          },
        }
      : {}),
    onStart: (trigger) => logger.info({ trigger }, 'retraining: training a candidate model'),
    onOutcome: (outcome) => {
      const level = outcome.outcome === 'failed' ? 'warn' : 'info';
      logger[level](
        {
          trigger: outcome.trigger,
          outcome: outcome.outcome,
          version: outcome.version,
          previous: outcome.previousVersion,
          seconds: Number((outcome.durationMs / 1000).toFixed(1)),
          validation: outcome.validation,
        },
        `retraining: candidate ${outcome.outcome} (${outcome.reason})`,
      );
      wiring.onOutcome(outcome);
    },
  });
}
