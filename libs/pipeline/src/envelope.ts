/** Where a message came from: enough to find it again at the source. */
export interface SourceRef {
  /** The source's protocol (a connector kind), or `test` for dry runs. */
  type: string;
  /** Queue, topic or ingest path. */
  name: string;
  partition?: number;
  offset?: string;
}

export interface EnvelopeMeta {
  routeId: string;
  routeVersion: number;
  source: SourceRef;
  /** ISO-8601 time the source handed the message over. */
  receivedAt: string;
  redelivered: boolean;
  partition?: number;
  offset?: string;
  /**
   * The source record's key as text (Kafka; absent without one, or when it is not UTF-8), card
   * numbers redacted: an expression never sees one the route did not mask.
   */
  key?: string;
}

/** One message on its way through a route. Stages never mutate an envelope; they return a new one. */
export interface Envelope {
  id: string;
  headers: Record<string, string>;
  body: unknown;
  meta: EnvelopeMeta;
}
