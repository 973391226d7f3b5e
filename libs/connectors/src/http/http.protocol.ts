import { normalizeIngestPath } from '@junction/pipeline';
import type { ConnectorPlugin } from '../plugin';
import {
  CONNECTION_FIELD,
  CREDENTIAL_NAME,
  CREDENTIAL_VALUE,
  tlsConfigSchema,
  urlSecretProblems,
  urlTarget,
} from '../spec-fields';
import type { HttpPoolOptions } from './http.factory';
import {
  FIELD_VALUE,
  MESSAGE_HEADER_REFUSED,
  RESERVED_HEADERS,
  secretHeaderProblem,
  TOKEN,
} from './http-headers';

export interface HttpSourceSpec {
  type: 'http';
  path: string;
  mode?: 'async' | 'sync';
  auth?: 'none' | 'apiKey' | 'hmac';
  /** auth: hmac: an http connection whose `hmacKey` secret checks the signatures. */
  connection?: string;
  /**
   * auth: hmac: which signatures are taken. `v1` (the default) signs time, Idempotency-Key and
   * body; `v2` signs the route's path too, and only v2 signatures are taken then.
   */
  signature?: 'v1' | 'v2';
  /** mode: sync: longest a caller waits for the result or the reply (504 after). */
  timeoutMs?: number;
}

export interface HttpDestinationSpec {
  type: 'http';
  connection: string;
  path: string;
  method?: 'POST' | 'PUT' | 'PATCH';
  /** Return the response body to a sync HTTP caller. */
  reply?: boolean;
  /** gzip: the body is sent gzipped with `Content-Encoding: gzip`. Default none. */
  compression?: 'none' | 'gzip';
  /**
   * Message headers sent on although their names or values say they carry a credential or a
   * signature (a webhook's `Stripe-Signature`, relayed to a service that checks it).
   */
  passHeaders?: string[];
  when?: string;
}

/** The 2xx an HTTP destination got, and from where. */
export interface HttpReceipt {
  kind: 'http';
  status: number;
  url: string;
}

/** http connections: a credential header of any name, sent with every request, kept as a secret. */
export const SECRET_HEADER_PREFIX = 'header:';

/** HTTP: ingest (POST /ingest/<path>) as a source, requests as a destination. Pure spec; undici is in http.factory.ts. */
export const httpConnector: ConnectorPlugin<
  HttpSourceSpec,
  HttpDestinationSpec,
  HttpPoolOptions,
  HttpReceipt
