/**
 * The kafkajs client built from the `kafka` config section, with kafkajs'
 * own log lines routed into tsad's logger, and the one place Kafka failures
 * become TsadErrors (code TSAD_ERR_KAFKA, kafkajs' `retriable` kept).
 */
import kafkajs, { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import type { Config } from '../../config/schema.ts';
import { TsadError } from '../../errors.ts';

/** The logger the Kafka adapters write to (a pino logger fits). */
export interface KafkaLogger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

/** How long a kafkajs warning or error, once logged, is logged again only at debug level. */
const REPEAT_QUIET_MS = 60_000;

/** Creates the kafkajs client for the configured brokers. */
export function createKafkaClient(config: Config, logger: KafkaLogger): Kafka {
  const k = config.kafka;
  const options: KafkaConfig = {
    clientId: k.clientId,
    brokers: [...k.brokers],
    ssl: k.ssl,
    connectionTimeout: k.connectionTimeoutMs,
    logLevel: logLevel.WARN,
    logCreator: () => {
      // kafkajs logs every failed attempt of a request it retries, and every
      // refused produce, which tsad retries (a dead-letter topic without write
      // permission, each rejected message every few seconds): a line is
      // logged once, and its repeats within REPEAT_QUIET_MS at debug level.
      const loggedAt = new Map<string, number>();
      return ({ level, log }) => {
        const { message, ...rest } = log;
        const fields = { kafkajs: rest };
        const now = Date.now();
        const last = loggedAt.get(message);
        if (level > logLevel.WARN || (last !== undefined && now - last < REPEAT_QUIET_MS)) {
          logger.debug(fields, `kafkajs: ${message}`);
          return;
        }
        if (loggedAt.size >= 1_000) loggedAt.clear();
        loggedAt.set(message, now);
        if (level <= logLevel.ERROR) logger.error(fields, `kafkajs: ${message}`);
        else logger.warn(fields, `kafkajs: ${message}`);
      };
    },
  };
  if (k.sasl.mechanism !== 'none') {
    options.sasl = {
      mechanism: k.sasl.mechanism,
      username: k.sasl.username,
      password: k.sasl.password,
    } as SASLOptions;
  }
  return new Kafka(options);
}

/**
 * The broker's error code name (`MESSAGE_TOO_LARGE`, `TOPIC_AUTHORIZATION_FAILED`)
 * of a kafkajs failure, also when kafkajs wrapped it as non-retriable; undefined
 * for failures the broker did not answer with an error code (a connection lost).
 */
export function kafkaErrorType(error: unknown): string | undefined {
  // kafkajs' error classes are on its CommonJS exports object only: Node's
  // ESM loader does not see them as named exports.
  const { KafkaJSProtocolError } = kafkajs;
  if (error instanceof KafkaJSProtocolError) return error.type;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return cause instanceof KafkaJSProtocolError ? cause.type : undefined;
}

/** Wraps a kafkajs failure as TSAD_ERR_KAFKA, keeping kafkajs' retriable flag. */
export function kafkaError(message: string, cause: unknown): TsadError {
  const retriable = (cause as { retriable?: unknown } | undefined)?.retriable;
  const type = kafkaErrorType(cause);
  const reason = cause instanceof Error ? `: ${cause.message}${type ? ` (${type})` : ''}` : '';
  return new TsadError('TSAD_ERR_KAFKA', `${message}${reason}`, {
    cause,
    ...(typeof retriable === 'boolean' ? { retriable } : {}),
  });
}
