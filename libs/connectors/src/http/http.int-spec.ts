/** The HTTP destination against a real local HTTP server (node:http on 127.0.0.1, port 0). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { HttpDestinationSpec } from './http.protocol';
import { testMessages } from '../conformance/conformance';
import { testLogger } from '../conformance/test-logger';
import { ConnectorError, type ConnectorConnection, type OutboundMessage } from '../connector';
import { ConnectorPool } from '../connector-pool';
import { EgressPolicy } from '../egress/egress-policy';
import { HttpDestination } from './http.destination';
import { Agent } from 'undici';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A server that answers by path, and remembers every request it got. */
async function startServer(
  answer: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

let target: Awaited<ReturnType<typeof startServer>>;
let elsewhere: Awaited<ReturnType<typeof startServer>>;
let pool: ConnectorPool;
/** Answers held open by /slow, ended in afterAll. */
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  elsewhere = await startServer((_req, res) => res.writeHead(200).end('you should not be here'));
  target = await startServer((req, res) => {
    const path = (req.url ?? '').replace(/\?.*$/, '');
    const status: Record<string, number> = {
      '/orders': 201,
      '/@127.0.0.2/orders': 202,
      '/bad': 400,
      '/gone': 404,
      '/late': 408,
      '/busy': 429,
      '/broken': 500,
      '/away': 503,
    };
    if (path === '/busy-for-2s') {
      res.writeHead(429, { 'retry-after': '2' }).end();
      return;
    }
    if (path === '/busy-for-a-day') {
      res.writeHead(429, { 'retry-after': '86400' }).end();
      return;
    }
    if (path === '/down-till') {
      // An HTTP-date 90 s on, as a server behind maintenance says it.
      const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 90_000).toUTCString();
      res.writeHead(503, { 'retry-after': at }).end();
      return;
    }
    if (path === '/busy-nonsense') {
      res.writeHead(429, { 'retry-after': 'soon, 4111 1111 1111 1111' }).end();
      return;
    }
    if (path === '/slow') {
      hanging.push(res);
      return;
    }
    if (path === '/huge') {
      // A 2xx whose body is more than a reply may be (5 MiB).
      res.writeHead(201, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(6 * 1024 * 1024, 120));
      return;
    }
    if (path === '/gzipped') {
      // A receiver that takes only gzipped JSON, as a server with request decompression would.
      let ok = false;
      try {
        ok =
          req.headers['content-encoding'] === 'gzip' &&
          JSON.parse(gunzipSync(lastSeen().body).toString()) !== undefined;
      } catch {
        ok = false;
      }
      res.writeHead(ok ? 201 : 415).end();
      return;
    }
    if (path === '/echo') {
      // A service that echoes its request's headers, as debug endpoints and some proxies do.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ headers: req.headers, query: req.url }));
      return;
    }
    if (path === '/echo-php') {
      // The same from PHP (json_encode writes every '/' as '\/'), as most shop systems answer.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ headers: req.headers }).replace(/\//g, '\\/'));
      return;
    }
    if (path === '/echo-html') {
      // An error page answered 200, its text escaped for HTML (hex references, as OWASP's encoder).
      res.writeHead(200, { 'content-type': 'text/html' });
      const text = JSON.stringify(req.headers).replace(
        /[&<>"'/+=]/g,
        (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`,
      );
      res.end(`<html><body><pre>${text}</pre></body></html>`);
      return;
    }
    if (path === '/moved') {
      res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/orders` }).end();
      return;
    }
    if (path === '/moved-to-token') {
      // A far side that spells the credential it was sent in a redirect's host name.
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      res.writeHead(307, { location: `http://${token}.partner.example/orders` }).end();
      return;
    }
    res.writeHead(status[path] ?? 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: status[path] !== undefined && status[path] < 300 }));
  });
  pool = new ConnectorPool({ logger: testLogger() });
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  await pool.close();
  await stopServer(target.server);
  await stopServer(elsewhere.server);
});

