import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { request, type Dispatcher } from 'undici';
import type { HttpDestinationSpec } from './http.protocol';
import { InFlight } from '../backoff';
import { badConfig, configNumber, configString } from '../config';
import {
  ConnectorError,
  type ConnectorConnection,
  type DeliveryReceipt,
  type Destination,
  MAX_REPLY_BYTES,
  type OutboundMessage,
  type Reply,
  type SentRequest,
} from '../connector';
import { errorText } from '../logger';
import { SecretScrubber } from '../secret-scrubber';
import { CREDENTIAL_NAME, CREDENTIAL_VALUE } from '../spec-fields';
import type { EgressPolicy } from '../egress/egress-policy';
import {
  FIELD_VALUE,
  MESSAGE_HEADER_REFUSED,
  RESERVED_HEADERS,
  secretHeaderProblem,
  TOKEN,
} from './http-headers';
import { targetUrl } from './http-target';

export interface HttpDestinationOptions {
  /**
   * Where this destination may send. Checked here on the URL's host (a refused target is refused
   * for good, without a request) and by the dispatcher's connector on every address it connects to.
   */
  egress: EgressPolicy;
  /** The pool's undici agent, whose connector applies the same policy. */
  dispatcher: Dispatcher;
  /**
   * The clock a partner's Retry-After is held by, in ms (tests give their own). Default a
   * monotonic one: a wall clock set back an hour must not hold the destination an hour more.
   */
  now?: () => number;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

const gzipAsync = promisify(gzip);

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * Sends each message as one JSON request (POST by default, or PUT or PATCH) to `config.baseUrl +
 * spec.path`, with `Idempotency-Key: <message id>` so the receiver can de-duplicate retries.
 * Resolves on 2xx. Rejects, not retryable: any other 4xx, and 3xx (redirects are never followed,
 * so a request cannot be bounced to a host off the allowlist); retryable: 408, 429, 5xx, network
 * failures and the time limit (`config.timeoutMs`, default 5 s, for the whole exchange).
 * With `compression: gzip` the body goes gzipped, with `Content-Encoding: gzip`.
 */
export class HttpDestination implements Destination {
  private readonly url: URL;
  private readonly receiptUrl: string;
  private readonly method: 'POST' | 'PUT' | 'PATCH';
  private readonly timeoutMs: number;
  /** Why the policy refuses this destination's host, if it does. */
  private readonly refused?: string;
  private readonly fixedHeaders: Record<string, string>;
  /** The connection's secrets, which a reply must not carry back in any form (see SecretScrubber). */
  private readonly secrets: SecretScrubber;
  private readonly gzip: boolean;
  /** Message headers sent on although they look like credentials (spec.passHeaders). */
  private readonly passHeaders: ReadonlySet<string>;
  private readonly inFlight = new InFlight();
  private closed = false;
  /** Until when (ms on this.now(), a monotonic clock) the partner asked not to be called. */
  private holdUntil = 0;
  /** The status of the answer that asked for the hold (429, 503). */
  private holdStatus = 0;
  private readonly now: () => number;

  constructor(
    connection: ConnectorConnection,
    spec: HttpDestinationSpec,
    private readonly options: HttpDestinationOptions,
  ) {
    const baseUrl = configString(connection, 'baseUrl', true);
    let base: URL;
    try {
      base = new URL(baseUrl);
      this.url = targetUrl(baseUrl, spec.path);
    } catch (err) {
      throw badConfig(connection, `cannot call ${spec.path}: ${errorText(err)}`);
    }
    this.receiptUrl = `${this.url.origin}${this.url.pathname}`;
    this.now = options.now ?? (() => performance.now());
    this.method = spec.method ?? 'POST';
    this.gzip = spec.compression === 'gzip';
    this.passHeaders = new Set((spec.passHeaders ?? []).map((name) => name.toLowerCase()));
    this.timeoutMs = configNumber(connection, 'timeoutMs') ?? DEFAULT_TIMEOUT_MS;
    this.refused = options.egress.refusesName(
      this.url.hostname,
      Number(this.url.port) || DEFAULT_PORTS[this.url.protocol],
    );
    const credentials = { ...secretHeaders(connection), ...authHeader(connection, base) };
    this.fixedHeaders = { ...staticHeaders(connection), ...credentials };
    // A reply goes back to whoever posted the message (anyone, on a route without ingest auth),
    // and a service that echoes its request's headers (a debug endpoint, a proxy's echo, an error
    // page answered 200) would hand them the gateway's credentials for that service.
    this.secrets = new SecretScrubber([
      ...Object.values(connection.secrets),
      ...Object.values(credentials),
    ]);
  }

