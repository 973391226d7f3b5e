import { createHash } from 'node:crypto';
import { canonicalJson, Json } from './audit-json';

/** The hash a chain starts from: 32 zero bytes. */
export const GENESIS_HASH = Buffer.alloc(32);

export type MessageOutcomeValue =
  'delivered' | 'filtered' | 'unroutable' | 'dead-lettered' | 'replayed';

/** One message on one route, as stored: every text already redacted and fit for Postgres. */
export interface MessageRow {
  messageId: string;
  routeId: string;
  routeVersion: number;
  source: Json;
  outcome: MessageOutcomeValue;
  /** `[{ destination, receipt }]` for every destination that confirmed. */
  destinations: Json;
  /** Searchable names of the places it went: `kafka:<topic>`, `amqp:<exchange>/<key>`, `http:<url>`, `log`. */
  targets: string[];
  attempts: number;
  receivedAt: string;
  doneAt: string;
  errorCode: string | null;
  errorMessage: string | null;
  errorWhere: string | null;
  body: Json;
  /** Hex SHA-256 of the payload as received. */
  payloadSha256: string;
  /** The W3C trace id (32 hex digits) the message travelled in, if it had one. */
  traceId: string | null;
}

export type EventOutcome = 'success' | 'failure' | 'denied';

/** One thing a person or a machine did (or was refused), as stored. */
export interface EventRow {
  occurredAt: string;
  type: string;
  outcome: EventOutcome;
  actor: string;
  actorKind: string | null;
  provider: string | null;
  ip: string | null;
  targetType: string | null;
  targetId: string | null;
  details: Json;
  before: Json;
  after: Json;
  /** RFC 6902 operations from `before` to `after`. */
  diff: Json;
}

/** A row with its place in the chain. */
export interface Chained<R> {
  seq: string;
  recordedAt: string;
  prevHash: Buffer;
  hash: Buffer;
  row: R;
  /** The row's content (hashed fields) in canonical JSON, when the writer made it. */
  canonical?: string[];
}

export type ChainTableName = 'audit_messages' | 'audit_events';

/** How one audit table is written, read back and hashed (the writer and the verifier share it). */
export interface ChainTable<R> {
  readonly name: ChainTableName;
  /** One statement: the batch's INSERT (unnest of one array per column) and the head's move. */
  readonly appendSql: string;
  /**
   * The same, done only if the head is still where this writer left it (two more parameters:
   * its seq and hash). Answers `moved`: 1 if the rows went in, 0 if another writer moved the head.
   */
  readonly appendIfHeadSql: string;
  /** The row's fields the hash covers, in a fixed order. */
  content(row: R): Json[];
  /** Parameters of {@link appendSql}. */
  appendParams(rows: Array<Chained<R>>, head: { seq: string; hash: Buffer }): unknown[];
  /** A row as Postgres gives it back (`SELECT *`). */
  fromDb(db: Record<string, unknown>): Chained<R>;
}

/**
 * hash(n) = SHA-256(hash(n-1) || canonical JSON of [table/version, seq, recordedAt, ...content]).
 * The table name is in it so that a row cannot be moved to the other chain.
 */
export function chainHash(
  table: ChainTableName,
  prevHash: Buffer,
  seq: string,
  recordedAt: string,
  content: Json[],
): Buffer {
  return chainHashOf(table, prevHash, seq, recordedAt, content.map(canonicalJson));
}

/**
 * {@link chainHash} from the content already in canonical JSON, one text per field: the writer
 * makes them once per row (a batch tried again is chained again), and stores the body's as is.
 */
export function chainHashOf(
  table: ChainTableName,
  prevHash: Buffer,
  seq: string,
  recordedAt: string,
  canonicalContent: string[],
): Buffer {
  let text = `[${JSON.stringify(`${table}/v1`)},${JSON.stringify(seq)},${JSON.stringify(recordedAt)}`;
  for (const field of canonicalContent) text += `,${field}`;
  return createHash('sha256')
    .update(prevHash)
    .update(text + ']')
    .digest();
}

