/**
 * The connection part of the `kafka` section as kafkajs client options
 * (brokers, client id, TLS, SASL, connection timeout), so every command that
 * opens a Kafka client (`run`, `simulate`, `doctor`) connects the same way.
 * A plain object shaped like kafkajs' KafkaConfig: config imports no vendor
 * client, the caller passes this to `new Kafka(...)`.
 */
import type { Config } from './schema.ts';

type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** One object type per mechanism, as kafkajs declares them. */
export type SaslOptions = {
  [M in SaslMechanism]: { mechanism: M; username: string; password: string };
}[SaslMechanism];

/** The kafkajs KafkaConfig fields derived from config (structurally compatible). */
export interface KafkaClientOptions {
  clientId: string;
  brokers: string[];
  ssl: boolean;
  sasl?: SaslOptions;
  connectionTimeout: number;
  /** kafkajs' own default (30 s) is too long for a command that should fail fast. */
  requestTimeout: number;
}

/** kafkajs client options for the configured brokers; `clientIdSuffix` tells tools apart in broker logs. */
export function kafkaClientOptions(
  kafka: Config['kafka'],
  clientIdSuffix = '',
): KafkaClientOptions {
  const options: KafkaClientOptions = {
    clientId: `${kafka.clientId}${clientIdSuffix}`,
    brokers: [...kafka.brokers],
    ssl: kafka.ssl,
    connectionTimeout: kafka.connectionTimeoutMs,
    requestTimeout: Math.max(kafka.connectionTimeoutMs, 10_000),
  };
  if (kafka.sasl.mechanism !== 'none') {
    options.sasl = {
      mechanism: kafka.sasl.mechanism,
      username: kafka.sasl.username,
      password: kafka.sasl.password,
    };
  }
  return options;
}
