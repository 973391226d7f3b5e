/** A date and time with no offset (and no `Z`): ISO 8601 calls it local time, but whose? */
const NO_OFFSET = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?$/;

/**
 * A time from an API query (`from`, `to`), or undefined when it is none. One without an offset is
 * UTC, as the audit trail's days and the stats' buckets are (and as JavaScript reads a date
 * alone): `new Date()` would read it in the zone of the host that answers, so that two gateways
 * of one cluster, or one moved to another zone, would answer one query over different times.
 */
export function parseApiTime(text: string): Date | undefined {
  const d = new Date(NO_OFFSET.test(text) ? `${text.replace(' ', 'T')}Z` : text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
