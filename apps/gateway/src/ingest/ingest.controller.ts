import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AUTH_EVENT_SINK, AuthEventSink, AuthService, permits } from '@junction/auth';
import { isUtf8 } from 'node:buffer';
import { JunctionError } from '@junction/common';
import type { HttpSourceSpec, Reply } from '@junction/connectors';
import { changedNumber, redactPans, redactPanText } from '@junction/pipeline';
import type { ProcessResult } from '@junction/runtime';
import { sendError } from '../core/error.filter';
import { SIGNATURE_HEADER } from './ingest-signature';
import { IngestService } from './ingest.service';

/** How much longer than its timeout a sync caller waits for a message still being delivered. */
const SYNC_GRACE_MS = 1000;

const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'cookie', SIGNATURE_HEADER]);

function flatHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = request.headers;
  // for...in, not Object.entries: no array per header on every message.
  for (const name in headers) {
    if (CREDENTIAL_HEADERS.has(name)) continue; // credentials never travel on
    const value = headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The raw body as bytes: the route, not the HTTP layer, decides what a bad payload means. */
function rawBody(request: FastifyRequest): Buffer {
  const body = request.body;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(body === undefined ? '' : JSON.stringify(body));
}

/**
 * POST /ingest/{path}, mounted on Fastify itself rather than as a Nest controller: a request here
 * is a message, and Nest's per-request layers (router context, global guard, interceptors, pipes,
 * their rxjs chain and AsyncResource bindings) cost more CPU than the route's whole pipeline
 * while doing nothing for it: ingest authenticates per route (below), the admin-audit
 * interceptor records /api/v1 changes only, and no pipe applies to a raw body. What Fastify does
 * for every route stays: the body limit, the content-type parsers, request ids and their log
 * context. Errors leave in the API's one shape (sendError, as the exception filter does).
 * The OpenAPI document describes the endpoint by hand (openapi.ts).
 */
@Injectable()
export class IngestController {
  private readonly log = new Logger('Errors');

  constructor(
    private readonly ingest: IngestService,
    private readonly auth: AuthService,
    @Inject(AUTH_EVENT_SINK) private readonly events: AuthEventSink,
  ) {}

  /** Adds the catch-all route (every method: anything but POST is answered 400). */
  mount(fastify: FastifyInstance): void {
    fastify.all('/ingest/*', (request, reply) =>
      this.receive(request, reply).catch((err: unknown) => sendError(reply, err, this.log)),
    );
  }

  /**
   * POST /ingest/{path}. Authentication is per route (its `source.auth`).
   * async: 202 once delivered or dead-lettered; sync: 200 with the result.
   * A message the route rejects is dead-lettered and answered 422 with the reason.
   */
  async receive(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.method !== 'POST') throw new JunctionError('BAD_REQUEST', 'ingest takes POST only');
    // The path as sent (percent-encoded still): decoded once, by the one normalisation.
    const path = request.url.split('?')[0].replace(/^\/ingest\/?/, '');
    const ingestSource = await this.ingest.resolve(path);
    const { spec: source, route } = ingestSource;
    const payload = rawBody(request);
    const id = await this.authenticate(request, source, route.routeId, payload);
    const sync = source.mode === 'sync';
    const timeoutMs = this.ingest.replyTimeoutMs(ingestSource);
    const pending = this.ingest.ingest(
      ingestSource,
      { id, path: source.path, payload, headers: flatHeaders(request) },
      sync ? Date.now() + timeoutMs : undefined,
    );
    const routeHead = { routeId: route.routeId, version: route.routeVersion };
    const result = sync
      ? await this.withinDeadline(pending, routeHead, timeoutMs)
      : await pending.done;
    const head = { id: result.id, ...routeHead };
    switch (result.outcome) {
      case 'delivered':
      case 'replayed':
        if (!sync) {
          void reply.status(202).send({ ...head, status: 'delivered' });
          return;
        }
        if (result.replyError) {
          const { code, message } = result.replyError;
          throw new JunctionError(
            code === 'TIMEOUT' ? 'TIMEOUT' : 'BAD_GATEWAY',
            `message ${result.id} was delivered, but its reply ${code === 'TIMEOUT' ? 'did not come' : 'was lost'}: ${message}`,
            { ...head, status: 'delivered' },
          );
        }
        if (result.reply) {
          // The far side's bytes, served from the gateway's origin: never sniffed, never active.
          const contentType = replyContentType(result.reply);
          void reply
            .status(200)
            .header('x-junction-id', result.id)
            .header('content-type', contentType)
            .header('x-content-type-options', 'nosniff')
            .header('content-security-policy', "sandbox; default-src 'none'")
            .send(replyWithoutPans(result.reply.body, contentType));
          return;
        }
        // The route's result as it left: a field the route did not mask still holds no card
        // number on the way back (a reply is no place for one, even to its own sender).
        void reply
          .status(200)
          .header('x-junction-id', result.id)
          .send(redactPans(result.body ?? null));
        return;
      case 'filtered':
      case 'unroutable':
        void reply.status(sync ? 200 : 202).send({ ...head, status: result.outcome });
        return;
      case 'dead-lettered': {
        const { error, deadLetterId } = result;
        if (error?.code === 'DELIVERY_FAILED') {
          // Parked safely: an operator replays it once the destination is back.
          if (sync)
            throw new JunctionError(
              'BAD_GATEWAY',
              `message ${result.id} could not be delivered and was dead-lettered`,
              { ...head, deadLetterId },
            );
          void reply.status(202).send({ ...head, status: 'dead-lettered', deadLetterId });
          return;
        }
        throw new JunctionError(
          'UNPROCESSABLE',
          `message ${result.id} was rejected at ${error?.where ?? 'input'}: ${error?.message}`,
          { ...head, code: error?.code, deadLetterId },
        );
      }
    }
  }

  /**
   * The route's own ingest auth; a refusal is audited like any denied request. An API key must
   * carry an ingest grant (the `ingest` role, or admin) and, when it names routes, this one: any
   * other valid key (viewer, auditor, no role) is refused with 403. A signed request
   * without an Idempotency-Key gets its message id from its signature: a replay of it, within the
   * tolerance, carries the same id (and receivers drop it as a duplicate).
   */
  private async authenticate(
    request: FastifyRequest,
    source: HttpSourceSpec,
    routeId: string,
    payload: Buffer,
  ): Promise<string | undefined> {
    const auth = source.auth ?? 'apiKey';
    let actor = '(anonymous)';
    try {
      if (auth === 'apiKey') {
        const key = request.headers['x-api-key'];
        const principal = typeof key === 'string' ? await this.auth.principalFromApiKey(key) : null;
        if (!principal)
          throw new JunctionError('UNAUTHENTICATED', 'this ingest path needs a valid X-API-Key');
        actor = principal.name;
        if (!permits(principal.roles, 'ingest.send'))
          throw new JunctionError(
            'FORBIDDEN',
            `this API key has no ingest grant (its roles: ${principal.roles.join(', ') || 'none'}); ingest needs a key with the 'ingest' role`,
          );
        if (principal.ingestRoutes && !principal.ingestRoutes.includes(routeId))
          throw new JunctionError('FORBIDDEN', 'this API key may not post to this ingest path');
      } else if (auth === 'hmac') {
        const key = request.headers['idempotency-key'];
        const idempotencyKey = typeof key === 'string' && key !== '' ? key : undefined;
        const signature = await this.ingest.verifySignature(
          source,
          request.headers[SIGNATURE_HEADER],
          payload,
          idempotencyKey,
        );
        return idempotencyKey ? undefined : `sig-${signature.toString('hex').slice(0, 32)}`;
      }
      return undefined;
    } catch (err) {
      if (
        err instanceof JunctionError &&
        (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN')
      )
        await this.events.record({
          type: 'request.denied',
          actor,
          method: request.method,
          path: request.url.split('?')[0],
          status: err.code === 'FORBIDDEN' ? 403 : 401,
          ip: request.ip,
        });
      throw err;
    }
  }

  /**
   * A sync caller waits about the source's `timeoutMs`, then gets 504 with the message id. A reply
   * wait ends at `timeoutMs` inside the worker (504 "delivered, no reply"); this outer limit, a
   * second later, is for a message still being delivered (retries). The message is not abandoned:
   * it goes on to be delivered or dead-lettered, and is audited.
   */
  private async withinDeadline(
    pending: { id: string; done: Promise<ProcessResult> },
    route: { routeId: string; version?: number },
    timeoutMs: number,
  ): Promise<ProcessResult> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new JunctionError(
              'TIMEOUT',
              `message ${pending.id} is not done after ${timeoutMs} ms; it is still being delivered or dead-lettered (see the audit trail)`,
              { id: pending.id, ...route },
            ),
          ),
        timeoutMs + SYNC_GRACE_MS,
      );
    });
    try {
      return await Promise.race([pending.done, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Media types whose bytes are not text: their digit runs are not numbers anyone reads, and
 * rewriting them would corrupt them (an image, a PDF, an archive).
 */
const BINARY_MEDIA =
  /^(?:image|audio|video|font)\/|^application\/(?:octet-stream|pdf|zip|gzip|x-tar|x-7z-compressed|vnd\.ms-excel|vnd\.openxmlformats-officedocument\.[\w.]+|x-protobuf|protobuf|cbor|msgpack|x-msgpack|avro)\b/i;

/**
 * A reply's bytes with every card number redacted, as everything the gateway answers. JSON
 * structurally (a card number as a JSON number would otherwise leave invalid JSON behind; one a
 * double cannot hold makes it text); other text in its own encoding: UTF-8, UTF-16 when its
 * charset says so, and any other bytes as Latin-1, byte for byte (ISO-8859-1 and Windows-1252
 * partners spell digits as ASCII). The very same bytes when none is found. A binary media type
 * goes as it came.
 */
function replyWithoutPans(body: Buffer, contentType: string): Buffer {
  if (BINARY_MEDIA.test(contentType)) return body;
  const charset = /;\s*charset\s*=\s*"?([\w-]+)/i.exec(contentType)?.[1].toLowerCase();
  if (charset === 'utf-16' || charset === 'utf-16le' || charset === 'utf-16be') {
    const big =
      charset === 'utf-16be' || (charset === 'utf-16' && body[0] === 0xfe && body[1] === 0xff);
    const bytes = big ? Buffer.from(body).swap16() : body;
    if (bytes.length % 2 !== 0) return redactBytes(body, 'latin1');
    const text = bytes.toString('utf16le');
    const safe = redactPanText(text);
    if (safe === text) return body;
    const out = Buffer.from(safe, 'utf16le');
    return big ? out.swap16() : out;
  }
  if (!isUtf8(body)) return redactBytes(body, 'latin1');
  if (/^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType)) {
    const text = body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined; // says JSON, is not: redacted as text
    }
    if (parsed !== undefined && !changedNumber(text)) {
      // The values as parsed (41111111111111110e-1 is a card number too), then the text.
      const safe = redactPans(parsed);
      if (safe !== parsed) return Buffer.from(JSON.stringify(safe));
    }
  }
  return redactBytes(body, 'utf8');
}

/** `body` read as `encoding`, its card numbers redacted; the very same bytes when none is. */
function redactBytes(body: Buffer, encoding: 'utf8' | 'latin1'): Buffer {
  const text = body.toString(encoding);
  const safe = redactPanText(text);
  return safe === text ? body : Buffer.from(safe, encoding);
}

/** A media type as a header may carry it: type/subtype, optional parameters, no control characters. */
const MEDIA_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[\x20-\x7e]*)?$/;

/**
 * The reply's own content type when it is a well-formed one; JSON when it said none and parses
 * as JSON; else bytes.
 */
function replyContentType(answer: Reply): string {
  if (answer.contentType) {
    // Its parameters are the far side's text too (`text/plain; ref=4111...`).
    return MEDIA_TYPE.test(answer.contentType)
      ? redactPanText(answer.contentType)
      : 'application/octet-stream';
  }
  try {
    JSON.parse(answer.body.toString('utf8'));
    return 'application/json';
  } catch {
    return 'application/octet-stream';
  }
}