const iso = (value: unknown): string => (value as Date).toISOString();
const hex = (value: unknown): string => (value as Buffer).toString('hex');
const jsonText = (value: Json): string | null => (value === null ? null : JSON.stringify(value));
/** A Postgres text[] literal: every element quoted, quotes and backslashes escaped. */
const pgTextArray = (items: string[]): string =>
  `{${items.map((item) => `"${item.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;

/** Both append statements of a table, from its INSERT; `$n` and `$n+1` are the head's new seq and hash. */
function appendStatements(
  table: ChainTableName,
  insert: string,
  n: number,
): Pick<ChainTable<unknown>, 'appendSql' | 'appendIfHeadSql'> {
  const move = `UPDATE audit_chain_heads SET seq = $${n}::bigint, hash = decode($${n + 1}, 'hex'), recorded_at = $1::timestamptz
    WHERE table_name = '${table}'`;
  return {
    appendSql: `WITH appended AS (${insert} RETURNING 1) ${move}`,
    appendIfHeadSql: `
    WITH head AS (${move} AND seq = $${n + 2}::bigint AND hash = decode($${n + 3}, 'hex') RETURNING 1),
      appended AS (${insert} WHERE EXISTS (SELECT 1 FROM head) RETURNING 1)
    SELECT count(*)::int AS moved FROM head`,
  };
}

/** Where the body is in a message row's content. */
export const MESSAGE_BODY = 13;

export const MESSAGES: ChainTable<MessageRow> = {
  name: 'audit_messages',
  ...appendStatements(
    'audit_messages',
    `INSERT INTO audit_messages (seq, recorded_at, message_id, route_id, route_version, source, outcome,
        destinations, targets, attempts, received_at, done_at, error_code, error_message, error_where, body,
        payload_sha256, trace_id, prev_hash, hash)
      SELECT t.seq, $1::timestamptz, t.message_id, t.route_id, t.route_version, t.source::jsonb, t.outcome,
        t.destinations::jsonb, t.targets::text[], t.attempts,
        t.received_at, t.done_at, t.error_code, t.error_message, t.error_where, t.body::jsonb,
        decode(t.payload_sha256, 'hex'), t.trace_id, decode(t.prev_hash, 'hex'), decode(t.hash, 'hex')
      FROM unnest($2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[],
        $9::text[], $10::int[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::text[], $15::text[],
        $16::text[], $17::text[], $18::text[], $19::text[], $20::text[])
        AS t(seq, message_id, route_id, route_version, source, outcome, destinations, targets, attempts,
          received_at, done_at, error_code, error_message, error_where, body, payload_sha256, trace_id,
          prev_hash, hash)`,
    21,
  ),
  content: (r) => [
    r.messageId,
    r.routeId,
    r.routeVersion,
    r.source,
    r.outcome,
    r.destinations,
    r.targets,
    r.attempts,
    r.receivedAt,
    r.doneAt,
    r.errorCode,
    r.errorMessage,
    r.errorWhere,
    r.body,
    r.payloadSha256,
    // Hashed when there is one: the rows written before trace ids existed keep their hashes.
    ...(r.traceId === null ? [] : [r.traceId]),
  ],
  appendParams: (rows, head) => {
    const col = <T>(pick: (c: Chained<MessageRow>) => T): T[] => rows.map(pick);
    return [
      rows[0].recordedAt,
      col((c) => c.seq),
      col((c) => c.row.messageId),
      col((c) => c.row.routeId),
      col((c) => c.row.routeVersion),
      col((c) => JSON.stringify(c.row.source)),
      col((c) => c.row.outcome),
      col((c) => JSON.stringify(c.row.destinations)),
      col((c) => pgTextArray(c.row.targets)),
      col((c) => c.row.attempts),
      col((c) => c.row.receivedAt),
      col((c) => c.row.doneAt),
      col((c) => c.row.errorCode),
      col((c) => c.row.errorMessage),
      col((c) => c.row.errorWhere),
      // The canonical text made for the hash is valid JSON for the jsonb column: not made twice.
      col((c) =>
        c.row.body === null ? null : (c.canonical?.[MESSAGE_BODY] ?? jsonText(c.row.body)),
      ),
      col((c) => c.row.payloadSha256),
      col((c) => c.row.traceId),
      col((c) => c.prevHash.toString('hex')),
      col((c) => c.hash.toString('hex')),
      head.seq,
      head.hash.toString('hex'),
    ];
  },
  fromDb: (d) => ({
    seq: String(d.seq),
    recordedAt: iso(d.recorded_at),
    prevHash: d.prev_hash as Buffer,
    hash: d.hash as Buffer,
    row: {
      messageId: d.message_id as string,
      routeId: d.route_id as string,
      routeVersion: d.route_version as number,
      source: d.source as Json,
      outcome: d.outcome as MessageOutcomeValue,
      destinations: d.destinations as Json,
      targets: d.targets as string[],
      attempts: d.attempts as number,
      receivedAt: iso(d.received_at),
      doneAt: iso(d.done_at),
      errorCode: d.error_code as string | null,
      errorMessage: d.error_message as string | null,
      errorWhere: d.error_where as string | null,
      body: d.body as Json,
      payloadSha256: hex(d.payload_sha256),
      traceId: (d.trace_id as string | null | undefined) ?? null,
    },
  }),
};

