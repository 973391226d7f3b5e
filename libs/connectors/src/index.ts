export * from './connector';
export { ConnectorPool, connectionFingerprint, type ConnectorPoolOptions } from './connector-pool';
export { consoleLogger, errorText, type ConnectionState, type ConnectorLogger } from './logger';
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
export { KafkaDestination, type KafkaDestinationOptions } from './kafka/kafka.destination';
export {
  HttpDestination,
  secretHeaderProblem,
  type HttpDestinationOptions,
} from './http/http.destination';
export { targetUrl } from './http/http-target';
export {
  EgressEntryError,
  EgressPolicy,
  METADATA_HOSTS,
  parseAddress,
  parseEgressEntry,
  type EgressPolicyOptions,
} from './egress/egress-policy';
export { listKafkaTopics, probeConnection, type ProbeOptions } from './probe';
