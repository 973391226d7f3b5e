import { Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { JunctionError } from '@junction/common';
import {
  HttpIngestSource,
  IngestRefused,
  IngestSources,
  type HttpSourceSpec,
} from '@junction/connectors';
import { containsPan, ingestPathKey } from '@junction/pipeline';
import { ConnectionsService, RoutesService } from '@junction/registry';
import { keptMessageId, ProcessResult, SYNC_TIMEOUT_MS } from '@junction/runtime';
import { checkIngestSignature, SignatureMismatch } from './ingest-signature';

export interface IngestRequest {
  /** The message id, when the request decides it otherwise (a signed request without a key). */
  id?: string;
  path: string;
  payload: Buffer;
  headers: Record<string, string>;
}

/** An Idempotency-Key becomes the message id: an AMQP messageId holds at most 255 bytes. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

function messageId(key: string | undefined): string {
  if (key === undefined || key === '') return uuidv7();
  if (!IDEMPOTENCY_KEY.test(key))
    throw new JunctionError(
      'BAD_REQUEST',
      'Idempotency-Key must be 1 to 200 visible ASCII characters (it becomes the message id)',
    );
  // It would be the message id in replies, the audit trail, dead letters and every destination.
  if (containsPan(key))
    throw new JunctionError(
      'BAD_REQUEST',
      'Idempotency-Key must not hold a card number (it becomes the message id); send another key',
    );
  return key;
}

/** A signing key is re-read this often, and at most this often after a mismatch (a rotated key). */
const KEY_TTL_MS = 60_000;
const KEY_RECHECK_MS = 5_000;

interface CachedKey {
  key: Buffer;
  readAt: number;
}

/**
 * HTTP ingest: hands a request to the running HTTP source (libs/connectors) that claims its path;
 * the source's route delivers, or dead-letters, and records the message before this resolves, so
 * a 2xx always means the message is delivered or safely parked.
 */
@Injectable()
export class IngestService {
  private readonly keys = new Map<string, CachedKey>();

  constructor(
    private readonly sources: IngestSources,
    private readonly connections: ConnectionsService,
    private readonly routes: RoutesService,
  ) {}

  /**
   * The running source for a request's path (as sent, still percent-encoded), matched in the
   * normalised form routes claim their paths in. A path a route holds but does not run here
   * (stopped, or still starting) answers 503 with Retry-After: the caller should send again
   * later, not conclude the path is gone.
   */
  async resolve(rawPath: string): Promise<HttpIngestSource> {
    const key = ingestPathKey(rawPath);
    const source = key === undefined ? undefined : this.sources.find(key);
    if (source) return source;
    const owner = key === undefined ? null : await this.routes.ingestPathOwner(key);
    if (!owner) throw new JunctionError('NOT_FOUND', 'no route takes POST on this ingest path');
    const stopped = owner.desiredState === 'stopped';
    throw new JunctionError(
      'UNAVAILABLE',
      stopped
        ? "this ingest path's route is stopped; the message was not taken: send it again once the route runs"
        : "this ingest path's route is starting (or failing to start); the message was not taken: send it again",
      undefined,
      { retryAfterSeconds: stopped ? 30 : 5 },
    );
  }

  /**
   * Checks an HMAC-signed request against the `hmacKey` secret of the source's connection. The
   * key is cached; a mismatch re-reads it (at most every 5 s), so a rotated secret takes effect
   * at once, and the cache never outlives a minute.
   */
  async verifySignature(
    source: HttpSourceSpec,
    signature: string | string[] | undefined,
    body: Buffer,
    idempotencyKey: string | undefined,
  ): Promise<Buffer> {
    const name = source.connection!;
    const now = Date.now();
    // v2: made for this route's path (as normalised: the route's path is valid, so it has one).
    const path = source.signature === 'v2' ? (ingestPathKey(source.path) ?? '') : undefined;
    let cached = this.keys.get(name);
    if (!cached || now - cached.readAt > KEY_TTL_MS) cached = await this.readKey(name);
    try {
      return checkIngestSignature(signature, body, cached.key, now, idempotencyKey, path);
    } catch (err) {
      if (!(err instanceof SignatureMismatch) || now - cached.readAt < KEY_RECHECK_MS) throw err;
      const key = (await this.readKey(name)).key;
      return checkIngestSignature(signature, body, key, now, idempotencyKey, path);
    }
  }

  /**
   * Starts the message on its way; `id` is known at once (a sync caller that times out gets it).
   * A reply is awaited until `replyBy` (epoch ms).
   */
  ingest(
    source: HttpIngestSource,
    request: IngestRequest,
    replyBy?: number,
  ): { id: string; done: Promise<ProcessResult> } {
    const id =
      request.id !== undefined
        ? keptMessageId(request.id)
        : messageId(request.headers['idempotency-key']);
    try {
      // The runtime's handler answers with its ProcessResult (see RouteWorker.handle).
      const done = source.offer({ ...request, id, replyBy }) as Promise<ProcessResult>;
      return { id, done };
    } catch (err) {
      if (!(err instanceof IngestRefused)) throw err;
      throw new JunctionError(
        err.reason === 'saturated' ? 'SATURATED' : 'UNAVAILABLE',
        err.message,
        undefined,
        { retryAfterSeconds: 1 },
      );
    }
  }

  /** How long a sync caller waits: the source's `timeoutMs` (default 30 s). */
  replyTimeoutMs(source: HttpIngestSource): number {
    return source.spec.timeoutMs || SYNC_TIMEOUT_MS;
  }

  private async readKey(name: string): Promise<CachedKey> {
    const connection = await this.connections.resolve(name).catch(() => undefined);
    const secret = connection?.secrets.hmacKey;
    if (!secret) {
      this.keys.delete(name);
      throw new JunctionError(
        'UNAVAILABLE',
        `this ingest path cannot check signatures: connection '${name}' has no hmacKey secret`,
      );
    }
    const cached = { key: Buffer.from(secret, 'utf8'), readAt: Date.now() };
    this.keys.set(name, cached);
    return cached;
  }
}