function erp(overrides: Partial<ConnectorConnection> = {}): ConnectorConnection {
  return {
    name: 'erp',
    config: { baseUrl: `http://127.0.0.1:${target.port}`, timeoutMs: 2_000 },
    secrets: {},
    ...overrides,
  };
}

function spec(path: string, method?: HttpDestinationSpec['method']): HttpDestinationSpec {
  return { type: 'http', connection: 'erp', path, method };
}

function message(): OutboundMessage {
  return testMessages('http', 1)[0];
}

function lastSeen(): Seen {
  return target.seen[target.seen.length - 1];
}

describe('http destination', () => {
  it('compression: gzip sends the body gzipped with Content-Encoding: gzip; without it, as it is', async () => {
    const sent = {
      ...message(),
      body: Buffer.from(JSON.stringify({ items: Array(200).fill({ sku: 'A-1', qty: 2 }) })),
      // A Content-Encoding from upstream would misdescribe the body: it is never forwarded.
      headers: { 'content-encoding': 'br' },
    };
    const gzipped = pool.destination(
      { ...spec('/gzipped'), compression: 'gzip' },
      erp({ name: 'erp-gzip' }),
    );
    await expect(gzipped.send(sent)).resolves.toMatchObject({ status: 201 });
    const request = lastSeen();
    expect(request.headers['content-encoding']).toBe('gzip');
    expect(request.headers['content-type']).toBe('application/json');
    expect(gunzipSync(request.body).equals(sent.body)).toBe(true);
    expect(request.body.length).toBeLessThan(sent.body.length / 10);
    await gzipped.close();

    const plain = pool.destination(spec('/gzipped'), erp({ name: 'erp-plain' }));
    await expect(plain.send(sent)).rejects.toThrow(/answered 415/);
    expect(lastSeen().headers['content-encoding']).toBeUndefined();
    expect(lastSeen().body.equals(sent.body)).toBe(true);
    await plain.close();
  });

  it('POSTs the JSON body with Idempotency-Key and resolves on 2xx with the status', async () => {
    const destination = pool.destination(spec('/orders'), erp());
    const sent = message();
    await expect(destination.send(sent)).resolves.toEqual({
      kind: 'http',
      status: 201,
      url: `http://127.0.0.1:${target.port}/orders`,
    });
    const request = lastSeen();
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/orders');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['idempotency-key']).toBe(sent.id);
    expect(request.body.equals(sent.body)).toBe(true);

    // A retry of the same message carries the same key, so the receiver can de-duplicate it.
    await destination.send(sent);
    expect(lastSeen().headers['idempotency-key']).toBe(sent.id);
    await destination.close();
  });

  it.each(['PUT', 'PATCH'] as const)('sends %s when the route says so', async (method) => {
    const destination = pool.destination(spec('/orders', method), erp());
    await destination.send(message());
    expect(lastSeen().method).toBe(method);
  });

  it.each([
    ['/bad', 400, 'REJECTED', false],
    ['/gone', 404, 'REJECTED', false],
    ['/late', 408, 'TIMEOUT', true],
    ['/busy', 429, 'REJECTED', true],
    ['/broken', 500, 'REJECTED', true],
    ['/away', 503, 'REJECTED', true],
  ] as const)('rejects %s (%i) as %s, retryable %s', async (path, status, code, retryable) => {
    const destination = pool.destination(spec(path), erp());
    const failure = await destination.send(message()).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConnectorError);
    expect(failure).toMatchObject({ code, retryable });
    expect((failure as Error).message).toContain(String(status));
  });

  it("carries the partner's Retry-After (seconds or a date) on a 429 or 5xx, and ignores nonsense", async () => {
    const failure = (path: string): Promise<ConnectorError> =>
      pool
        .destination(spec(path), erp())
        .send(message())
        .then(
          () => Promise.reject(new Error(`${path} was taken`)),
          (e: unknown) => e as ConnectorError,
        );
    const busy = await failure('/busy-for-2s');
    expect(busy).toMatchObject({ code: 'REJECTED', retryable: true, retryAfterMs: 2000 });
    expect(busy.message).toMatch(/answered 429 Too Many Requests \(Retry-After: 2 s\)$/);
    const down = await failure('/down-till');
    expect(down.retryAfterMs).toBeGreaterThan(80_000);
    expect(down.retryAfterMs).toBeLessThanOrEqual(91_000);
    const nonsense = await failure('/busy-nonsense');
    expect(nonsense.retryAfterMs).toBeUndefined();
    expect(nonsense.message).not.toMatch(/4111/);
    // A 4xx that is not 429 is final: its Retry-After would change nothing.
    expect((await failure('/bad')).retryAfterMs).toBeUndefined();
  });

  it("holds every message for the partner's Retry-After, without calling it meanwhile", async () => {
    let now = 1_000_000;
    const dispatcher = new Agent();
    const destination = new HttpDestination(erp(), spec('/busy-for-2s'), {
      egress: EgressPolicy.permissive(),
      dispatcher,
      now: () => now,
    });
    try {
      const calls = () => target.seen.filter((s) => s.url === '/busy-for-2s').length;
      const before = calls();
      await expect(destination.send(message())).rejects.toMatchObject({ retryAfterMs: 2000 });
      expect(calls()).toBe(before + 1);
      // Other messages in flight are not sent while it runs: each is told how long is left.
      now += 500;
      const held = destination.send(message());
      await expect(held).rejects.toMatchObject({
        code: 'REJECTED',
        retryable: true,
        retryAfterMs: 1500,
        // Called nobody: the message's retry does not count it as an attempt. It failed for the
        // 429 that asked for the hold (route status shows REJECTED 429).
        notSent: true,
        status: 429,
      });
      await expect(held).rejects.toThrow(
        /not called: the partner asked to wait \(429 with Retry-After\), 2 s left$/,
      );
      await expect(destination.request(message())).rejects.toMatchObject({ retryAfterMs: 1500 });
      expect(calls()).toBe(before + 1);
      // Then the partner is called again (it is still busy here, and says so again).
      now += 1500;
      await expect(destination.send(message())).rejects.toMatchObject({ retryAfterMs: 2000 });
      expect(calls()).toBe(before + 2);
    } finally {
      await destination.close();
      await dispatcher.close();
    }
  });

  it('holds by a clock that a wall clock set back does not move', async () => {
    // Only Date is faked (the HTTP client keeps its real timers): the host's wall clock.
    jest.useFakeTimers({
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
    try {
      const destination = pool.destination(spec('/busy-for-2s'), erp());
      await expect(destination.send(message())).rejects.toMatchObject({ retryAfterMs: 2000 });
      // The clock is set back an hour (NTP, an operator): the hold still ends 2 s on.
      jest.setSystemTime(Date.now() - 3_600_000);
      const held = await destination.send(message()).catch((e: unknown) => e);
      expect(held).toMatchObject({ notSent: true });
      expect((held as ConnectorError).retryAfterMs).toBeLessThanOrEqual(2000);
    } finally {
      jest.useRealTimers();
    }
  });

  it("holds a destination no longer than a minute, whatever the partner's Retry-After says", async () => {
    let now = 5_000_000;
    const dispatcher = new Agent();
    const destination = new HttpDestination(erp(), spec('/busy-for-a-day'), {
      egress: EgressPolicy.permissive(),
      dispatcher,
      now: () => now,
    });
    try {
      const calls = () => target.seen.filter((s) => s.url === '/busy-for-a-day').length;
      const before = calls();
      // The message is told the whole day (its route's maxBackoffMs caps its own wait).
      await expect(destination.send(message())).rejects.toMatchObject({ retryAfterMs: 86_400_000 });
      now += 60_000 - 1;
      await expect(destination.send(message())).rejects.toMatchObject({ retryAfterMs: 1 });
      expect(calls()).toBe(before + 1);
      now += 1;
      await expect(destination.send(message())).rejects.toMatchObject({ retryAfterMs: 86_400_000 });
      expect(calls()).toBe(before + 2);
    } finally {
      await destination.close();
      await dispatcher.close();
    }
  });

  it('gives up after timeoutMs with a retryable TIMEOUT', async () => {
    const destination = pool.destination(
      spec('/slow'),
      erp({ config: { baseUrl: `http://127.0.0.1:${target.port}`, timeoutMs: 200 } }),
    );
    const started = Date.now();
    await expect(destination.send(message())).rejects.toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
    });
    expect(Date.now() - started).toBeLessThan(5_000); // /slow never answers
  });

  it('rejects a refused connection as retryable UNREACHABLE', async () => {
    const closed = await startServer(() => undefined);
    const port = closed.port;
    await stopServer(closed.server);
    const destination = pool.destination(
      spec('/orders'),
      erp({ config: { baseUrl: `http://127.0.0.1:${port}` } }),
    );
    await expect(destination.send(message())).rejects.toMatchObject({
      code: 'UNREACHABLE',
      retryable: true,
    });
  });

  it('never follows a redirect: 3xx fails for good and the other host is not called', async () => {
    const before = elsewhere.seen.length;
    const destination = pool.destination(spec('/moved'), erp());
    const failure = await destination.send(message()).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'REJECTED', retryable: false });
    expect((failure as Error).message).toContain(`127.0.0.1:${elsewhere.port}`);
    expect(elsewhere.seen.length).toBe(before);
  });

  it("never quotes the connection's secrets from the far side's answer in a failure, in any case", async () => {
    const destination = pool.destination(
      spec('/moved-to-token'),
      erp({ secrets: { bearerToken: 'Partner-Token-77' } }),
    );
    const failure = await destination.send(message()).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'REJECTED', retryable: false });
    // The host comes lower-cased: partner-token-77.partner.example.
    expect((failure as Error).message).toContain('a redirect to ***.partner.example');
    expect((failure as Error).message.toLowerCase()).not.toContain('partner-token-77');
    expect((failure as Error).cause).toBeUndefined();
  });

  describe('allowlist', () => {
    it("allows the connection's own host without a list", async () => {
      const destination = pool.destination(spec('/orders'), erp());
      await expect(destination.send(message())).resolves.toMatchObject({ status: 201 });
    });

    it('refuses, for good and without a request, a host off the list when only the list counts', async () => {
      const before = target.seen.length;
      const strict = new ConnectorPool({
        egress: new EgressPolicy([`127.0.0.1:${elsewhere.port}`, 'erp.example.com'], {
          strict: true,
        }),
      });
      const destination = strict.destination(spec('/orders'), erp());
      await expect(destination.send(message())).rejects.toMatchObject({
        code: 'NOT_ALLOWED',
        retryable: false,
      });
      expect(target.seen.length).toBe(before);
      await strict.close();
    });

    it.each([[(port: number) => `127.0.0.1:${port}`], [() => '127.0.0.1']])(
      'calls a host that is on the list (%#)',
      async (entry) => {
        const strict = new ConnectorPool({
          egress: new EgressPolicy([entry(target.port)], { strict: true }),
        });
        const destination = strict.destination(spec('/orders'), erp());
        await expect(destination.send(message())).resolves.toMatchObject({ status: 201 });
        await strict.close();
      },
    );

    it("keeps a tricky route path on the connection's host", async () => {
      const destination = pool.destination(spec('@127.0.0.2/orders'), erp());
      await expect(destination.send(message())).resolves.toMatchObject({ status: 202 });
      expect(lastSeen().url).toBe('/@127.0.0.2/orders');
    });
  });

  describe('headers and auth', () => {
    it('sends a bearer token from the secrets', async () => {
      const destination = pool.destination(
        spec('/orders'),
        erp({ secrets: { bearerToken: 'tok-123' } }),
      );
      await destination.send(message());
      expect(lastSeen().headers.authorization).toBe('Bearer tok-123');
    });

    it('sends credential headers kept as secrets, and refuses one Junction sets itself', async () => {
      const destination = pool.destination(
        spec('/orders'),
        erp({ secrets: { 'header:X-Api-Key': 'k-42', 'header:Authorization': 'Token t-1' } }),
      );
      await destination.send(message());
      expect(lastSeen().headers['x-api-key']).toBe('k-42');
      expect(lastSeen().headers.authorization).toBe('Token t-1');
      expect(() =>
        pool.destination(spec('/orders'), erp({ secrets: { 'header:Host': 'evil.example' } })),
      ).toThrow(/set by Junction itself/);
    });

    it('sends basic auth with the base URL user and secrets.basicPassword, not in the URL', async () => {
      const destination = pool.destination(
        spec('/orders'),
        erp({
          config: { baseUrl: `http://shop%40eu@127.0.0.1:${target.port}` },
          secrets: { basicPassword: 'p:ss' },
        }),
      );
      await expect(destination.send(message())).resolves.toMatchObject({
        url: `http://127.0.0.1:${target.port}/orders`,
      });
      const auth = lastSeen().headers.authorization ?? '';
      expect(Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString()).toBe('shop@eu:p:ss');
    });

    it('sends static headers and message headers, but never lets a message set framing, auth, method, URL or origin', async () => {
      const destination = pool.destination(
        spec('/orders'),
        erp({
          config: { baseUrl: `http://127.0.0.1:${target.port}`, headers: { 'x-tenant': 'eu' } },
          secrets: { bearerToken: 'tok' },
        }),
      );
      const sent = {
        ...message(),
        headers: {
          'x-trace': 't-1',
          authorization: 'Bearer evil',
          host: 'evil.example',
          'idempotency-key': 'forged',
          'x-tenant': 'forged',
          'bad header': 'dropped',
          // What would change the request the connection's credentials make, or where it came
          // from, or be taken for a credential (a dead letter carries its sender's headers).
          'X-HTTP-Method-Override': 'DELETE',
          'x-http-method': 'DELETE',
          'x-method-override': 'PUT',
          'X-Original-URL': '/admin/users/1',
          'x-rewrite-url': '/admin',
          'x-forwarded-for': '10.0.0.1',
          'x-forwarded-host': 'evil.example',
          forwarded: 'for=10.0.0.1;host=evil.example',
          'x-real-ip': '10.0.0.1',
          'x-api-key': 'the-senders-own',
          cookie: 'session=abc',
          'x-partner': 'Bearer the-senders-own',
        },
      };
      await destination.send(sent);
      const { headers } = lastSeen();
      for (const name of [
        'x-http-method-override',
        'x-http-method',
        'x-method-override',
        'x-original-url',
        'x-rewrite-url',
        'x-forwarded-for',
        'x-forwarded-host',
        'forwarded',
        'x-real-ip',
        'x-api-key',
        'cookie',
        'x-partner',
      ])
        expect([name, headers[name]]).toEqual([name, undefined]);
      expect(headers).toMatchObject({
        'x-trace': 't-1',
        'x-tenant': 'eu',
        authorization: 'Bearer tok',
        host: `127.0.0.1:${target.port}`,
        'idempotency-key': sent.id,
      });
    });

    it("passes a signature or credential header on when the route names it, never a proxy's identity claim", async () => {
      const headers = {
        'stripe-signature': 't=1,v1=abc',
        'X-Hub-Signature-256': 'sha256=abc',
        'x-api-key': 'the-senders-own',
        // What an authenticating proxy in front of the far side asserts: never sent.
        'x-auth-request-user': 'admin',
        'X-Goog-Authenticated-User-Email': 'accounts.google.com:admin@example.com',
        'x-amzn-oidc-identity': 'admin',
        'x-ms-client-principal-name': 'admin',
        'cf-access-authenticated-user-email': 'admin@example.com',
        'x-remote-user': 'admin',
        'x-user-id': '1',
      };
      const claims = [
        'x-auth-request-user',
        'x-goog-authenticated-user-email',
        'x-amzn-oidc-identity',
        'x-ms-client-principal-name',
        'cf-access-authenticated-user-email',
        'x-remote-user',
        'x-user-id',
      ];
      // Without passHeaders: no credential, no signature, no claim.
      await pool.destination(spec('/orders'), erp()).send({ ...message(), headers });
      for (const name of ['stripe-signature', 'x-hub-signature-256', 'x-api-key', ...claims])
        expect([name, lastSeen().headers[name]]).toEqual([name, undefined]);
      // Named: the relayed webhook's signatures go on; the claims still do not, even if named.
      const relay = pool.destination(
        {
          ...spec('/orders'),
          passHeaders: ['Stripe-Signature', 'x-hub-signature-256', 'x-remote-user'],
        },
        erp(),
      );
      await relay.send({ ...message(), headers });
      expect(lastSeen().headers).toMatchObject({
        'stripe-signature': 't=1,v1=abc',
        'x-hub-signature-256': 'sha256=abc',
      });
      for (const name of ['x-api-key', ...claims])
        expect([name, lastSeen().headers[name]]).toEqual([name, undefined]);
    });

    it('refuses a connection whose static headers try to set what Junction owns', () => {
      expect(() =>
        pool.destination(
          spec('/orders'),
          erp({ config: { baseUrl: 'http://127.0.0.1:1', headers: { Authorization: 'x' } } }),
        ),
      ).toThrow(ConnectorError);
    });
  });

  it('request: the 2xx body is the reply; a reply that cannot be taken fails the reply, not the delivery', async () => {
    const ok = await pool.destination(spec('/orders'), erp()).request!(
      testMessages('reply', 1)[0],
      5_000,
    );
    expect(ok.receipt).toMatchObject({ kind: 'http', status: 201 });
    expect(JSON.parse((await ok.reply).body.toString())).toEqual({ ok: true });
    expect((await ok.reply).contentType).toBe('application/json');
    const huge = await pool.destination(spec('/huge'), erp()).request!(
      testMessages('huge', 1)[0],
      5_000,
    );
    expect(huge.receipt).toMatchObject({ kind: 'http', status: 201 }); // delivered, not to be re-sent
    await expect(huge.reply).rejects.toMatchObject({
      code: 'REJECTED',
      message: expect.stringContaining('reply larger than'),
    });
  });

  it("request: a reply never carries the connection's secrets back to the sender", async () => {
    const secrets = {
      bearerToken: 'tok-"secret"/1',
      'header:X-Partner-Key': 'partner key 42',
      hmacKey: 'hmac-key-for-ingest',
    };
    const destination = pool.destination(spec('/echo'), erp({ secrets }));
    const sent = await destination.request!(testMessages('echo', 1)[0], 5_000);
    expect(lastSeen().headers.authorization).toBe('Bearer tok-"secret"/1');
    const text = (await sent.reply).body.toString();
    const echoed = JSON.parse(text) as { headers: Record<string, string> };
    expect(echoed.headers.authorization).toBe('***');
    expect(echoed.headers['x-partner-key']).toBe('***');
    expect(echoed.headers['idempotency-key']).toBe(lastSeen().headers['idempotency-key']);
    for (const value of Object.values(secrets))
      for (const form of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])
        expect(text).not.toContain(form);
    // Basic auth: the header's base64 value is a form of the password too.
    const basic = pool.destination(
      spec('/echo'),
      erp({
        config: { baseUrl: `http://ops@127.0.0.1:${target.port}` },
        secrets: { basicPassword: 'pw-basic-77' },
      }),
    );
    const basicReply = await (await basic.request!(testMessages('echo', 1)[0], 5_000)).reply;
    expect(lastSeen().headers.authorization).toMatch(/^Basic /);
    expect(
      (JSON.parse(basicReply.body.toString()) as { headers: Record<string, string> }).headers
        .authorization,
    ).toBe('***');
  });

  it("request: a reply never carries the connection's secrets back however the service escaped them", async () => {
    // Base64 tokens hold '/', '+' and '=', which PHP's JSON and HTML escape.
    const secrets = {
      bearerToken: 'sk_live/Zm9vYmFy+c2VjcmV0/dG9rZW4=',
      'header:X-Shop-Key': 'ShopKq/77+x=',
    };
    for (const path of ['/echo-php', '/echo-html']) {
      const destination = pool.destination(spec(path), erp({ secrets }));
      const sent = await destination.request!(testMessages('echo', 1)[0], 5_000);
      expect(lastSeen().headers.authorization).toBe(`Bearer ${secrets.bearerToken}`);
      const text = (await sent.reply).body.toString();
      expect(text).toContain('***');
      expect(text).toContain('idempotency-key'); // the rest of the reply is left as it was
      for (const part of ['Zm9vYmFy', 'c2VjcmV0', 'dG9rZW4', 'ShopKq'])
        expect(text).not.toContain(part);
    }
  });

  it('refuses to send once closed', async () => {
    const destination = pool.destination(spec('/orders'), erp());
    await destination.close();
    await expect(destination.send(message())).rejects.toMatchObject({
      code: 'CLOSED',
      retryable: false,
    });
  });

  it('finishes requests in flight before close resolves', async () => {
    const destination = pool.destination(spec('/orders'), erp());
    let settled = false;
    const sending = destination.send(message()).then(() => {
      settled = true;
    });
    await destination.close();
    expect(settled).toBe(true);
    await sending;
  });
});

