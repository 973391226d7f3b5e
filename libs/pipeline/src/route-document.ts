import type { RouteProtocols } from './route-protocol';
import type { MaskConfig } from './stages/mask.stage';
import type { ValidateConfig } from './stages/validate.stage';

/**
 * A source as the engine sees it: its protocol's fields are described by that protocol's
 * RouteProtocol (libs/connectors/src/<kind>/<kind>.protocol.ts declares the typed spec).
 */
export interface SourceSpec {
  type: string;
  connection?: string;
}

export type StageSpec =
  { validate: ValidateConfig } | { filter: string } | { transform: string } | { mask: MaskConfig };

/** A destination as the engine sees it (see SourceSpec); `log` is built in. */
export interface DestinationSpec {
  type: string;
  connection?: string;
  /** JSONata: deliver only when truthy. */
  when?: string;
  /** Return this destination's answer to a sync HTTP caller. */
  reply?: boolean;
}
export interface LogDestinationSpec {
  type: 'log';
  level?: 'info' | 'debug';
  when?: string;
}
/**
 * How a route delivers: `at-least-once` (the default: a crash redelivers, consumers de-duplicate
 * by message id) or `exactly-once` (Kafka to Kafka on one connection, in Kafka transactions).
 */
export type DeliveryMode = 'at-least-once' | 'exactly-once';

export interface RetrySpec {
  attempts?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * A route document, as stored and as written by its authors (JSON or YAML). `S` and `D` are the
 * source and destination specs; `libs/connectors` narrows them to the registered protocols
 * (its `Route` type).
 */
export interface RouteDocument<
  S extends SourceSpec = SourceSpec,
  D extends DestinationSpec = DestinationSpec,
> {
  id: string;
  description?: string;
  source: S;
  pipeline?: StageSpec[];
  destinations: D[];
  /** The dead-letter destination is any destination but `when` (each kind's own fields kept). */
  errors?: { retry?: RetrySpec; deadLetter?: D extends unknown ? Omit<D, 'when'> : never };
  audit?: { payload?: 'masked' | 'none' };
  /** Default `at-least-once`; `exactly-once` only where every side joins one transaction (see RouteProtocol.transactions). */
  delivery?: DeliveryMode;
}

/** A connection a route names, and the secret it needs set (an HMAC-checked source needs `hmacKey`). */
export interface ConnectionRef {
  pointer: string;
  name: string;
  type: string;
  secret?: string;
}

/** Connections a route refers to, by name and type (to check at save time). */
export function connectionRefs(doc: RouteDocument, protocols: RouteProtocols): ConnectionRef[] {
  const refs: ConnectionRef[] = [];
  if (doc.source.connection !== undefined) {
    const secret = protocols[doc.source.type]?.source?.connectionSecret;
    refs.push({
      pointer: '/source/connection',
      name: doc.source.connection,
      type: doc.source.type,
      ...(secret ? { secret } : {}),
    });
  }
  doc.destinations.forEach((d, i) => {
    if (d.connection !== undefined)
      refs.push({ pointer: `/destinations/${i}/connection`, name: d.connection, type: d.type });
  });
  const dl = doc.errors?.deadLetter as DestinationSpec | undefined;
  if (dl?.connection !== undefined)
    refs.push({ pointer: '/errors/deadLetter/connection', name: dl.connection, type: dl.type });
  return refs;
}
