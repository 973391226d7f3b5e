import * as amqp from 'amqplib';
import { startHttpTarget } from './http-target';
import { eventually } from './eventually';
import { startTestGateway, TestGateway } from './test-gateway';

const PAN = '4111111111111111';

const route = (id: string, overrides: Record<string, unknown> = {}) => ({
  id,
  source: { type: 'http', path: id, auth: 'none', mode: 'async' },
  pipeline: [
    { validate: { schema: { type: 'object', required: ['id'] } } },
    { transform: '{ "id": id, "card": card }' },
    { mask: [{ path: 'card', with: 'pan' }] },
  ],
  destinations: [{ type: 'log' }],
  ...overrides,
});

describe('route runtime: ingest, dead letters, replay, activation', () => {
  let gw: TestGateway;
  let admin: string;
  /** The retry backoff's random part; a test that must know how long a retry waits fixes it. */
  let jitter: () => number = Math.random;

  beforeAll(async () => {
    gw = await startTestGateway({}, undefined, { retryJitter: () => jitter() });
    admin = await gw.login('admin', gw.adminPassword);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  const api = (method: string, url: string, body?: unknown) =>
    gw.request(method, url, { token: admin, body });
  const ingest = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    gw.request('POST', `/ingest/${path}`, { body, headers });

  it('starts a created route at once and delivers through it (async 202, sync 200)', async () => {
    expect((await api('POST', '/api/v1/routes', route('orders'))).status).toBe(201);
    const res = await eventually(async () => {
      const r = await ingest('orders', { id: 'o-1', card: PAN });
      expect(r.status).toBe(202);
      return r;
    });
    expect(res.body).toMatchObject({ routeId: 'orders', version: 1, status: 'delivered' });
    await api(
      'POST',
      '/api/v1/routes',
      route('orders-sync', {
        source: { type: 'http', path: 'orders-sync', auth: 'none', mode: 'sync' },
      }),
    );
    const sync = await eventually(async () => {
      const r = await ingest('orders-sync', { id: 'o-2', card: PAN });
      expect(r.status).toBe(200);
      return r;
    });
    expect(sync.body).toEqual({ id: 'o-2', card: '411111******1111' });
    const status = await api('GET', '/api/v1/routes/orders/status');
    expect(status.body).toMatchObject({ state: 'running', processed: 1, failed: 0, inFlight: 0 });
  });

  it('dead-letters a payload that is not JSON, answers 422, and keeps it encrypted for replay', async () => {
    const res = await ingest('orders', `not json ${PAN}`, { 'content-type': 'text/plain' });
    expect(res.status).toBe(422);
    const details = (res.body as { details: { code: string; deadLetterId: string } }).details;
    expect(details.code).toBe('INPUT_REJECTED');
    const list = await api('GET', '/api/v1/dead-letters?routeId=orders');
    expect(list.body).toEqual([
      expect.objectContaining({
        id: details.deadLetterId,
        reasonCode: 'INPUT_REJECTED',
        failedAt: 'input',
        routeId: 'orders',
        routeVersion: 1,
      }),
    ]);
    expect(list.text).not.toContain(PAN);
    const one = await api('GET', `/api/v1/dead-letters/${details.deadLetterId}`);
    expect(one.body).toMatchObject({ payload: 'not json [PAN REDACTED]' });
    const replay = await api('POST', `/api/v1/dead-letters/${details.deadLetterId}/replay`);
    expect(replay.body).toMatchObject({
      outcome: 'dead-lettered',
      error: { code: 'INPUT_REJECTED' },
    });
    expect((await api('GET', `/api/v1/dead-letters/${details.deadLetterId}`)).body).toMatchObject({
      replays: 1,
      replayedAt: null,
      lastReplayError: expect.stringContaining('INPUT_REJECTED'),
    });
    expect((await api('GET', '/api/v1/dead-letters?routeId=orders')).body).toHaveLength(1); // a failed replay adds no second letter
    expect((await api('DELETE', `/api/v1/dead-letters/${details.deadLetterId}`)).status).toBe(204);
    expect((await api('GET', `/api/v1/dead-letters/${details.deadLetterId}`)).status).toBe(404);
  });

  it('dead-letters a body whose number a double would change, says where, and keeps it as sent', async () => {
    // JSON.parse would make the id 12345678901234567000 and the fee null.
    for (const [text, pointer] of [
      ['{"id":12345678901234567890,"card":"4111111111111111"}', '/id'],
      ['{"id":"o-9","fees":[1.5,1e400]}', '/fees/1'],
    ]) {
      const res = await ingest('orders', text, { 'content-type': 'application/json' });
      expect(res.status).toBe(422);
      const { message, details } = res.body as {
        message: string;
        details: { id: string; code: string; deadLetterId: string };
      };
      expect(details.code).toBe('INPUT_REJECTED');
      expect(message).toContain(`at ${pointer}: the number`);
      const one = await api('GET', `/api/v1/dead-letters/${details.deadLetterId}`);
      expect(one.body).toMatchObject({
        reasonCode: 'INPUT_REJECTED',
        payload: text.replace('4111111111111111', '[PAN REDACTED]'),
      });
      // Audited as dead-lettered, with the reason.
      await eventually(async () => {
        const trail = await api('GET', `/api/v1/audit/messages/${details.id}`);
        expect(trail.status).toBe(200);
        expect(trail.text).toContain('dead-lettered');
        expect(trail.text).toContain(`at ${pointer}: the number`);
      });
    }
  });

  it('dead-letters a schema failure; after a fixed version is activated, replay delivers it', async () => {
    const res = await ingest('orders', { noId: true, card: PAN });
    expect(res.status).toBe(422);
    const { deadLetterId, code } = (res.body as { details: { deadLetterId: string; code: string } })
      .details;
    expect(code).toBe('SCHEMA_FAILED');
    const relaxed = route('orders', {
      pipeline: [{ transform: '{ "id": noId ? "generated" : id }' }],
    });
    expect((await api('PUT', '/api/v1/routes/orders?activate=true', relaxed)).body).toMatchObject({
      activeVersion: 2,
    });
    await eventually(async () =>
      expect((await api('GET', '/api/v1/routes/orders/status')).body).toMatchObject({
        state: 'running',
        processed: 0,
      }),
    );
    const replay = await api('POST', `/api/v1/dead-letters/${deadLetterId}/replay`);
    expect(replay.body).toMatchObject({ outcome: 'replayed' });
    expect((await api('GET', `/api/v1/dead-letters/${deadLetterId}`)).body).toMatchObject({
      replays: 1,
      replayedAt: expect.any(String),
      lastReplayError: null,
    });
  });

  it('stops and starts a route: a stopped route takes nothing', async () => {
    await api('POST', '/api/v1/routes/orders/stop');
    // The path is still the route's: 503 with Retry-After (send again later), not 404.
    const refused = await eventually(async () => {
      const r = await ingest('orders', { id: 'x' });
      expect(r.status).toBe(503);
      return r;
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await api('GET', '/api/v1/routes/orders/status')).body).toMatchObject({
      desiredState: 'stopped',
    });
    await api('POST', '/api/v1/routes/orders/start');
    await eventually(async () => expect((await ingest('orders', { id: 'x' })).status).toBe(202));
  });

  it('dead-letters a runaway expression and keeps serving the next messages', async () => {
    await api(
      'POST',
      '/api/v1/routes',
      route('bombs', { pipeline: [{ filter: 'bomb ? $count([1..99999].[1..99999]) > 0 : true' }] }),
    );
    await eventually(async () => expect((await ingest('bombs', { id: 'ok' })).status).toBe(202));
    const [bomb, good] = await Promise.all([
      ingest('bombs', { bomb: true }),
      ingest('bombs', { id: 'fine' }),
    ]);
    expect(bomb.status).toBe(422);
    expect(bomb.body).toMatchObject({ details: { code: 'EXPRESSION_LIMIT' } });
    expect(good.status).toBe(202);
  });

  it('a stop is not held up by a start still waiting for a broker that refuses the login', async () => {
    const rabbit = (password: string) => ({
      type: 'amqp',
      config: { url: 'amqp://guest@127.0.0.1:5672' },
      secrets: { password },
    });
    const queue = `junction.test.slow-start.${Date.now()}`;
    expect(
      (
        await api('POST', '/api/v1/connections', {
          name: 'refusing',
          ...rabbit('not-the-password'),
        })
      ).status,
    ).toBe(201);
    const created = await api(
      'POST',
      '/api/v1/routes',
      route('slow-start', { source: { type: 'amqp', connection: 'refusing', queue } }),
    );
    expect(created.status).toBe(201);
    // Its start now waits for a channel (up to 30 s) while the broker refuses the login.
    const stopping = Date.now();
    expect((await api('POST', '/api/v1/routes/slow-start/stop')).status).toBe(200);
    expect((await api('PUT', '/api/v1/connections/refusing', rabbit('guest'))).status).toBe(200);
    expect((await api('POST', '/api/v1/routes/slow-start/start')).status).toBe(200);
    // Runs with the right password long before the abandoned start would have timed out.
    await eventually(async () => {
      const status = await api('GET', '/api/v1/routes/slow-start/status');
      expect(status.body).toMatchObject({ state: 'running' });
    }, 20_000);
    expect(Date.now() - stopping).toBeLessThan(20_000);
    expect((await api('POST', '/api/v1/routes/slow-start/stop')).status).toBe(200);
    expect((await api('DELETE', '/api/v1/routes/slow-start')).status).toBe(204);
  }, 60_000);

  it('a stop hands a message waiting to retry back to its queue: not dead-lettered, delivered after the start', async () => {
    let failing = true;
    const received: string[] = [];
    const target = await startHttpTarget((body, res) => {
      received.push(`${failing ? 503 : 204} ${body}`);
      res.writeHead(failing ? 503 : 204).end();
    });
    const queue = `junction.test.hand-back.${Date.now()}`;
    const broker = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const channel = await broker.createConfirmChannel();
    // Every wait between tries is the whole minute (a random draw could come before the stop).
    jitter = () => 1;
    try {
      await api('POST', '/api/v1/connections', {
        name: 'hand-back-rabbit',
        type: 'amqp',
        config: { url: 'amqp://guest@127.0.0.1:5672' },
        secrets: { password: 'guest' },
      });
      await api('POST', '/api/v1/connections', {
        name: 'hand-back-target',
        type: 'http',
        config: { baseUrl: target.baseUrl },
      });
      const created = await api('POST', '/api/v1/routes', {
        id: 'hand-back',
        source: { type: 'amqp', connection: 'hand-back-rabbit', queue },
        destinations: [{ type: 'http', connection: 'hand-back-target', path: '/in' }],
        // The second attempt would come 60 s after the first: only a stop ends the wait.
        errors: { retry: { attempts: 10, backoffMs: 60_000, maxBackoffMs: 60_000 } },
      });
      expect(created.status).toBe(201);
      await eventually(async () =>
        expect((await api('GET', '/api/v1/routes/hand-back/status')).body).toMatchObject({
          state: 'running',
        }),
      );
      await channel.assertQueue(queue, { durable: true });
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id: 'hb-1' })), {
        messageId: 'hb-1',
        persistent: true,
      });
      await channel.waitForConfirms();
      await eventually(async () => expect(received).toEqual(['503 {"id":"hb-1"}']));

      const stopping = Date.now();
      expect((await api('POST', '/api/v1/routes/hand-back/stop')).status).toBe(200);
      await eventually(async () =>
        expect((await api('GET', '/api/v1/routes/hand-back/status')).body).toMatchObject({
          state: 'stopped',
        }),
      );
      expect(Date.now() - stopping).toBeLessThan(5_000);
      // Back in its queue, not failed: no dead letter, no second attempt.
      await eventually(async () => expect((await channel.checkQueue(queue)).messageCount).toBe(1));
      expect((await api('GET', '/api/v1/dead-letters?routeId=hand-back')).body).toEqual([]);
      expect(received).toHaveLength(1);

      failing = false;
      expect((await api('POST', '/api/v1/routes/hand-back/start')).status).toBe(200);
      await eventually(async () =>
        expect(received).toEqual(['503 {"id":"hb-1"}', '204 {"id":"hb-1"}']),
      );
      await eventually(async () => expect((await channel.checkQueue(queue)).messageCount).toBe(0));
      expect((await api('GET', '/api/v1/dead-letters?routeId=hand-back')).body).toEqual([]);
    } finally {
      jitter = Math.random;
      await api('DELETE', '/api/v1/routes/hand-back');
      await channel.deleteQueue(queue).catch(() => undefined);
      await broker.close();
      await target.close();
    }
  }, 60_000);

  it('an HTTP message waiting to retry when its route stops is dead-lettered, not dropped', async () => {
    const attempts: string[] = [];
    const target = await startHttpTarget((body, res) => {
      attempts.push(body);
      res.writeHead(503).end();
    });
    try {
      await gw.create(admin, '/api/v1/connections', {
        name: 'stop-target',
        type: 'http',
        config: { baseUrl: target.baseUrl },
      });
      // Every wait between tries is the whole minute: no second try can come before the stop.
      jitter = () => 1;
      const slow = { attempts: 10, backoffMs: 60_000, maxBackoffMs: 60_000 };
      for (const mode of ['sync', 'async'] as const)
        await gw.create(admin, '/api/v1/routes', {
          id: `stop-${mode}`,
          source: {
            type: 'http',
            path: `stop-${mode}`,
            auth: 'none',
            mode,
            ...(mode === 'sync' ? { timeoutMs: 1_000 } : {}),
          },
          destinations: [{ type: 'http', connection: 'stop-target', path: '/in' }],
          errors: { retry: slow },
        });
      // The sync caller gives up (504: "still being delivered"); the async one still waits.
      const sync = await eventually(async () => {
        const r = await ingest('stop-sync', { id: 'waits-sync' });
        expect(r.status).toBe(504);
        return r;
      });
      expect(sync.body).toMatchObject({ details: { id: expect.any(String) } });
      const asyncAnswer = ingest('stop-async', { id: 'waits-async' });
      await eventually(async () => expect(attempts).toContain('{"id":"waits-async"}'));
      for (const mode of ['sync', 'async'])
        expect((await api('POST', `/api/v1/routes/stop-${mode}/stop`)).status).toBe(200);
      expect((await asyncAnswer).body).toMatchObject({ status: 'dead-lettered' });
      for (const mode of ['sync', 'async']) {
        const letters = await eventually(async () => {
          const l = await api('GET', `/api/v1/dead-letters?routeId=stop-${mode}`);
          expect(l.body).toHaveLength(1);
          return l.body as Array<{ reasonCode: string; reason: string }>;
        });
        expect(letters[0]).toMatchObject({
          reasonCode: 'DELIVERY_FAILED',
          reason: expect.stringContaining('the route stopped while it waited to retry'),
        });
      }
      expect(attempts.filter((a) => a.includes('waits-'))).toHaveLength(2); // one try each
    } finally {
      jitter = Math.random;
      for (const mode of ['sync', 'async']) await api('DELETE', `/api/v1/routes/stop-${mode}`);
      await target.close();
    }
  }, 60_000);

  it('a changed connection reaches the routes that use it: they restart with it', async () => {
    const queue = `junction.test.rotating.${Date.now()}`;
    const rabbit = (password: string) => ({
      type: 'amqp',
      config: { url: 'amqp://guest@127.0.0.1:5672' },
      secrets: { password },
    });
    const broker = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const channel = await broker.createConfirmChannel();
    const publish = async (id: string) => {
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id })), { messageId: id });
      await channel.waitForConfirms();
    };
    const status = async () =>
      (await api('GET', '/api/v1/routes/rotating/status')).body as { processed: number };
    try {
      await channel.assertQueue(queue, { durable: true });
      expect(
        (await api('POST', '/api/v1/connections', { name: 'rotating', ...rabbit('guest') })).status,
      ).toBe(201);
      expect(
        (
          await api(
            'POST',
            '/api/v1/routes',
            route('rotating', { source: { type: 'amqp', connection: 'rotating', queue } }),
          )
        ).status,
      ).toBe(201);
      await publish('r-1');
      await eventually(async () =>
        expect(await status()).toMatchObject({ state: 'running', processed: 1 }),
      );

      // A wrong password: the running consumer goes (it would otherwise keep the old login).
      expect((await api('PUT', '/api/v1/connections/rotating', rabbit('wrong'))).status).toBe(200);
      await publish('r-2');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect((await channel.checkQueue(queue)).messageCount).toBe(1);

      // Mended: taken up at once, not after the refused start's 30 s time-out.
      const mended = Date.now();
      expect((await api('PUT', '/api/v1/connections/rotating', rabbit('guest'))).status).toBe(200);
      await eventually(async () => {
        expect(await status()).toMatchObject({ state: 'running', processed: 1 });
        expect((await channel.checkQueue(queue)).messageCount).toBe(0);
      }, 20_000);
      expect(Date.now() - mended).toBeLessThan(15_000);

      // An edit that changes nothing the route uses does not restart it.
      const before = await status();
      expect((await api('PUT', '/api/v1/connections/rotating', rabbit('guest'))).status).toBe(200);
      await publish('r-3');
      await eventually(async () =>
        expect(await status()).toMatchObject({ processed: before.processed + 1 }),
      );
    } finally {
      await api('DELETE', '/api/v1/routes/rotating');
      await channel.deleteQueue(queue).catch(() => undefined);
      await broker.close();
    }
  }, 60_000);

  it('routes that feed each other in a loop stop a message after JUNCTION_MAX_HOPS routes (real RabbitMQ)', async () => {
    // loop-a takes from one queue and writes to the other, loop-b the other way round: no route
    // document shows the loop. Each delivery carries junction-hops up by one; the default limit
    // is 10, so the message runs 10 times (hops 0 to 9) and the 11th arrival is dead-lettered.
    const stamp = Date.now();
    const [qa, qb] = [`junction.test.loop-a.${stamp}`, `junction.test.loop-b.${stamp}`];
    const broker = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    const channel = await broker.createConfirmChannel();
    const loop = (id: string, from: string, to: string) => ({
      id,
      source: { type: 'amqp', connection: 'loop-rabbit', queue: from },
      pipeline: [{ transform: '$merge([$, { "turns": ($exists(turns) ? turns : 0) + 1 }])' }],
      destinations: [{ type: 'amqp', connection: 'loop-rabbit', queue: to }],
    });
    try {
      await channel.assertQueue(qa, { durable: true });
      await channel.assertQueue(qb, { durable: true });
      expect(
        (
          await api('POST', '/api/v1/connections', {
            name: 'loop-rabbit',
            type: 'amqp',
            config: { url: 'amqp://guest@127.0.0.1:5672' },
            secrets: { password: 'guest' },
          })
        ).status,
      ).toBe(201);
      expect((await api('POST', '/api/v1/routes', loop('loop-a', qa, qb))).status).toBe(201);
      expect((await api('POST', '/api/v1/routes', loop('loop-b', qb, qa))).status).toBe(201);
      await eventually(async () => {
        for (const id of ['loop-a', 'loop-b'])
          expect((await api('GET', `/api/v1/routes/${id}/status`)).body).toMatchObject({
            state: 'running',
          });
      });
      channel.sendToQueue(qa, Buffer.from(JSON.stringify({ id: 'round' })), {
        messageId: 'round-1',
      });
      await channel.waitForConfirms();
      const letters = await eventually(async () => {
        const list = (await api('GET', '/api/v1/dead-letters?routeId=loop-a')).body as Array<{
          id: string;
          reasonCode: string;
          reason: string;
        }>;
        expect(list).toHaveLength(1);
        return list;
      }, 20_000);
      expect(letters[0]).toMatchObject({
        reasonCode: 'INPUT_REJECTED',
        reason: expect.stringMatching(/passed through 10 routes already .* 10 is the most allowed/),
      });
      // It went round 10 times, and stopped: both queues are empty and stay so.
      const one = (await api('GET', `/api/v1/dead-letters/${letters[0].id}`)).body as {
        payload: unknown;
      };
      expect(one.payload).toEqual({ id: 'round', turns: 10 });
      for (const queue of [qa, qb]) expect((await channel.checkQueue(queue)).messageCount).toBe(0);
      expect((await api('GET', '/api/v1/dead-letters?routeId=loop-b')).body).toEqual([]);
    } finally {
      for (const id of ['loop-a', 'loop-b']) await api('DELETE', `/api/v1/routes/${id}`);
      await api('DELETE', '/api/v1/connections/loop-rabbit');
      for (const queue of [qa, qb]) await channel.deleteQueue(queue).catch(() => undefined);
      await broker.close();
    }
  }, 60_000);

  it('a second gateway process on the same database follows route changes (LISTEN/NOTIFY)', async () => {
    // In one test process both apps share passport's strategies, so they share the key too (as
    // real processes sharing a database must: it seals the secrets stored there).
    const other = await startTestGateway(
      {},
      { databaseUrl: gw.databaseUrl, masterKey: gw.masterKey },
    );
    try {
      await eventually(async () =>
        expect(
          (await other.request('POST', '/ingest/orders', { body: { id: 'via-other' } })).status,
        ).toBe(202),
      );
      expect((await api('POST', '/api/v1/routes', route('late-route'))).status).toBe(201);
      await eventually(async () =>
        expect(
          (await other.request('POST', '/ingest/late-route', { body: { id: 'y' } })).status,
        ).toBe(202),
      );
      await api('DELETE', '/api/v1/routes/late-route');
      await eventually(async () =>
        expect(
          (await other.request('POST', '/ingest/late-route', { body: { id: 'y' } })).status,
        ).toBe(404),
      );
    } finally {
      await other.close();
    }
  }, 60_000);
});
