/**
 * The one schema of every tsad setting, with its default and its meaning.
 * loadConfig() validates the merged sources against it; docs/configuration.md
 * is generated from it (scripts/gen-config-doc.ts), and a test checks that the
 * page lists every leaf, so the two cannot drift.
 *
 * Every object is strict (an unknown key is an error, usually a typo) and uses
 * `prefault({})` so that an absent section still gets its fields' defaults.
 * Cross-field rules (stride ≤ window size, ...) live in ./rules.ts, not here,
 * so that they can be reported together with type errors.
 *
 * Defaults of `model` and `threshold` mirror src/model/config.ts and
 * src/detector/thresholds/threshold.ts (config may not import them); a test
 * checks they agree.
 */
import { z } from 'zod';

const int = (min: number) => z.number().int().min(min);
const ms = () => z.number().int().min(0);
const probability = () => z.number().gt(0).lt(1);
const fraction = () => z.number().min(0).lt(1);
const nonEmpty = () => z.string().min(1);
const httpUrl = () => z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/**
 * A bootstrap broker as kafkajs reads it: it splits the text at the first `:`
 * into host and port, so an IPv6 literal (`[::1]:9092`) is refused rather than
 * left to fail at connect time with host `[`. A port outside 1-65535 (or none)
 * would likewise only fail when the daemon connects, after its retries.
 */
const broker = () =>
  z.string().superRefine((text, ctx) => {
    const match = /^([A-Za-z0-9._-]+):(\d{1,5})$/.exec(text);
    const port = Number(match?.[2]);
    if (match !== null && port >= 1 && port <= 65535) return;
    ctx.addIssue({
      code: 'custom',
      message: text.startsWith('[')
        ? 'IPv6 literals are not supported by the Kafka client (kafkajs); use a host name'
        : 'expected host:port with a port from 1 to 65535',
    });
  });

/** Kafka's rule for topic names; a broker refuses any other name, and the daemon would retry. */
const topicName = () =>
  nonEmpty()
    .max(249)
    .regex(
      /^[a-zA-Z0-9._-]*$/,
      'expected a Kafka topic name: only letters, digits, ".", "_" and "-"',
    )
    .refine(
      (name) => name !== '.' && name !== '..',
      'expected a Kafka topic name other than "." and ".."',
    );

const kafka = z
  .strictObject({
    brokers: z
      .array(broker())
      .default([])
      .describe(
        'Kafka bootstrap brokers as host:port. Empty = embedded mode: the daemon reads the built-in simulator and prints alerts on stdout.',
      ),
    clientId: nonEmpty()
      .default('tsad')
      .describe('Kafka client id (shows in broker logs and quotas).'),
    groupId: nonEmpty().default('tsad').describe('Consumer group of the daemon.'),
    inputTopic: topicName().default('sensor-readings').describe('Topic of sensor readings.'),
    alertTopic: topicName().default('tsad-alerts').describe('Topic alerts are produced to.'),
    deadLetterTopic: topicName()
      .optional()
      .describe('Topic for rejected messages. Default: `<inputTopic>.dlq`.'),
    ssl: z.boolean().default(false).describe('Connect to the brokers over TLS.'),
    sasl: z
      .strictObject({
        mechanism: z
          .enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512'])
          .default('none')
          .describe('SASL mechanism; `none` disables SASL.'),
        username: z.string().default('').describe('SASL user name.'),
        password: z.string().default('').describe('SASL password (masked by `tsad config print`).'),
      })
      .prefault({}),
    connectionTimeoutMs: int(1)
      .default(3000)
      .describe('Time allowed to open a broker connection (also the `tsad doctor` probe timeout).'),
    sessionTimeoutMs: int(1)
      .default(30000)
      .describe('Consumer session timeout: a consumer silent this long is removed from the group.'),
    heartbeatIntervalMs: int(1)
      .default(3000)
      .describe('Consumer heartbeat interval; must be below sessionTimeoutMs.'),
    maxMessageBytes: int(64)
      .default(1048576)
      .describe('Largest accepted message; larger ones go to the dead-letter topic.'),
    fromBeginning: z
      .boolean()
      .default(false)
      .describe('A new consumer group starts at the earliest offset instead of the latest.'),
    sendStalledAfterMs: int(1)
      .default(30000)
      .describe(
        'An alert or dead-letter send the brokers have not acknowledged after this long (kafkajs retries it without limit) is logged as a warning, again each such period, and makes /readyz answer 503.',
      ),
  })
  .prefault({});

