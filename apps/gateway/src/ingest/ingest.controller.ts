import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AUTH_EVENT_SINK, AuthEventSink, AuthService, permits } from '@junction/auth';
import { JunctionError } from '@junction/common';
import type { HttpSourceSpec } from '@junction/connectors';
import { redactPans } from '@junction/pipeline';
import type { ProcessResult } from '@junction/runtime';
import { sendError } from '../core/error.filter';
import { SIGNATURE_HEADER } from './ingest-signature';
import { servedReply } from './ingest-reply';
import { IngestService } from './ingest.service';

/** How much longer than its timeout a sync caller waits for a message still being delivered. */
const SYNC_GRACE_MS = 1000;

/**
 * What a caller (or a proxy on the way) authenticates with: never handed to the route as
 * `$headers`, where an expression could copy it into a body or a header that goes on.
 */
const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'cookie',
  SIGNATURE_HEADER,
]);

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
          const served = servedReply(result.reply);
          void reply
            .status(200)
            .header('x-junction-id', result.id)
            .header('content-type', served.contentType)
            .header('x-content-type-options', 'nosniff')
            .header('content-security-policy', "sandbox; default-src 'none'")
            .send(served.body);
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
          ...(request.routeOptions?.url ? { route: request.routeOptions.url } : {}),
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
