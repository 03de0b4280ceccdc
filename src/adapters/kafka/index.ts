/** The Kafka adapters: client, input source (consumer group, DLQ) and alert sink. */
export { createKafkaAlertSink, type KafkaAlertSink } from './kafka-alert-sink.ts';
export { createKafkaClient, type KafkaLogger, kafkaError } from './kafka-client.ts';
export { createKafkaSource, DLQ_HEADERS, type PipelineInput } from './kafka-source.ts';