  send(message: OutboundMessage): Promise<DeliveryReceipt> {
    const refused = this.refusal() ?? this.held();
    if (refused) return Promise.reject(refused);
    return this.inFlight.track(this.call(message).then((r) => r.receipt));
  }

  /**
   * Resolves on the 2xx (the message is delivered); the response body is the reply (up to 5 MiB,
   * read within the connection's time limit). A body that fails to arrive fails the reply only,
   * never the delivery: the message is not sent again for it.
   */
  async request(message: OutboundMessage): Promise<SentRequest> {
    const refused = this.refusal() ?? this.held();
    if (refused) throw refused;
    const { receipt, reply } = await this.inFlight.track(this.call(message, true));
    return { receipt, reply: reply! };
  }

  private refusal(): ConnectorError | undefined {
    if (this.closed) return new ConnectorError('CLOSED', 'http destination is closed', false);
    if (this.refused)
      return new ConnectorError(
        'NOT_ALLOWED',
        `http ${this.method} ${this.receiptUrl}: egress refused: ${this.refused}`,
        false,
      );
    return undefined;
  }

  /**
   * While the partner's last Retry-After runs, a retryable failure for the time left, without a
   * request: a partner that is limiting (429) or down (503) said when to come back, and every
   * message in flight (a prefetch of 100) calling it meanwhile would only prolong it. Each
   * message's retry waits that long and tries again: a try that called nobody is not one of its
   * attempts (else one Retry-After would dead-letter every message of the hold uncalled).
   */
  private held(): ConnectorError | undefined {
    const left = this.holdUntil - this.now();
    if (left <= 0) return undefined;
    return new ConnectorError(
      'REJECTED',
      `http ${this.method} ${this.receiptUrl}: not called: the partner asked to wait (${this.holdStatus} with Retry-After), ${Math.ceil(left / 1000)} s left`,
      true,
      // The status it answered: a message whose last try was held failed for that.
      { retryAfterMs: left, notSent: true, status: this.holdStatus },
    );
  }

  /** Holds every send for a partner's Retry-After, up to MAX_HOLD_MS (see held()). */
  private hold(retryAfterMs: number | undefined, status: number): void {
    if (retryAfterMs === undefined || retryAfterMs <= 0) return;
    const until = this.now() + Math.min(retryAfterMs, MAX_HOLD_MS);
    if (until <= this.holdUntil) return;
    this.holdUntil = until;
    this.holdStatus = status;
  }

  /**
   * A failure whose text quotes the far side (a redirect's host, what the HTTP parser or the TLS
   * check found in its answer) with every form of the connection's secrets replaced, whatever
   * their case (a URL's host comes lower-cased): the text reaches the dead letter, the audit
   * record and route status, which a viewer reads, and a partner answering `Location:
   * http://<its bearer token>.example/` had put the token there. Its cause, holding the same
   * text, is dropped then.
   */
  private withoutSecrets(err: ConnectorError): ConnectorError {
    const message = this.secrets.textAnyCase(err.message);
    return message === err.message
      ? err
      : new ConnectorError(err.code, message, err.retryable, {
          ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
          ...(err.status !== undefined ? { status: err.status } : {}),
          ...(err.notSent ? { notSent: true } : {}),
        });
  }

  /** Waits for requests in flight; the agent belongs to the pool. */
  async close(): Promise<void> {
    this.closed = true;
    await this.inFlight.settled();
  }

