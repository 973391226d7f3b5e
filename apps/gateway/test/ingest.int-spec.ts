import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { startHttpTarget, type HttpTarget } from './http-target';
import { signIngest } from '../src/ingest/ingest-signature';
import { DenialAggregator } from '@junction/audit';
import { eventually } from './eventually';
import { startTestGateway, TestGateway } from './test-gateway';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * HTTP ingest's per-route security and request-reply, against the real RabbitMQ: HMAC-signed
 * requests checked with a connection's secret, and a sync HTTP route answered by an AMQP
 * service through RabbitMQ's direct reply-to (and by an HTTP service's response).
 */
describe('ingest: HMAC signatures and request-reply', () => {
  let gw: TestGateway;
  let admin: string;
  let broker: amqp.ChannelModel;
  let responder: amqp.Channel;
  const run = randomUUID().slice(0, 8);

  beforeAll(async () => {
    gw = await startTestGateway();
    admin = await gw.login('admin', gw.adminPassword);
    broker = await amqp.connect(AMQP_URL);
    responder = await broker.createChannel();
    const rabbit = await api('POST', '/api/v1/connections', {
      name: 'rabbit',
      type: 'amqp',
      config: { url: 'amqp://guest@127.0.0.1:5672' },
      secrets: { password: 'guest' },
    });
    expect(rabbit.status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await broker?.close();
    await gw?.close();
  }, 30_000);

  const api = (method: string, url: string, body?: unknown) =>
    gw.request(method, url, { token: admin, body });
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    gw.request('POST', `/ingest/${path}`, {
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const now = () => Math.floor(Date.now() / 1000);

  it("never hands a caller's credentials to the route ($headers): a route author could copy them on", async () => {
    const created = await api('POST', '/api/v1/routes', {
      id: 'echo-headers',
      source: { type: 'http', path: 'echo-headers', mode: 'sync', auth: 'none' },
      pipeline: [{ transform: '$headers' }],
      destinations: [{ type: 'log' }],
    });
    expect(created.status).toBe(201);
    const res = await eventually(async () => {
      const r = await post('echo-headers', '{}', {
        authorization: 'Bearer caller-token',
        'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
        cookie: 'session=s1',
        'x-api-key': 'jk_caller',
        'x-tenant': 'eu',
      });
      expect(r.status).toBe(200);
      return r;
    });
    const seen = res.body as Record<string, string>;
    expect(seen['x-tenant']).toBe('eu');
    for (const name of ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'])
      expect(seen[name]).toBeUndefined();
    expect(JSON.stringify(seen)).not.toMatch(/caller-token|cHJveHk6c2VjcmV0|s1|jk_caller/);
  });

  describe('HMAC-signed ingest', () => {
    const key = `partner-secret-${run}`;
    const body = JSON.stringify({ id: 'o-1', total: 12 });

    beforeAll(async () => {
      const partner = await api('POST', '/api/v1/connections', {
        name: 'partner',
        type: 'http',
        config: { baseUrl: 'http://127.0.0.1:1' },
        secrets: { hmacKey: key },
      });
      expect(partner.status).toBe(201);
      const created = await api('POST', '/api/v1/routes', {
        id: 'signed',
        source: { type: 'http', path: 'signed', auth: 'hmac', connection: 'partner' },
        destinations: [{ type: 'log' }],
      });
      expect(created.status).toBe(201);
    });

    it('takes a request signed with the key, over the exact body, with a fresh timestamp', async () => {
      const res = await eventually(async () => {
        const r = await post('signed', body, {
          'x-junction-signature': signIngest(key, body, now()),
        });
        expect(r.status).toBe(202);
        return r;
      });
      expect(res.body).toMatchObject({ routeId: 'signed', status: 'delivered' });
    });

    it.each([
      ['no signature', () => ({}), /needs a signed request: X-Junction-Signature: t=/],
      ['a malformed one', () => ({ 'x-junction-signature': 'sha256=abc' }), /is malformed/],
      [
        'another key',
        () => ({ 'x-junction-signature': signIngest('not-the-key', body, now()) }),
        /does not match the body/,
      ],
      [
        'a signature of another body',
        () => ({ 'x-junction-signature': signIngest(key, `${body} `, now()) }),
        /does not match the body/,
      ],
      [
        'a timestamp ten minutes old (a replayed request)',
        () => ({ 'x-junction-signature': signIngest(key, body, now() - 600) }),
        /60\d s away from the gateway's clock \(tolerance 300 s\)/,
      ],
      ['an API key instead', () => ({ 'x-api-key': 'whatever' }), /needs a signed request/],
    ])('refuses %s with 401 and says why', async (_what, headers, message) => {
      const res = await post('signed', body, headers());
      expect(res.status).toBe(401);
      expect((res.body as { message: string }).message).toMatch(message);
    });

    it('takes a signed Idempotency-Key as the message id, and refuses one that cannot be an id', async () => {
      const idKey = `order-o-1-${run}`;
      const signed = (k: string) => ({
        'x-junction-signature': signIngest(key, body, now(), k),
        'idempotency-key': k,
      });
      const res = await post('signed', body, signed(idKey));
      expect(res.body).toMatchObject({ id: idKey, status: 'delivered' });
      // A captured request replayed with another key does not pass.
      const replayed = await post('signed', body, { ...signed(idKey), 'idempotency-key': 'other' });
      expect(replayed.status).toBe(401);
      for (const bad of ['x'.repeat(201), 'with space'])
        expect((await post('signed', body, signed(bad))).status).toBe(400);
    });

    it('without an Idempotency-Key, a replayed request carries the same message id', async () => {
      const header = { 'x-junction-signature': signIngest(key, body, now()) };
      const first = await post('signed', body, header);
      const again = await post('signed', body, header);
      expect(first.status).toBe(202);
      expect((first.body as { id: string }).id).toMatch(/^sig-[0-9a-f]{32}$/);
      expect((again.body as { id: string }).id).toBe((first.body as { id: string }).id);
    });

    it('audits the refused requests as denials, counted per address and window', async () => {
      // Anonymous 401s are counted, not written one by one: close the open window now.
      await gw.app.get(DenialAggregator).flush(true);
      const res = await api('GET', '/api/v1/audit/events?type=request.denied');
      const denied = (
        res.body as {
          items: Array<{
            actor: string;
            details: { status: number; count: number; paths: Record<string, number> };
          }>;
        }
      ).items.filter((e) => e.actor === '(anonymous)');
      expect(denied.every((e) => e.details.status === 401)).toBe(true);
      const signed = denied.reduce((n, e) => n + (e.details.paths['POST /ingest/signed'] ?? 0), 0);
      expect(signed).toBe(7);
    });

    it('a rotated key takes effect at once; the old one is refused', async () => {
      const rotated = `${key}-2`;
      expect(
        (
          await api('PUT', '/api/v1/connections/partner', {
            type: 'http',
            config: { baseUrl: 'http://127.0.0.1:1' },
            secrets: { hmacKey: rotated },
          })
        ).status,
      ).toBe(200);
      // The cached key is re-read on a mismatch at most every 5 s.
      await eventually(async () => {
        const r = await post('signed', body, {
          'x-junction-signature': signIngest(rotated, body, now()),
        });
        expect(r.status).toBe(202);
      }, 15_000);
      const old = await post('signed', body, {
        'x-junction-signature': signIngest(key, body, now()),
      });
      expect(old.status).toBe(401);
    }, 30_000);

    it("one signing key, one route: a request signed for one path is not taken at another's", async () => {
      // A request signed for 'signed' (an order) sent to a second route on the same key (its
      // cancellation) would pass there too: the signature does not cover the path.
      const cancel = {
        id: 'signed-cancel',
        source: { type: 'http', path: 'signed/cancel', auth: 'hmac', connection: 'partner' },
        destinations: [{ type: 'log' }],
      };
      const validated = await api('POST', '/api/v1/routes/validate', cancel);
      expect(validated.body).toMatchObject({
        valid: false,
        problems: [expect.objectContaining({ pointer: '/source/connection', routeId: 'signed' })],
      });
      const refused = await api('POST', '/api/v1/routes', cancel);
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({
        message: expect.stringContaining('a v1 signature does not name the path'),
        details: { routeId: 'signed' },
      });
      const signedBody = JSON.stringify({ id: 'o-1' });
      expect(
        (
          await post('signed/cancel', signedBody, {
            'x-junction-signature': signIngest(key, signedBody, now()),
          })
        ).status,
      ).toBe(404);
      // With a key of its own it is a route like any other.
      await api('POST', '/api/v1/connections', {
        name: 'partner-cancel',
        type: 'http',
        config: { baseUrl: 'http://127.0.0.1:1' },
        secrets: { hmacKey: `${key}-cancel` },
      });
      const own = await api('POST', '/api/v1/routes', {
        ...cancel,
        source: { ...cancel.source, connection: 'partner-cancel' },
      });
      expect(own.status).toBe(201);
      const replayed = await post('signed/cancel', signedBody, {
        'x-junction-signature': signIngest(key, signedBody, now()),
      });
      expect(replayed.status).toBe(401);
    });

    it('signature v2 names the path: routes share a key, and a request is taken at its own path only', async () => {
      await api('POST', '/api/v1/connections', {
        name: 'partner-v2',
        type: 'http',
        config: { baseUrl: 'http://127.0.0.1:1' },
        secrets: { hmacKey: `${key}-v2` },
      });
      const v2Key = `${key}-v2`;
      const route = (id: string, path: string) => ({
        id,
        source: { type: 'http', path, auth: 'hmac', connection: 'partner-v2', signature: 'v2' },
        destinations: [{ type: 'log' }],
      });
      // Both save on one key (v2 routes claim none); the path is signed as normalised.
      expect((await api('POST', '/api/v1/routes', route('v2-orders', 'v2/Orders/'))).status).toBe(
        201,
      );
      expect(
        (await api('POST', '/api/v1/routes', route('v2-cancel', 'v2/orders/cancel'))).status,
      ).toBe(201);
      const body = JSON.stringify({ id: 'o-2' });
      const forOrders = signIngest(v2Key, body, now(), 'v2-o-2', 'v2/orders');
      const send = (path: string, signature: string) =>
        post(path, body, { 'x-junction-signature': signature, 'idempotency-key': 'v2-o-2' });
      expect((await send('v2/orders', forOrders)).status).toBe(202);
      // Captured on its way to the order route and sent to the cancellation: refused.
      const replayed = await send('v2/orders/cancel', forOrders);
      expect(replayed.status).toBe(401);
      expect(replayed.body).toMatchObject({ message: expect.stringContaining('the path, for v2') });
      // A v1 signature with the right key is refused on a v2 route, saying which version it takes.
      const v1 = await send('v2/orders', signIngest(v2Key, body, now(), 'v2-o-2'));
      expect(v1.status).toBe(401);
      expect(v1.body).toMatchObject({
        message: expect.stringContaining('takes v2 signatures only'),
      });
      // signature applies only to signed routes.
      const unsigned = await api('POST', '/api/v1/routes/validate', {
        id: 'v2-open',
        source: { type: 'http', path: 'v2/open', auth: 'none', signature: 'v2' },
        destinations: [{ type: 'log' }],
      });
      expect(unsigned.body).toMatchObject({
        valid: false,
        problems: [{ pointer: '/source/signature', message: 'applies only with auth: hmac' }],
      });
    });

    it('refuses to save an HMAC route without a connection, or whose connection has no hmacKey', async () => {
      const noConnection = await api('POST', '/api/v1/routes/validate', {
        id: 'signed-2',
        source: { type: 'http', path: 'signed-2', auth: 'hmac' },
        destinations: [{ type: 'log' }],
      });
      expect(noConnection.body).toMatchObject({
        valid: false,
        problems: [
          {
            pointer: '/source/connection',
            message: expect.stringMatching(/required with auth: hmac/),
          },
        ],
      });
      await api('POST', '/api/v1/connections', {
        name: 'keyless',
        type: 'http',
        config: { baseUrl: 'http://127.0.0.1:1' },
      });
      const keyless = await api('POST', '/api/v1/routes', {
        id: 'signed-3',
        source: { type: 'http', path: 'signed-3', auth: 'hmac', connection: 'keyless' },
        destinations: [{ type: 'log' }],
      });
      expect(keyless.status).toBe(400);
      expect(JSON.stringify(keyless.body)).toContain("connection 'keyless' has no hmacKey secret");
    });
  });

  describe('request-reply across brokers', () => {
    const requests = `junction.rpc.${run}`;
    let consumerTag: string;

    beforeAll(async () => {
      await responder.assertQueue(requests, { durable: true });
      // The service behind the queue: answers each request on its replyTo with its correlation id.
      ({ consumerTag } = await responder.consume(requests, (msg) => {
        if (!msg) return;
        const order = JSON.parse(msg.content.toString()) as { orderId: string; total: number };
        if (order.orderId === 'silent') return responder.ack(msg); // never answers
        if (order.orderId === 'untyped-pan') {
          // An answer naming no type, that is not JSON: sent as bytes, still read for card numbers.
          responder.sendToQueue(
            msg.properties.replyTo as string,
            Buffer.from('charged 4111 1111 1111 1111'),
            { correlationId: msg.properties.correlationId as string },
          );
          return responder.ack(msg);
        }
        if (order.orderId === 'odd-type') {
          // A content type no header may carry: served as bytes instead.
          responder.sendToQueue(msg.properties.replyTo as string, Buffer.from('<b>hi</b>'), {
            correlationId: msg.properties.correlationId as string,
            contentType: 'text/html\r\nx-evil: 1',
          });
          return responder.ack(msg);
        }
        responder.sendToQueue(
          msg.properties.replyTo as string,
          Buffer.from(JSON.stringify({ orderId: order.orderId, accepted: order.total < 1000 })),
          {
            correlationId: msg.properties.correlationId as string,
            contentType: 'application/json',
          },
        );
        responder.ack(msg);
      }));
      const created = await api('POST', '/api/v1/routes', {
        id: 'quote',
        source: { type: 'http', path: 'quote', auth: 'none', mode: 'sync', timeoutMs: 1500 },
        pipeline: [{ transform: '{ "orderId": id, "total": total }' }],
        destinations: [{ type: 'amqp', connection: 'rabbit', queue: requests, reply: true }],
      });
      expect(created.status).toBe(201);
    });

    afterAll(async () => {
      await responder.cancel(consumerTag);
      await responder.deleteQueue(requests);
    });

    it('returns the AMQP service reply to the HTTP caller, matched by correlation id', async () => {
      // (20 s: the route's first start may wait for its channel on a loaded machine)
      const answers = await eventually(async () => {
        const all = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            post('quote', JSON.stringify({ id: `q-${i}`, total: i * 100 })),
          ),
        );
        for (const r of all) expect(r.status).toBe(200);
        return all;
      });
      // Twenty concurrent requests, each answered with its own reply.
      answers.forEach((r, i) => {
        expect(r.body).toEqual({ orderId: `q-${i}`, accepted: i * 100 < 1000 });
        expect(r.headers['content-type']).toBe('application/json');
        expect(r.headers['x-content-type-options']).toBe('nosniff');
        expect(r.headers['content-security-policy']).toMatch(/^sandbox/);
        expect(r.headers['x-junction-id']).toEqual(expect.any(String));
      });
      // The message is audited as delivered to the request queue.
      const id = answers[3].headers['x-junction-id'] as string;
      const trail = await eventually(async () => {
        const t = await api('GET', `/api/v1/audit/messages/${id}`);
        expect(t.status).toBe(200);
        return t;
      });
      expect(JSON.stringify(trail.body)).toContain('delivered');
    }, 20_000);

    it('reads a reply that names no type for card numbers all the same', async () => {
      const res = await post('quote', JSON.stringify({ id: 'untyped-pan', total: 1 }));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.text).toBe('charged [PAN REDACTED]');
    });

    it('serves a reply whose content type is malformed as bytes, not as what it claims', async () => {
      const res = await post('quote', JSON.stringify({ id: 'odd-type', total: 1 }));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['x-evil']).toBeUndefined();
    });

    it('answers 504 with the message id when no reply comes within the route timeout', async () => {
      const started = Date.now();
      const res = await post('quote', JSON.stringify({ id: 'silent', total: 1 }));
      const took = Date.now() - started;
      expect(res.status).toBe(504);
      expect(res.body).toMatchObject({
        message: expect.stringMatching(/was delivered, but its reply did not come/),
        details: { routeId: 'quote', status: 'delivered', id: expect.any(String) },
      });
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(10_000);
      // The gateway keeps serving: the next request is answered.
      const next = await post('quote', JSON.stringify({ id: 'q-after', total: 5 }));
      expect(next.status).toBe(200);
    });

    it('a replayed dead letter is delivered without waiting for a reply nobody asks for', async () => {
      const quoteRoute = (pipeline: unknown[]) => ({
        id: 'quote-replay',
        source: {
          type: 'http',
          path: 'quote-replay',
          auth: 'none',
          mode: 'sync',
          timeoutMs: 20_000,
        },
        pipeline,
        destinations: [{ type: 'amqp', connection: 'rabbit', queue: requests, reply: true }],
      });
      const strict = [
        { validate: { schema: { type: 'object', required: ['total'] } } },
        { transform: '{ "orderId": id, "total": total }' },
      ];
      expect((await api('POST', '/api/v1/routes', quoteRoute(strict))).status).toBe(201);
      // No total: dead-lettered. The silent order is never answered by the service.
      const rejected = await eventually(async () => {
        const r = await post('quote-replay', JSON.stringify({ id: 'silent' }));
        expect(r.status).toBe(422);
        return r;
      });
      const { deadLetterId } = (rejected.body as { details: { deadLetterId: string } }).details;
      const relaxed = [{ transform: '{ "orderId": id, "total": 0 }' }];
      const updated = await api(
        'PUT',
        '/api/v1/routes/quote-replay?activate=true',
        quoteRoute(relaxed),
      );
      expect(updated.body).toMatchObject({ activeVersion: 2 });
      const replay = await eventually(async () => {
        const started = Date.now();
        const r = await api('POST', `/api/v1/dead-letters/${deadLetterId}/replay`);
        expect(r.body).toMatchObject({ outcome: 'replayed' });
        return Date.now() - started;
      });
      expect(replay).toBeLessThan(5_000);
      await api('DELETE', '/api/v1/routes/quote-replay');
    }, 30_000);

    it('refuses reply on an async route and a second reply destination, pointing at the field', async () => {
      const res = await api('POST', '/api/v1/routes/validate', {
        id: 'quote-2',
        source: { type: 'http', path: 'quote-2', mode: 'async' },
        destinations: [
          { type: 'amqp', connection: 'rabbit', queue: requests, reply: true },
          { type: 'kafka', connection: 'kafka', topic: 't', reply: true },
        ],
      });
      expect(res.body).toMatchObject({
        valid: false,
        problems: [
          {
            pointer: '/destinations/0/reply',
            message: 'a reply is awaited only for an http source with mode: sync',
          },
          { pointer: '/destinations/1/reply', message: 'is not a known field here' },
        ],
      });
    });
  });

  describe('request-reply over HTTP', () => {
    let erp: HttpTarget;

    beforeAll(async () => {
      erp = await startHttpTarget((body, res, req) => {
        const order = JSON.parse(body) as { id: string; card?: string };
        // A service that answers with the card number it was sent, in each form a reply takes.
        if (order.id === 'echo-json') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(
            `{"card":"${order.card}","asNumber":4111111111111111,"note":"on card ${order.card}","ok":true}`,
          );
        }
        if (order.id === 'echo-long-number') {
          // 19 digits past a double's precision: JSON.parse reads another number.
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('{"card":6222000000000000004,"orderNo":123456789012345678901234567890}');
        }
        if (order.id === 'echo-text') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end(`charged ${order.card}`);
        }
        if (order.id === 'echo-latin1') {
          // An older partner: ISO-8859-1 text (one byte over 0x7f: not UTF-8).
          res.writeHead(200, {
            'content-type': 'text/plain; charset=iso-8859-1; ref=4111111111111111',
          });
          return res.end(Buffer.from(`Zahlung f\u00fcr ${order.card}`, 'latin1'));
        }
        if (order.id === 'echo-utf16') {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-16le' });
          return res.end(Buffer.from(`paid ${order.card}`, 'utf16le'));
        }
        if (order.id === 'echo-exponent') {
          // 41111111111111110e-1 is 4111111111111111 once read.
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('{"card":41111111111111110e-1}');
        }
        if (order.id === 'echo-image') {
          res.writeHead(200, { 'content-type': 'image/png' });
          return res.end(Buffer.from(`\x89PNG 4111111111111111`, 'latin1'));
        }
        res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ erpId: `erp-${order.id}`, key: req.headers['idempotency-key'] }));
      });
      await api('POST', '/api/v1/connections', {
        name: 'erp',
        type: 'http',
        config: { baseUrl: erp.baseUrl },
      });
      const created = await api('POST', '/api/v1/routes', {
        id: 'erp-sync',
        source: { type: 'http', path: 'erp-sync', auth: 'none', mode: 'sync' },
        destinations: [
          { type: 'log' },
          { type: 'http', connection: 'erp', path: '/orders', reply: true },
        ],
      });
      expect(created.status).toBe(201);
    });

    afterAll(async () => {
      await erp?.close();
    });

    it("returns the HTTP service's response body as the reply", async () => {
      const res = await eventually(async () => {
        const r = await post('erp-sync', JSON.stringify({ id: 'o-7' }));
        expect(r.status).toBe(200);
        return r;
      });
      expect(res.body).toEqual({ erpId: 'erp-o-7', key: res.headers['x-junction-id'] });
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    });

    it('redacts every card number in the reply, whatever form the service answered in', async () => {
      const card = '4000 0566 5566 5556';
      const json = await post('erp-sync', JSON.stringify({ id: 'echo-json', card }));
      expect(json.status).toBe(200);
      expect(json.body).toEqual({
        card: '[PAN REDACTED]',
        asNumber: '[PAN REDACTED]',
        note: 'on card [PAN REDACTED]',
        ok: true,
      });
      const long = await post('erp-sync', JSON.stringify({ id: 'echo-long-number' }));
      expect(long.status).toBe(200);
      // Still JSON: the card number a JSON string, the other number as the service wrote it.
      expect(long.headers['content-type']).toBe('application/json');
      expect(long.text).toBe('{"card":"[PAN REDACTED]","orderNo":123456789012345678901234567890}');
      const text = await post('erp-sync', JSON.stringify({ id: 'echo-text', card }));
      expect(text.status).toBe(200);
      expect(text.text).toBe('charged [PAN REDACTED]');
      const latin1 = await post('erp-sync', JSON.stringify({ id: 'echo-latin1', card }));
      expect(latin1.status).toBe(200);
      expect(latin1.headers['content-type']).toBe(
        'text/plain; charset=iso-8859-1; ref=[PAN REDACTED]',
      );
      expect(latin1.raw.toString('latin1')).toBe('Zahlung f\u00fcr [PAN REDACTED]');
      const utf16 = await post('erp-sync', JSON.stringify({ id: 'echo-utf16', card }));
      expect(utf16.raw.toString('utf16le')).toBe('paid [PAN REDACTED]');
      const exponent = await post('erp-sync', JSON.stringify({ id: 'echo-exponent' }));
      expect(exponent.body).toEqual({ card: '[PAN REDACTED]' });
      // Bytes of a binary type are not text: they go as they came.
      const image = await post('erp-sync', JSON.stringify({ id: 'echo-image' }));
      expect(image.raw.toString('latin1')).toBe('\x89PNG 4111111111111111');
    });

    it("answers a route's result without the card numbers its masks left in", async () => {
      const created = await api('POST', '/api/v1/routes', {
        id: 'echo-sync',
        source: { type: 'http', path: 'echo-sync', auth: 'none', mode: 'sync' },
        pipeline: [{ mask: [{ path: 'card.pan', with: 'pan' }] }],
        destinations: [{ type: 'log' }],
      });
      expect(created.status).toBe(201);
      const res = await eventually(async () => {
        const r = await post(
          'echo-sync',
          JSON.stringify({
            card: { pan: '4111111111111111' },
            note: 'second card 5555-5555-5555-4444',
            ref: 4242424242424242,
            plain: 'ORD-1',
          }),
        );
        expect(r.status).toBe(200);
        return r;
      });
      expect(res.body).toEqual({
        card: { pan: '411111******1111' },
        note: 'second card [PAN REDACTED]',
        ref: '[PAN REDACTED]',
        plain: 'ORD-1',
      });
    });
  });
});
