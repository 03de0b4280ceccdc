/**
 * Rules that relate several settings. They are checked on the merged input,
 * beside the per-field validation, so that one run reports a type error and a
 * broken relation together; a rule whose fields are themselves invalid is
 * skipped (the field error already says what is wrong).
 */

/** One cross-field rule: the fields it reads, and a check that explains a violation. */
export interface CrossFieldRule {
  /** Dotted paths of the settings read; the problem is reported at the first. */
  paths: readonly string[];
  /** Returns what is wrong, or undefined when the values are fine. */
  check(...values: never[]): string | undefined;
}

function rule<T extends unknown[]>(
  paths: { [K in keyof T]: string },
  check: (...values: T) => string | undefined,
): CrossFieldRule {
  return { paths, check: check as unknown as CrossFieldRule['check'] };
}

/** Every cross-field rule of the configuration. */
export const CROSS_FIELD_RULES: readonly CrossFieldRule[] = [
  rule<[number, number]>(['window.stride', 'window.size'], (stride, size) =>
    stride > size ? `must be at most window.size (${size})` : undefined,
  ),
  rule<[number, number]>(
    ['kafka.heartbeatIntervalMs', 'kafka.sessionTimeoutMs'],
    (heartbeat, session) =>
      heartbeat >= session ? `must be below kafka.sessionTimeoutMs (${session})` : undefined,
  ),
  rule<[number, number]>(['alerts.confirmK', 'alerts.confirmN'], (k, n) =>
    k > n ? `must be at most alerts.confirmN (${n})` : undefined,
  ),
  rule<[number, number]>(['batching.highWaterMark', 'batching.maxBatchSize'], (hwm, batch) =>
    hwm < batch ? `must be at least batching.maxBatchSize (${batch})` : undefined,
  ),
  rule<[number, number]>(['influx.maxQueue', 'influx.batchSize'], (queue, batch) =>
    queue < batch ? `must be at least influx.batchSize (${batch})` : undefined,
  ),
  rule<[string, string]>(['kafka.sasl.username', 'kafka.sasl.mechanism'], (user, mechanism) =>
    mechanism !== 'none' && user === ''
      ? `is required when kafka.sasl.mechanism is ${mechanism}`
      : undefined,
  ),
  rule<[string, string]>(['kafka.sasl.password', 'kafka.sasl.mechanism'], (pass, mechanism) =>
    mechanism !== 'none' && pass === ''
      ? `is required when kafka.sasl.mechanism is ${mechanism}`
      : undefined,
  ),
  rule<[string | undefined, string]>(['kafka.deadLetterTopic', 'kafka.inputTopic'], (dlq, input) =>
    dlq === input ? 'must differ from kafka.inputTopic (rejects would loop)' : undefined,
  ),
  rule<[string, string | undefined]>(['kafka.inputTopic', 'kafka.deadLetterTopic'], (input, dlq) =>
    dlq === undefined && input.length > 245
      ? 'must be at most 245 characters while kafka.deadLetterTopic is unset (the derived <inputTopic>.dlq must fit in 249)'
      : undefined,
  ),
  rule<[string, string]>(['kafka.alertTopic', 'kafka.inputTopic'], (alert, input) =>
    alert === input ? 'must differ from kafka.inputTopic' : undefined,
  ),
  rule<[number, number]>(['threshold.rolling.warmup', 'threshold.rolling.window'], (w, size) =>
    w > size ? `must be at most threshold.rolling.window (${size})` : undefined,
  ),
  rule<[number, number]>(['threshold.telemanom.warmup', 'threshold.telemanom.window'], (w, size) =>
    w > size ? `must be at most threshold.telemanom.window (${size})` : undefined,
  ),
  rule<[number, number]>(['threshold.telemanom.zMin', 'threshold.telemanom.zMax'], (min, max) =>
    min >= max ? `must be below threshold.telemanom.zMax (${max})` : undefined,
  ),
  rule<[string[], string[], string[]]>(
    ['input.channels', 'kafka.brokers', 'simulator.channels'],
    (channels, brokers, simulated) =>
      brokers.length === 0 &&
      channels.length > 0 &&
      [...channels].sort().join('\u0000') !== [...simulated].sort().join('\u0000')
        ? `must name the channels of simulator.channels ([${simulated.join(', ')}]) in embedded mode (no kafka.brokers): the simulator's readings would all be dead-lettered as unknown_channel`
        : undefined,
  ),
  rule<[boolean, number, number, boolean]>(
    [
      'retraining.enabled',
      'retraining.intervalMs',
      'retraining.afterWindows',
      'retraining.drift.enabled',
    ],
    (enabled, interval, after, drift) =>
      enabled && interval === 0 && after === 0 && !drift
        ? 'is true but nothing triggers a retraining: set retraining.intervalMs, retraining.afterWindows or retraining.drift.enabled'
        : undefined,
  ),
];