  private async call(
    message: OutboundMessage,
    withReply = false,
  ): Promise<{ receipt: DeliveryReceipt; reply?: Promise<Reply> }> {
    const where = `http ${this.method} ${this.receiptUrl}`;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    let readingReply = false;
    try {
      const body = this.gzip ? await gzipAsync(message.body) : message.body;
      const response = await request(this.url, {
        method: this.method,
        dispatcher: this.options.dispatcher,
        headers: {
          ...forwardableHeaders(message.headers, this.passHeaders),
          ...this.fixedHeaders,
          'content-type': 'application/json',
          ...(this.gzip ? { 'content-encoding': 'gzip' } : {}),
          'idempotency-key': message.id,
        },
        body,
        signal: abort.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const status = response.statusCode;
      const ok = status >= 200 && status < 300;
      if (ok && withReply) {
        const contentType = response.headers['content-type'];
        // Read now (the connection goes back to the pool), settle apart from the delivery.
        readingReply = true;
        const reply = readCapped(response.body, MAX_REPLY_BYTES, where)
          .then(
            (body): Reply => ({
              body: this.secrets.bytes(body),
              // Its parameters are the far side's text too.
              ...(typeof contentType === 'string'
                ? { contentType: this.secrets.text(contentType) }
                : {}),
            }),
            (err: unknown) => {
              throw this.withoutSecrets(
                err instanceof ConnectorError
                  ? err
                  : httpConnectorError(
                      err,
                      `${where} (reply)`,
                      abort.signal.aborted,
                      this.timeoutMs,
                    ),
              );
            },
          )
          .finally(() => clearTimeout(timer));
        reply.catch(() => undefined); // the caller may no longer wait for it
        return { receipt: { kind: 'http', status, url: this.receiptUrl }, reply };
      }
      // Read to the end so the connection goes back to the pool (dump caps what it reads).
      await response.body.dump();
      if (ok) return { receipt: { kind: 'http', status, url: this.receiptUrl } };
      if (status >= 300 && status < 400) {
        const location = response.headers.location;
        const to = typeof location === 'string' ? redirectHost(location, this.url) : 'elsewhere';
        throw new ConnectorError(
          'REJECTED',
          `${where}: answered ${status}, a redirect to ${to}; redirects are not followed`,
          false,
          { status },
        );
      }
      if (status === 408)
        throw new ConnectorError('TIMEOUT', `${where}: answered 408 Request Timeout`, true, {
          status,
        });
      // A busy or down partner may say when to come back: the retry waits at least that long.
      const retryAfterMs =
        status === 429 || status >= 500 ? retryAfter(response.headers['retry-after']) : undefined;
      this.hold(retryAfterMs, status);
      const after =
        retryAfterMs === undefined ? '' : ` (Retry-After: ${Math.ceil(retryAfterMs / 1000)} s)`;
      if (status === 429)
        throw new ConnectorError(
          'REJECTED',
          `${where}: answered 429 Too Many Requests${after}`,
          true,
          { retryAfterMs, status },
        );
      throw new ConnectorError('REJECTED', `${where}: answered ${status}${after}`, status >= 500, {
        retryAfterMs,
        status,
      });
    } catch (err) {
      throw this.withoutSecrets(
        err instanceof ConnectorError
          ? err
          : httpConnectorError(err, where, abort.signal.aborted, this.timeoutMs),
      );
    } finally {
      if (!readingReply) clearTimeout(timer);
    }
  }
}

/** Node's codes for a server certificate that is not trusted or does not fit the host. */
const TLS_REFUSALS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * The longest a Retry-After holds the whole destination: a partner's `Retry-After: 86400` must
 * not stop a route for a day unseen, and a held message is in flight meanwhile, unacknowledged
 * (RabbitMQ closes a channel whose delivery stays unacknowledged 30 minutes; a held try is no
 * attempt): past a minute, one message calls the partner again, and a new answer holds again.
 */
const MAX_HOLD_MS = 60 * 1000;

/** The longest wait a `Retry-After` is taken at (a route's maxBackoffMs caps it further). */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * A `Retry-After` header in ms (RFC 9110 10.2.3: delay-seconds, or an HTTP-date counted from
 * now), or undefined when there is none or it is neither.
 */
export function retryAfter(
  header: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);
  // IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must still read.
  if (
    !/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value) &&
    !/^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/.test(value) &&
    !/^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/.test(value)
  )
    return undefined;
  // asctime names no zone: it is GMT (read as local time otherwise).
  const at = Date.parse(/\d{4}$/.test(value) ? `${value} GMT` : value);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

function httpConnectorError(
  err: unknown,
  where: string,
  aborted: boolean,
  timeoutMs: number,
): ConnectorError {
  const code = (err as { code?: unknown }).code;
  if (
    aborted ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  )
    return new ConnectorError('TIMEOUT', `${where}: no answer within ${timeoutMs} ms`, true, {
      cause: err,
    });
  if (typeof code === 'string' && TLS_REFUSALS.has(code))
    // The same certificate will be refused again: dead-letter now, replay once trust is fixed.
    return new ConnectorError(
      'REJECTED',
      `${where}: TLS: ${errorText(err)} (a private CA goes in the connection's config.tls.ca)`,
      false,
      { cause: err },
    );
  if (code === 'UND_ERR_INVALID_ARG')
    return new ConnectorError('REJECTED', `${where}: ${errorText(err)}`, false, { cause: err });
  return new ConnectorError('UNREACHABLE', `${where}: ${errorText(err)}`, true, { cause: err });
}

async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  limit: number,
  where: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new ConnectorError('REJECTED', `${where}: reply larger than ${limit} bytes`, false);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function redirectHost(location: string, from: URL): string {
  try {
    return new URL(location, from).host;
  } catch {
    return 'an invalid location';
  }
}

function staticHeaders(connection: ConnectorConnection): Record<string, string> {
  const headers = connection.config.headers;
  if (headers === undefined || headers === null) return {};
  if (typeof headers !== 'object' || Array.isArray(headers))
    throw badConfig(connection, 'config.headers must be an object of strings');
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string' || !TOKEN.test(name) || !FIELD_VALUE.test(value))
      throw badConfig(connection, `config.headers.${name} is not a valid header`);
    if (RESERVED_HEADERS.has(name.toLowerCase()))
      throw badConfig(connection, `config.headers.${name} is set by Junction itself`);
    out[name.toLowerCase()] = value;
  }
  return out;
}

function secretHeaders(connection: ConnectorConnection): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(connection.secrets)) {
    if (!key.startsWith('header:')) continue;
    const name = key.slice('header:'.length);
    const lower = name.toLowerCase();
    const problem = secretHeaderProblem(name);
    if (problem) throw badConfig(connection, `secrets["${key}"] ${problem}`);
    if (!FIELD_VALUE.test(value))
      throw badConfig(connection, `secrets["${key}"] is not a valid header value`);
    out[lower] = value;
  }
  return out;
}

