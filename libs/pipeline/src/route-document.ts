import type { MaskConfig } from './stages/mask.stage';
import type { ValidateConfig } from './stages/validate.stage';

export interface AmqpSourceSpec {
  type: 'amqp';
  connection: string;
  queue: string;
  prefetch?: number;
}
export interface KafkaSourceSpec {
  type: 'kafka';
  connection: string;
  topic: string;
  groupId?: string;
  fromBeginning?: boolean;
}
export interface HttpSourceSpec {
  type: 'http';
  path: string;
  mode?: 'async' | 'sync';
  auth?: 'none' | 'apiKey' | 'hmac';
  /** auth: hmac: an http connection whose `hmacKey` secret checks the signatures. */
  connection?: string;
  /** mode: sync: longest a caller waits for the result or the reply (504 after). */
  timeoutMs?: number;
}
export type SourceSpec = AmqpSourceSpec | KafkaSourceSpec | HttpSourceSpec;

export type StageSpec =
  { validate: ValidateConfig } | { filter: string } | { transform: string } | { mask: MaskConfig };

export interface AmqpDestinationSpec {
  type: 'amqp';
  connection: string;
  exchange?: string;
  routingKey?: string;
  queue?: string;
  headers?: Record<string, string>;
  /** Wait for the answer (direct reply-to) and return it to a sync HTTP caller. */
  reply?: boolean;
  when?: string;
}
export interface KafkaDestinationSpec {
  type: 'kafka';
  connection: string;
  topic: string;
  key?: string;
  when?: string;
}
export interface HttpDestinationSpec {
  type: 'http';
  connection: string;
  path: string;
  method?: 'POST' | 'PUT' | 'PATCH';
  /** Return the response body to a sync HTTP caller. */
  reply?: boolean;
  when?: string;
}
export interface LogDestinationSpec {
  type: 'log';
  level?: 'info' | 'debug';
  when?: string;
}
export type DestinationSpec =
  AmqpDestinationSpec | KafkaDestinationSpec | HttpDestinationSpec | LogDestinationSpec;

export interface RetrySpec {
  attempts?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** A route document, as stored and as written by its authors (JSON or YAML). */
export interface RouteDocument {
  id: string;
  description?: string;
  source: SourceSpec;
  pipeline?: StageSpec[];
  destinations: DestinationSpec[];
  errors?: { retry?: RetrySpec; deadLetter?: Omit<DestinationSpec, 'when'> };
  audit?: { payload?: 'masked' | 'none' };
}

/** A connection a route names, and the secret it needs set (an HMAC-checked source needs `hmacKey`). */
export interface ConnectionRef {
  pointer: string;
  name: string;
  type: string;
  secret?: string;
}

/** Connections a route refers to, by name and type (to check at save time). */
export function connectionRefs(doc: RouteDocument): ConnectionRef[] {
  const refs: ConnectionRef[] = [];
  if (doc.source.connection !== undefined)
    refs.push({
      pointer: '/source/connection',
      name: doc.source.connection,
      type: doc.source.type,
      ...(doc.source.type === 'http' ? { secret: 'hmacKey' } : {}),
    });
  doc.destinations.forEach((d, i) => {
    if ('connection' in d)
      refs.push({ pointer: `/destinations/${i}/connection`, name: d.connection, type: d.type });
  });
  const dl = doc.errors?.deadLetter as DestinationSpec | undefined;
  if (dl && 'connection' in dl)
    refs.push({ pointer: '/errors/deadLetter/connection', name: dl.connection, type: dl.type });
  return refs;
}
