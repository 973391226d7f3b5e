export * from './connector';
export * from './connectors';
export { sourceClaim, type SourceClaim } from './source-claims';
export type * from './plugin';
export { ConnectorPool, connectionFingerprint, type ConnectorPoolOptions } from './connector-pool';
export {
  consoleLogger,
  errorText,
  quietLogger,
  type ConnectionState,
  type ConnectorLogger,
} from './logger';
export type { AmqpDestinationSpec, AmqpSourceSpec } from './amqp/amqp.protocol';
export type { KafkaDestinationSpec, KafkaSourceSpec } from './kafka/kafka.protocol';
export type { HttpDestinationSpec, HttpSourceSpec } from './http/http.protocol';
export { SECRET_HEADER_PREFIX } from './http/http.protocol';
export {
  HttpIngestSource,
  IngestRefused,
  IngestSources,
  type IngestRequest,
} from './http/http.source';
export { AmqpClient, amqpConnectArgs, type AmqpClientOptions } from './amqp/amqp-client';
export { AmqpSource, stringifyHeaders, type AmqpSourceOptions } from './amqp/amqp.source';
export { AmqpDestination, type AmqpDestinationOptions } from './amqp/amqp.destination';
export {
  KafkaClient,
  kafkaClientConfig,
  stringifyKafkaHeaders,
  type KafkaClientOptions,
} from './kafka/kafka-client';
export { KafkaSource, JUNCTION_ID_HEADER, type KafkaSourceOptions } from './kafka/kafka.source';
export { KafkaDestination } from './kafka/kafka.destination';
export {
  KafkaBatcher,
  pinningPartitioner,
  producerBatchSend,
  type BatchRecord,
  type BatchSend,
  type KafkaBatchOptions,
  type RecordPosition,
} from './kafka/kafka-batcher';
export { HttpDestination, type HttpDestinationOptions } from './http/http.destination';
export { secretHeaderProblem } from './http/http-headers';
export { targetUrl } from './http/http-target';
export { queryCredentialNames } from './spec-fields';
export {
  EgressEntryError,
  EgressPolicy,
  METADATA_HOSTS,
  parseAddress,
  parseEgressEntry,
  type EgressPolicyOptions,
} from './egress/egress-policy';
export { listKafkaTopics, probeConnection, type ProbeOptions } from './probe';
export { SecretScrubber } from './secret-scrubber';