const input = z
  .strictObject({
    fields: z
      .strictObject({
        sensor: nonEmpty().default('sensor').describe('JSON field holding the sensor id.'),
        timestamp: nonEmpty().default('ts').describe('JSON field holding the epoch-ms timestamp.'),
        value: nonEmpty()
          .default('value')
          .describe('JSON field of a single-channel reading (channel name `value`).'),
        values: nonEmpty()
          .default('values')
          .describe('JSON field of a multi-channel reading: an object channel → number.'),
      })
      .prefault({}),
    channels: z
      .array(nonEmpty())
      .superRefine((names, ctx) => {
        // A repeated name would make every reading fail the exact-set check.
        names.forEach((name, i) => {
          const first = names.indexOf(name);
          if (first < i)
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `repeats channel ${first} ("${name}")`,
            });
        });
      })
      .default([])
      .describe(
        "Channels every reading must carry, from the start (in any order in a message; others are dead-lettered as `unknown_channel`), in the model's order: the cold start trains on them in this order, and a model loaded at start must have exactly these (else exit 2). Empty = any set until a model is loaded; the cold start trains on the set most warm-up windows have, sorted by name.",
      ),
    maxLatenessMs: ms()
      .default(10000)
      .describe('A reading older than the newest of its sensor by more than this is dropped.'),
    maxFutureMs: ms()
      .default(600000)
      .describe(
        "A message with a reading stamped more than this ahead of the daemon's clock is dead-lettered (`future_timestamp`): one such reading would move its sensor's window ahead and make every current reading late. 0 = no limit.",
      ),
    maxGapMs: int(1)
      .default(60000)
      .describe('A silence longer than this between two readings of a sensor is a gap.'),
    gapPolicy: z
      .enum(['restart', 'bridge'])
      .default('restart')
      .describe('On a gap: `restart` the sensor window, or `bridge` it as if contiguous.'),
    duplicatePolicy: z
      .enum(['drop', 'replace'])
      .default('drop')
      .describe(
        'A second reading with the same sensor and timestamp: `drop` it, or `replace` the first.',
      ),
  })
  .prefault({});

const window = z
  .strictObject({
    size: int(2).default(32).describe('Readings per window (time steps the model sees).'),
    stride: int(1)
      .default(1)
      .describe('Readings between the starts of consecutive windows; at most size.'),
  })
  .prefault({});

const batching = z
  .strictObject({
    maxBatchSize: int(1).default(64).describe('Most windows scored in one model call.'),
    maxDelayMs: ms()
      .default(50)
      .describe('Longest a window waits for its batch to fill before it is scored anyway.'),
    highWaterMark: int(1)
      .default(10000)
      .describe('In-flight readings above which the source pauses (backpressure).'),
  })
  .prefault({});

const model = z
  .strictObject({
    path: nonEmpty()
      .optional()
      .describe('Model directory to load. Unset = cold start: train on warm-up windows first.'),
    registryDir: nonEmpty()
      .optional()
      .describe(
        'Model registry: every trained version is saved here and the daemon restarts with the active one. One daemon per registry: a second one on it fails to start. Unset = models live in memory only.',
      ),
    hiddenUnits: z
      .array(int(1))
      .min(1)
      .default([32])
      .describe('Units of each encoder LSTM layer, outermost first; the decoder mirrors them.'),
    codeSize: int(1).default(16).describe('Size of the dense code between encoder and decoder.'),
    dropout: fraction().default(0).describe('Dropout after each LSTM layer while training.'),
    learningRate: z.number().gt(0).default(0.005).describe('Adam learning rate.'),
    batchSize: int(1).default(64).describe('Training batch size.'),
    maxEpochs: int(1).default(50).describe('Most training epochs.'),
    patience: int(1)
      .default(5)
      .describe('Epochs without validation-loss improvement before training stops.'),
    validationFraction: fraction()
      .default(0.1)
      .describe('Share of the newest windows held out for validation.'),
    seed: z.number().int().default(42).describe('Seeds weight initialisation and shuffling.'),
    backend: z
      .enum(['auto', 'tensorflow', 'wasm', 'cpu'])
      .default('auto')
      .describe('TensorFlow.js backend; `auto` prefers native TensorFlow and falls back.'),
    warmupWindows: int(1)
      .default(500)
      .describe('Windows collected (over all sensors) before the cold-start model is trained.'),
    releaseLibraryPages: z
      .boolean()
      .default(true)
      .describe(
        'Once the model is ready and after each training, drop the pages of the native TensorFlow library that loading it left resident (about 300 MB; madvise MADV_PAGEOUT, Linux); they are read again when used.',
      ),
    scoreInWorker: z
      .boolean()
      .default(true)
      .describe(
        'Score in a worker thread, so Kafka consumption and decoding go on while the model runs (higher throughput, a second tfjs runtime in memory); false scores on the main thread.',
      ),
  })
  .prefault({});