> = {
  kind: 'http',
  description: 'HTTP: ingest endpoints (async or sync request-reply) and outbound requests.',
  connection: {
    configSchema: {
      type: 'object',
      required: ['baseUrl'],
      additionalProperties: false,
      properties: {
        baseUrl: {
          type: 'string',
          pattern: '^https?://',
          description: 'Base URL of the target system.',
          examples: ['https://erp.example.com'],
        },
        timeoutMs: {
          type: 'integer',
          minimum: 1,
          maximum: 300000,
          description: 'Request timeout.',
          examples: [5000],
        },
        headers: {
          type: 'object',
          additionalProperties: { type: 'string' },
          description:
            'Static headers that are not secrets. A credential header (X-Api-Key, Authorization, a token, a cookie) goes in secrets["header:<name>"].',
          examples: [{ 'x-tenant': 'eu' }],
        },
        tls: tlsConfigSchema('tlsKey'),
      },
    },
    secretKeys: ['bearerToken', 'basicPassword', 'hmacKey', 'tlsKey', 'header:<name>'],
    prefixedSecret: { prefix: SECRET_HEADER_PREFIX, problem: secretHeaderProblem },
    targetFields: ['baseUrl', 'tls'],
    egressTargets: (config) =>
      urlTarget(config.baseUrl, '/config/baseUrl', { http: 80, https: 443 }),
    embeddedSecretProblems(config) {
      const problems = urlSecretProblems(config, 'baseUrl', {
        password: 'secrets.basicPassword',
        query: 'secrets.bearerToken or secrets["header:<name>"]',
      });
      const headers = config.headers;
      if (headers !== null && typeof headers === 'object')
        for (const [name, value] of Object.entries(headers as Record<string, unknown>))
          // What the destination refuses when it starts, refused when saved: stored, a `Host`
          // (pointing the connection's credentials at another virtual host of the same address)
          // or a header that cannot be sent stopped every route of the connection at its restart.
          // (An Authorization header is a credential: its slot is named below.)
          if (
            !TOKEN.test(name) ||
            (RESERVED_HEADERS.has(name.toLowerCase()) && name.toLowerCase() !== 'authorization')
          )
            problems.push({
              pointer: `/config/headers/${name}`,
              message: TOKEN.test(name)
                ? `is set by Junction itself (${[...RESERVED_HEADERS].join(', ')} are)`
                : 'is not a valid header name',
            });
          else if (typeof value === 'string' && !FIELD_VALUE.test(value))
            problems.push({
              pointer: `/config/headers/${name}`,
              message: 'cannot be sent: a header value holds no line break or control character',
            });
          else if (
            CREDENTIAL_NAME.test(name) ||
            (typeof value === 'string' && CREDENTIAL_VALUE.test(value))
          )
            problems.push({
              pointer: `/config/headers/${name}`,
              message: `looks like a credential; put it in secrets["${SECRET_HEADER_PREFIX}${name}"] (write-only, encrypted)${
                name.toLowerCase() === 'authorization' ? ' or secrets.bearerToken' : ''
              }`,
            });
      return problems;
    },
  },
  source: {
    description: 'Accept POST /ingest/<path>.',
    required: ['path'],
    properties: {
      path: {
        type: 'string',
        minLength: 1,
        maxLength: 512,
        description:
          'Ingest path: POST /ingest/<path>. Compared in one normalised form (percent-decoded, Unicode NFKC, lower case, no empty or "." segments, ".." resolved), which must be ASCII letters, digits, ".", "_", "~", "-" and "/"; unique among routes in that form.',
        examples: ['orders'],
      },
      mode: {
        enum: ['async', 'sync'],
        default: 'async',
        description: 'async: 202 once delivered or parked; sync: waits for and returns the reply.',
        examples: ['async'],
      },
      auth: {
        enum: ['none', 'apiKey', 'hmac'],
        default: 'apiKey',
        description:
          'How callers authenticate: an API key (X-API-Key), an HMAC signature of the body (X-Junction-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>\\n<Idempotency-Key or nothing>\\n<body>">; see signature for v2), or none.',
        examples: ['apiKey'],
      },
      signature: {
        enum: ['v1', 'v2'],
        default: 'v1',
        description:
          'auth: hmac only. v1: the signature covers time, Idempotency-Key and body, so its key may sign for this route only. v2: it covers the route\'s path too (X-Junction-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256 of "v2\\n<t>\\n<path as normalised, e.g. partner/orders>\\n<Idempotency-Key or nothing>\\n<body>">), only v2 values are taken, and several v2 routes may share one key.',
        examples: ['v2'],
      },
      connection: {
        ...CONNECTION_FIELD,
        description: 'auth: hmac only: an http connection whose secret hmacKey signs the requests.',
        examples: ['partner-webhooks'],
      },
      timeoutMs: {
        type: 'integer',
        minimum: 100,
        maximum: 300000,
        default: 30000,
        description:
          'mode: sync only: longest a caller waits for the result or the reply; 504 after (the message itself is still delivered or dead-lettered).',
        examples: [10000],
      },
    },
    example: { type: 'http', path: 'orders', mode: 'async', auth: 'apiKey' },
    connectionSecret: 'hmacKey',
    pushed: true,
    awaitsReply: (spec) => spec.mode === 'sync',
    // A signature covers its time, Idempotency-Key and body, not the path it was sent to: two
    // routes checking with one key would each take the other's signed requests, and a request
    // captured on its way to one (an order) could be sent to the other (its cancellation) within
    // the 300 s a timestamp is good for. So a signing key belongs to one route.
    // A v2 signature names the path: such routes share a key safely, and claim none.
    claim(spec) {
      if (spec.auth !== 'hmac' || typeof spec.connection !== 'string') return undefined;
      if (spec.signature === 'v2') return undefined;
      return {
        parts: ['hmacKey'],
        pointer: '/connection',
        place: `requests signed with the hmacKey of connection '${spec.connection}'`,
        why: 'a v1 signature does not name the path it was made for, so each route would take requests signed for the other (one captured on its way to one route could be sent to the other within 300 s); give each signed route a connection (a key) of its own, or sign with v2 (signature: v2), which names the path',
      };
    },
    check(spec, report) {
      // An ingest path is whatever its normalised form is (see ingest-path.ts): one that has
      // none could never be matched, and one spelled with look-alikes must not pass for another.
      const path = normalizeIngestPath(spec.path as string);
      if ('problem' in path) report('/path', path.message);
      const hmac = spec.auth === 'hmac';
      if (hmac && spec.connection === undefined)
        report(
          '/connection',
          'is required with auth: hmac (an http connection whose secret hmacKey signs)',
        );
      if (!hmac && spec.connection !== undefined)
        report('/connection', 'applies only with auth: hmac');
      if (!hmac && spec.signature !== undefined)
        report('/signature', 'applies only with auth: hmac');
      if (spec.mode !== 'sync' && spec.timeoutMs !== undefined)
        report('/timeoutMs', 'applies only with mode: sync');
    },
  },
  destination: {
    description: 'Send an HTTP request; any 2xx confirms.',
    required: ['connection', 'path'],
    properties: {
      connection: CONNECTION_FIELD,
      path: {
        type: 'string',
        pattern: '^/',
        description: "Path appended to the connection's baseUrl.",
        examples: ['/orders'],
      },
      method: {
        enum: ['POST', 'PUT', 'PATCH'],
        default: 'POST',
        description: 'HTTP method.',
        examples: ['POST'],
      },
      compression: {
        enum: ['none', 'gzip'],
        default: 'none',
        description:
          'gzip: send the body gzipped with Content-Encoding: gzip (the receiver must accept it); fewer bytes on the wire for some CPU.',
        examples: ['gzip'],
      },
      passHeaders: {
        type: 'array',
        maxItems: 20,
        uniqueItems: true,
        items: { type: 'string', minLength: 1, maxLength: 100, pattern: TOKEN.source },
        description:
          "Message headers sent on although their names or values say they carry a credential or a signature, which are otherwise not sent (a webhook's Stripe-Signature or X-Hub-Signature-256, relayed to a service that checks it). Overrides of the method or URL, forwarding and identity claims of a proxy, and the headers Junction sets are never sent.",
        examples: [['stripe-signature']],
      },
    },
    check(spec, report) {
      const names = Array.isArray(spec.passHeaders) ? (spec.passHeaders as unknown[]) : [];
      names.forEach((name, i) => {
        if (typeof name !== 'string') return;
        const lower = name.toLowerCase();
        if (RESERVED_HEADERS.has(lower) || lower.startsWith('proxy-'))
          report(`/passHeaders/${i}`, 'is a header Junction sets itself; it is never passed on');
        else if (MESSAGE_HEADER_REFUSED.test(lower))
          report(
            `/passHeaders/${i}`,
            'overrides the method or URL, or claims where the request came from or who sent it: never passed on',
          );
      });
    },
    example: { type: 'http', connection: 'erp', path: '/orders', method: 'POST' },
    replies: true,
  },
  describeSource: (spec) => `http POST /ingest/${spec.path} (${spec.mode ?? 'async'})`,
  describeDelivery: (spec) => `http ${spec.connection} ${spec.method ?? 'POST'} ${spec.path}`,
  describeReceipt: (r) => `http:${String(r.url ?? '')}`,
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see plugin.ts
  load: () => (require('./http.factory') as typeof import('./http.factory')).httpFactories,
};
