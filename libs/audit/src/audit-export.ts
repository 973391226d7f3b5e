import { stringify } from 'csv-stringify';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EventAuditView, MessageAuditView } from './audit-views';

export type ExportFormat = 'csv' | 'ndjson';

/**
 * A spreadsheet takes a cell starting with = + - @ (or a tab or carriage return) for a formula;
 * message ids, error texts and actor names come from outside, so such a cell is prefixed with
 * an apostrophe (OWASP's advice for CSV injection). JSON cells start with { [ or a quote.
 */
export function spreadsheetSafe(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

const json = (value: unknown) =>
  value === null || value === undefined ? '' : JSON.stringify(value);

export const MESSAGE_COLUMNS: Array<[string, (v: MessageAuditView) => unknown]> = [
  ['id', (v) => v.id],
  ['recordedAt', (v) => v.recordedAt],
  ['messageId', (v) => v.messageId],
  ['routeId', (v) => v.routeId],
  ['routeVersion', (v) => v.routeVersion],
  ['outcome', (v) => v.outcome],
  ['source', (v) => json(v.source)],
  ['destinations', (v) => json(v.destinations)],
  ['attempts', (v) => v.attempts],
  ['receivedAt', (v) => v.receivedAt],
  ['doneAt', (v) => v.doneAt],
  ['errorCode', (v) => v.error?.code ?? ''],
  ['errorMessage', (v) => v.error?.message ?? ''],
  ['errorWhere', (v) => v.error?.where ?? ''],
  ['payloadSha256', (v) => v.payloadSha256],
  ['traceId', (v) => v.traceId ?? ''],
  ['body', (v) => json(v.body)],
  ['prevHash', (v) => v.prevHash],
  ['hash', (v) => v.hash],
];

export const EVENT_COLUMNS: Array<[string, (v: EventAuditView) => unknown]> = [
  ['id', (v) => v.id],
  ['recordedAt', (v) => v.recordedAt],
  ['occurredAt', (v) => v.occurredAt],
  ['type', (v) => v.type],
  ['outcome', (v) => v.outcome],
  ['actor', (v) => v.actor],
  ['actorKind', (v) => v.actorKind ?? ''],
  ['provider', (v) => v.provider ?? ''],
  ['ip', (v) => v.ip ?? ''],
  ['targetType', (v) => v.target?.type ?? ''],
  ['targetId', (v) => v.target?.id ?? ''],
  ['details', (v) => json(v.details)],
  ['before', (v) => json(v.before)],
  ['after', (v) => json(v.after)],
  ['diff', (v) => json(v.diff)],
  ['prevHash', (v) => v.prevHash],
  ['hash', (v) => v.hash],
];

/**
 * Streams views as CSV (RFC 4180 quoting by csv-stringify) or NDJSON. The rows come from a
 * generator that reads the database a batch at a time, and it is pulled only as fast as the
 * client reads: memory holds a batch, never the result.
 */
export function exportStream<V>(
  rows: AsyncIterable<V>,
  format: ExportFormat,
  columns: Array<[string, (v: V) => unknown]>,
  onError: (err: Error) => void,
): Readable {
  if (format === 'ndjson') {
    return Readable.from(
      (async function* () {
        for await (const row of rows) yield `${JSON.stringify(row)}\n`;
      })(),
    );
  }
  const csv = stringify({
    header: true,
    columns: columns.map(([key]) => key),
    cast: { string: spreadsheetSafe },
  });
  const records = Readable.from(
    (async function* () {
      for await (const row of rows) yield columns.map(([, pick]) => pick(row));
    })(),
  );
  pipeline(records, csv).catch((err: unknown) => {
    onError(err as Error);
    csv.destroy(err as Error);
  });
  return csv;
}