/** Bearer token if set, else basic auth with the base URL's user name and `secrets.basicPassword`. */
function authHeader(connection: ConnectorConnection, base: URL): Record<string, string> {
  const { bearerToken, basicPassword } = connection.secrets;
  if (bearerToken) return { authorization: `Bearer ${bearerToken}` };
  if (basicPassword !== undefined) {
    const user = decodeURIComponent(base.username);
    const token = Buffer.from(`${user}:${basicPassword}`, 'utf8').toString('base64');
    return { authorization: `Basic ${token}` };
  }
  return {};
}

/**
 * Message headers that can travel as HTTP headers; framing, auth, overrides of the method or URL,
 * forwarding and identity claims (MESSAGE_HEADER_REFUSED) and malformed ones are dropped, and
 * credentials and signatures by name or value unless the route's `passHeaders` names them (a
 * webhook's `Stripe-Signature` relayed to a service that checks it).
 */
function forwardableHeaders(
  headers: Record<string, string>,
  pass: ReadonlySet<string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || lower.startsWith('proxy-')) continue;
    if (MESSAGE_HEADER_REFUSED.test(lower)) continue;
    const credential =
      CREDENTIAL_NAME.test(lower) || (typeof value === 'string' && CREDENTIAL_VALUE.test(value));
    if (credential && !pass.has(lower)) continue;
    if (!TOKEN.test(name) || typeof value !== 'string' || !FIELD_VALUE.test(value)) continue;
    out[lower] = value;
  }
  return out;
}