const spotParams = {
  q: probability()
    .default(1e-3)
    .describe('Risk: probability of a normal score exceeding the threshold.'),
  nInit: int(10).default(1000).describe('Scores gathered per sensor before the first fit.'),
  initQuantile: probability()
    .default(0.98)
    .describe('Quantile of the initial scores that becomes the peak level.'),
  maxPeaks: int(10).default(500).describe('Peaks kept for the tail fit.'),
};

const threshold = z
  .strictObject({
    method: z
      .enum(['spot', 'dspot', 'rolling', 'telemanom'])
      .default('spot')
      .describe('Adaptive threshold method (see docs/thresholds.md).'),
    spot: z.strictObject(spotParams).prefault({}),
    dspot: z
      .strictObject({
        ...spotParams,
        depth: int(1).default(50).describe('Moving-average depth that absorbs drift.'),
      })
      .prefault({}),
    rolling: z
      .strictObject({
        window: int(2).default(1024).describe('Scores in the rolling window.'),
        k: z.number().gt(0).default(6).describe('Robust standard deviations above the median.'),
        warmup: int(1).default(200).describe('Scores learnt before the first judgement.'),
      })
      .prefault({}),
    telemanom: z
      .strictObject({
        window: int(2).default(2000).describe('Trailing window of smoothed normal scores.'),
        smoothingSpan: int(1).default(1).describe('EWMA span of the smoothing (1 = none).'),
        zMin: z.number().gt(0).default(2.5).describe('Smallest candidate z.'),
        zMax: z.number().gt(0).default(12).describe('Largest candidate z.'),
        zStep: z.number().gt(0).default(0.5).describe('Step between candidate z values.'),
        minPercentDecrease: fraction()
          .default(0.13)
          .describe(
            'Minimum relative drop between an anomalous peak and the highest normal score.',
          ),
        recomputeEvery: int(1)
          .default(50)
          .describe('Recompute the threshold every this many scores.'),
        warmup: int(1).default(250).describe('Scores learnt before the first judgement.'),
      })
      .prefault({}),
  })
  .prefault({});

const alerts = z
  .strictObject({
    confirmK: int(1)
      .default(3)
      .describe('An alert fires when k of the last n windows of a sensor are anomalous.'),
    confirmN: int(1).default(5).describe('The n of the k-of-n confirmation.'),
    resolveAfter: int(1)
      .default(5)
      .describe('Consecutive normal windows after which a firing alert resolves.'),
    hysteresis: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe(
        'A window counts as normal again only below baseline + hysteresis × (threshold − baseline).',
      ),
    minFiringMs: ms()
      .default(0)
      .describe('An alert stays firing at least this long before it may resolve.'),
    cooldownMs: ms()
      .default(60000)
      .describe('After a resolve, the same sensor does not fire again for this long.'),
    stdout: z.boolean().default(true).describe('Also print alerts as readable lines on stdout.'),
  })
  .prefault({});

const retraining = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Retrain the model in the background.'),
    intervalMs: ms()
      .default(3600000)
      .describe('Retrain at least this often (0 = never on a timer).'),
    afterWindows: ms()
      .default(0)
      .describe('Retrain after this many scored windows (0 = never on a count).'),
    drift: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Retrain when the score distribution drifts.'),
        windows: int(16)
          .default(512)
          .describe('Recent window scores compared with the reference distribution.'),
        threshold: z
          .number()
          .gt(0)
          .max(1)
          .default(0.5)
          .describe('Kolmogorov-Smirnov distance (0..1) above which the scores have drifted.'),
        minIntervalMs: ms()
          .default(600000)
          .describe('Least time between two drift-triggered retrainings.'),
      })
      .prefault({}),
    reservoirSize: int(1)
      .default(5000)
      .describe('Normal windows kept (reservoir sample) to retrain on.'),
    tolerance: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe(
        'Slack of the promotion rules: how much worse a candidate may be (docs/retraining.md).',
      ),
    keepVersions: int(1).default(5).describe('Model versions kept in the registry.'),
  })
  .prefault({});

const metrics = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve Prometheus metrics.'),
    host: nonEmpty().default('0.0.0.0').describe('Address the metrics server listens on.'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(9464)
      .describe('Port of `GET /metrics` (0 = any free port).'),
    topSensors: ms()
      .default(20)
      .describe('Sensors with their own series (highest scores); the rest are aggregated.'),
  })
  .prefault({});