export const EVENTS: ChainTable<EventRow> = {
  name: 'audit_events',
  ...appendStatements(
    'audit_events',
    `INSERT INTO audit_events (seq, recorded_at, occurred_at, type, outcome, actor, actor_kind, provider, ip,
        target_type, target_id, details, before, after, diff, prev_hash, hash)
      SELECT t.seq, $1::timestamptz, t.occurred_at, t.type, t.outcome, t.actor, t.actor_kind, t.provider, t.ip,
        t.target_type, t.target_id, t.details::jsonb, t.before::jsonb, t.after::jsonb, t.diff::jsonb,
        decode(t.prev_hash, 'hex'), decode(t.hash, 'hex')
      FROM unnest($2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
        $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
        $17::text[])
        AS t(seq, occurred_at, type, outcome, actor, actor_kind, provider, ip, target_type, target_id, details,
          before, after, diff, prev_hash, hash)`,
    18,
  ),
  content: (r) => [
    r.occurredAt,
    r.type,
    r.outcome,
    r.actor,
    r.actorKind,
    r.provider,
    r.ip,
    r.targetType,
    r.targetId,
    r.details,
    r.before,
    r.after,
    r.diff,
  ],
  appendParams: (rows, head) => {
    const col = <T>(pick: (c: Chained<EventRow>) => T): T[] => rows.map(pick);
    return [
      rows[0].recordedAt,
      col((c) => c.seq),
      col((c) => c.row.occurredAt),
      col((c) => c.row.type),
      col((c) => c.row.outcome),
      col((c) => c.row.actor),
      col((c) => c.row.actorKind),
      col((c) => c.row.provider),
      col((c) => c.row.ip),
      col((c) => c.row.targetType),
      col((c) => c.row.targetId),
      col((c) => JSON.stringify(c.row.details)),
      col((c) => jsonText(c.row.before)),
      col((c) => jsonText(c.row.after)),
      col((c) => jsonText(c.row.diff)),
      col((c) => c.prevHash.toString('hex')),
      col((c) => c.hash.toString('hex')),
      head.seq,
      head.hash.toString('hex'),
    ];
  },
  fromDb: (d) => ({
    seq: String(d.seq),
    recordedAt: iso(d.recorded_at),
    prevHash: d.prev_hash as Buffer,
    hash: d.hash as Buffer,
    row: {
      occurredAt: iso(d.occurred_at),
      type: d.type as string,
      outcome: d.outcome as EventOutcome,
      actor: d.actor as string,
      actorKind: d.actor_kind as string | null,
      provider: d.provider as string | null,
      ip: d.ip as string | null,
      targetType: d.target_type as string | null,
      targetId: d.target_id as string | null,
      details: d.details as Json,
      before: d.before as Json,
      after: d.after as Json,
      diff: d.diff as Json,
    },
  }),
};