describe('https with a private CA and mutual TLS', () => {
  let dir: string;
  let pem: Record<string, string>;
  let server: HttpsServer;
  let port: number;
  let tlsPool: ConnectorPool;

  /** A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl. */
  function makeCertificates(): Record<string, string> {
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    run([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=Junction Test CA',
    ]);
    writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    for (const who of ['server', 'client']) {
      run(['req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`]);
      run([
        'x509',
        '-req',
        '-in',
        `${who}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${who}.crt`,
        '-days',
        '1',
        '-extfile',
        `${who}.ext`,
      ]);
    }
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    return {
      ca: read('ca.crt'),
      serverKey: read('server.key'),
      serverCert: read('server.crt'),
      clientKey: read('client.key'),
      clientCert: read('client.crt'),
    };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'junction-tls-'));
    pem = makeCertificates();
    // Mutual TLS: the server asks for a client certificate signed by the same CA.
    server = createHttpsServer(
      {
        key: pem.serverKey,
        cert: pem.serverCert,
        ca: pem.ca,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        req.resume();
        const socket = req.socket as TLSSocket;
        res
          .writeHead(socket.authorized ? 201 : 403)
          .end(socket.authorized ? 'ok' : 'no client certificate');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    tlsPool = new ConnectorPool({ logger: testLogger() });
  });

  afterAll(async () => {
    await tlsPool.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const connection = (
    name: string,
    config: Record<string, unknown>,
    secrets = {},
  ): ConnectorConnection => ({
    name,
    config: { baseUrl: `https://127.0.0.1:${port}`, ...config },
    secrets,
  });
  const send = (c: ConnectorConnection) =>
    tlsPool
      .destination({ type: 'http', connection: c.name, path: '/orders' }, c)
      .send(testMessages('tls', 1)[0]);

  it('refuses a server certificate from an unknown CA for good, saying where trust goes', async () => {
    await expect(send(connection('tls-untrusted', {}))).rejects.toMatchObject({
      code: 'REJECTED',
      retryable: false,
      message: expect.stringContaining('config.tls.ca'),
    });
  });

  it('trusts the private CA of config.tls.ca; the server wants a client certificate too', async () => {
    await expect(send(connection('tls-ca', { tls: { ca: pem.ca } }))).rejects.toMatchObject({
      message: expect.stringContaining('answered 403'),
    });
    const mutual = connection(
      'tls-mutual',
      { tls: { ca: pem.ca, cert: pem.clientCert } },
      { tlsKey: pem.clientKey },
    );
    await expect(send(mutual)).resolves.toEqual({
      kind: 'http',
      status: 201,
      url: `https://127.0.0.1:${port}/orders`,
    });
  });
});