const influx = z
  .strictObject({
    url: httpUrl()
      .optional()
      .describe('InfluxDB 1.x URL, e.g. http://localhost:8086. Unset = off.'),
    database: nonEmpty().default('tsad').describe('Database written to (created if missing).'),
    retentionPolicy: nonEmpty().default('tsad').describe('Retention policy written with.'),
    retentionDuration: z
      .string()
      .regex(/^(INF|\d+[mhdw])$/, 'expected an InfluxQL duration such as 7d, 12h or INF')
      .default('7d')
      .describe('Duration of the retention policy created when missing.'),
    username: z.string().default('').describe('InfluxDB user name.'),
    password: z.string().default('').describe('InfluxDB password (masked by `tsad config print`).'),
    batchSize: int(1).default(500).describe('Points per write.'),
    flushIntervalMs: int(1).default(1000).describe('Longest a point waits before being written.'),
    maxQueue: int(1)
      .default(10000)
      .describe(
        'Points queued while InfluxDB is slow; beyond this the oldest are dropped and counted.',
      ),
    writeRawReadings: z
      .boolean()
      .default(false)
      .describe('Also write every input reading (not only scores and alerts).'),
  })
  .prefault({});

const prometheus = z
  .strictObject({
    url: httpUrl()
      .optional()
      .describe('Prometheus server that scrapes tsad; only `tsad doctor` uses it (`/-/ready`).'),
  })
  .prefault({});

const simulator = z
  .strictObject({
    sensors: int(1)
      .default(4)
      .describe('Simulated sensors (named pump-1, compressor-2, turbine-3, ...).'),
    channels: z
      .array(nonEmpty())
      .min(1)
      .default(['temp', 'vibration', 'pressure'])
      .describe(
        'Channels of every sensor; temp, vibration, pressure, current, flow and humidity have realistic levels.',
      ),
    ratePerSecond: z
      .number()
      .min(0)
      .default(100)
      .describe(
        'Readings per second over all sensors (the embedded mode paces at this rate; 0 = as fast as possible).',
      ),
    intervalMs: int(1)
      .optional()
      .describe(
        'Time between two readings of one sensor in their timestamps. Unset = real time: sensors / ratePerSecond seconds (1000 ms at rate 0).',
      ),
    anomalyEvery: int(10)
      .default(750)
      .describe('Mean readings of one sensor between two injected anomalies.'),
    cleanStart: ms()
      .default(500)
      .describe('Readings per sensor at the start without anomalies (clean warm-up data).'),
    seed: z.number().int().default(1).describe('Seed of the simulated data and anomalies.'),
  })
  .prefault({});

const log = z
  .strictObject({
    level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('Least severe level logged.'),
    format: z
      .enum(['auto', 'json', 'pretty'])
      .default('auto')
      .describe(
        '`json` lines, `pretty` readable lines, or `auto`: pretty when stderr is a terminal.',
      ),
  })
  .prefault({});

const shutdown = z
  .strictObject({
    timeoutMs: int(1)
      .default(10000)
      .describe('Budget for a graceful stop; then the remaining steps are abandoned.'),
  })
  .prefault({});

const runtime = z
  .strictObject({
    optimizeForSize: z
      .boolean()
      .default(false)
      .describe(
        "`tsad run` sets V8's `--optimize-for-size` as it starts: the JavaScript heap is collected sooner and kept smaller (about 400 MB less resident memory at 100,000 sensors) at the cost of about a third fewer windows scored per second. For very large fleets (deploy/config/large-fleet.yaml).",
      ),
  })
  .prefault({});

/** The schema of the whole configuration (input side: what files and flags may hold). */
export const configSchema = z
  .strictObject({
    kafka,
    input,
    window,
    batching,
    model,
    threshold,
    alerts,
    retraining,
    metrics,
    influx,
    prometheus,
    simulator,
    log,
    shutdown,
    runtime,
  })
  .prefault({});

type Parsed = z.output<typeof configSchema>;

/** Deeply readonly view, as loadConfig hands it out (the object is frozen). */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The effective configuration: every default applied and derived values filled in. */
export type Config = DeepReadonly<
  Omit<Parsed, 'kafka'> & {
    kafka: Omit<Parsed['kafka'], 'deadLetterTopic'> & { deadLetterTopic: string };
  }
>;

/** What a config file or a flags object may hold: any subset of the settings. */
export type ConfigInput = z.input<typeof configSchema>;

/** Paths of settings whose values `tsad config print` masks. */
export const SECRET_PATHS: readonly string[] = ['kafka.sasl.password', 'influx.password'];

/**
 * Environment variables that set a setting besides its `TSAD_<SECTION>_<FIELD>`
 * name, because other tools use these names. The TSAD_ name wins when both are set.
 */
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  KAFKA_BROKERS: 'kafka.brokers',
  INFLUX_URL: 'influx.url',
  PROMETHEUS_URL: 'prometheus.url',
};
