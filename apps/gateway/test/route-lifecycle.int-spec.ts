/**
 * Editing one route from two places, and a route id used again, against real Postgres and
 * RabbitMQ: a change made from a stale read is refused (If-Match, 412) instead of silently
 * undoing another editor's, a deleted route's dead letters are never replayed into the
 * unrelated route that later takes its id, and no route reads a queue another route reads.
 */
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { DeadLettersRepository, ReplayClock } from '@junction/runtime';
import { eventually } from './eventually';
import { startTestGateway, TestGateway } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';

/** A replay clock whose sleeps pass at once, or wait while held. */
class HeldClock implements ReplayClock {
  t = 1_000_000;
  waiting = 0;
  private held = false;
  private waiters: Array<() => void> = [];

  now(): number {
    return this.t;
  }

  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.held) {
      this.waiting += 1;
      try {
        await new Promise<void>((resolve, reject) => {
          this.waiters.push(resolve);
          signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      } finally {
        this.waiting -= 1;
      }
    }
    this.t += ms;
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const w of this.waiters.splice(0)) w();
  }
}

interface Job {
  id: string;
  state: string;
  done: number;
  failed: number;
  error: string | null;
}

describe('route lifecycle', () => {
  const run = randomUUID().slice(0, 8);
  const oldQueue = `lifecycle-old-${run}`;
  const newQueue = `lifecycle-new-${run}`;
  let gw: TestGateway;
  let token: string;
  let broker: amqp.ChannelModel;
  let channel: amqp.Channel;
  const clock = new HeldClock();

  const api = (method: string, url: string, body?: unknown, headers?: Record<string, string>) =>
    gw.request(method, url, { token, body, headers });

  const doc = (id: string, description: string, queue = oldQueue) => ({
    id,
    description,
    source: { type: 'http', path: `${id}-${run}`, auth: 'none', mode: 'async' },
    destinations: [{ type: 'amqp', connection: 'rabbit', queue }],
  });

  beforeAll(async () => {
    gw = await startTestGateway(
      { JUNCTION_REPLAY_JOB_LEASE_MS: '1500', JUNCTION_REPLAY_JOB_POLL_MS: '100' },
      undefined,
      { replayClock: clock },
    );
    token = await gw.login('admin', gw.adminPassword);
    broker = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    channel = await broker.createChannel();
    for (const q of [oldQueue, newQueue]) await channel.assertQueue(q, { durable: true });
    await gw.create(token, '/api/v1/connections', {
      name: 'rabbit',
      type: 'amqp',
      config: { url: 'amqp://guest@127.0.0.1:5672' },
      secrets: { password: 'guest' },
    });
  }, 60_000);

  afterAll(async () => {
    clock.release();
    for (const q of [oldQueue, newQueue]) await channel?.deleteQueue(q).catch(() => undefined);
    await broker?.close();
    await gw?.close();
  }, 30_000);

  it('answers an ETag and refuses a PUT, an activation or a delete from a stale read (412)', async () => {
    const created = await api('POST', '/api/v1/routes', doc('tags', 'v1'));
    expect(created.status).toBe(201);
    expect(created.headers.etag).toBe('"1.1.1"');
    const read = await api('GET', '/api/v1/routes/tags');
    const tag = read.headers.etag as string;
    expect(tag).toBe('"1.1.1"');

    // Editor A saves version 2 and runs it, from the tag both editors read.
    const a = await api('PUT', '/api/v1/routes/tags?activate=true', doc('tags', 'A'), {
      'if-match': tag,
    });
    expect(a.status).toBe(200);
    expect(a.headers.etag).toBe('"1.2.2"');
    // Editor B, from the same stale read: refused, nothing stored, A's version still runs.
    const b = await api('PUT', '/api/v1/routes/tags?activate=true', doc('tags', 'B'), {
      'if-match': tag,
    });
    expect(b.status).toBe(412);
    expect(b.body).toMatchObject({
      statusCode: 412,
      error: 'Precondition Failed',
      details: { code: 'ROUTE_CHANGED', etag: '"1.2.2"', latestVersion: 2, activeVersion: 2 },
    });
    expect((await api('GET', '/api/v1/routes/tags')).body).toMatchObject({
      latestVersion: 2,
      activeVersion: 2,
      document: { description: 'A' },
    });

    // A rollback from the stale read loses to the activation it did not see; from the new tag it runs.
    const stale = await api('POST', '/api/v1/routes/tags/versions/1/activate', undefined, {
      'if-match': tag,
    });
    expect(stale.status).toBe(412);
    const rollback = await api('POST', '/api/v1/routes/tags/versions/1/activate', undefined, {
      'if-match': 'W/"1.2.2"',
    });
    expect(rollback.status).toBe(200);
    expect(rollback.headers.etag).toBe('"1.2.1"');

    // The YAML read answers the same tag; `*` matches any state; no header: the last write wins.
    const yaml = await api('GET', '/api/v1/routes/tags?format=yaml');
    expect(yaml.headers.etag).toBe('"1.2.1"');
    // Stopping and starting answer it too (they change no version: the same tag).
    for (const action of ['stop', 'start']) {
      const ran = await api('POST', `/api/v1/routes/tags/${action}`);
      expect({ action, status: ran.status, etag: ran.headers.etag }).toEqual({
        action,
        status: 200,
        etag: '"1.2.1"',
      });
    }
    expect(
      (await api('DELETE', '/api/v1/routes/tags', undefined, { 'if-match': tag })).status,
    ).toBe(412);
    expect(
      (await api('PUT', '/api/v1/routes/tags', doc('tags', 'C'), { 'if-match': '*' })).status,
    ).toBe(200);
    expect((await api('PUT', '/api/v1/routes/tags', doc('tags', 'D'))).status).toBe(200);
    expect(
      (await api('DELETE', '/api/v1/routes/tags', undefined, { 'if-match': '"1.4.1"' })).status,
    ).toBe(204);
  }, 60_000);

  it('takes an empty body labelled JSON as no body; a call that needs a document says so', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await api('POST', '/api/v1/routes', doc('bodiless', 'v1'))).status).toBe(201);
    // Another route on its ingest path (spelled in another case): validate names the owner.
    const copy = { ...doc('copycat', 'v1'), source: { ...doc('bodiless', 'v1').source } };
    copy.source.path = copy.source.path.toUpperCase();
    expect((await api('POST', '/api/v1/routes/validate', copy)).body).toEqual({
      valid: false,
      problems: [
        { pointer: '/source/path', message: "is route 'bodiless's path", routeId: 'bodiless' },
      ],
    });
    // curl -H 'content-type: application/json' on every call, as scripts do.
    for (const [method, url, status] of [
      ['POST', '/api/v1/routes/bodiless/stop', 200],
      ['POST', '/api/v1/routes/bodiless/start', 200],
      ['POST', '/api/v1/routes/bodiless/versions/1/activate', 200],
      ['DELETE', '/api/v1/routes/bodiless', 204],
    ] as const)
      expect({ url, status: (await api(method, url, '', json)).status }).toEqual({ url, status });
    for (const url of ['/api/v1/routes', '/api/v1/routes/validate']) {
      const none = await api('POST', url, '', json);
      expect({ url, status: none.status, body: none.body }).toMatchObject({
        url,
        status: 400,
        body: { message: expect.stringMatching(/send the route document as the request body/) },
      });
    }
  });

  it("does not replay a deleted route's dead letters into the route that took its id", async () => {
    expect((await api('POST', '/api/v1/routes', doc('again', 'first life'))).status).toBe(201);
    const store = gw.app.get(DeadLettersRepository, { strict: false });
    const park = (incarnation: number, n: number) =>
      store.park({
        messageId: `again-${incarnation}-${n}-${run}`,
        routeId: 'again',
        routeVersion: 1,
        routeIncarnation: incarnation,
        source: { type: 'http', name: `again-${run}` },
        reasonCode: 'LIFECYCLE',
        reason: 'parked by the test',
        attempts: 1,
        payload: Buffer.from(JSON.stringify({ id: `life-${incarnation}-${n}` })),
        headers: {},
      });
    const first = [await park(1, 0), await park(1, 1)];

    // Deleted, then the id taken by another route that delivers elsewhere.
    expect((await api('DELETE', '/api/v1/routes/again')).status).toBe(204);
    const second = await api('POST', '/api/v1/routes', doc('again', 'second life', newQueue));
    expect(second.body).toMatchObject({ incarnation: 2 });
    await eventually(async () =>
      expect((await api('GET', '/api/v1/routes/again/status')).body).toMatchObject({
        state: 'running',
      }),
    );
    const own = await park(2, 0);

    const refused = await api('POST', `/api/v1/dead-letters/${first[0]}/replay`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      details: { code: 'ROUTE_REPLACED', routeIncarnation: 1, currentIncarnation: 2 },
    });

    // A job over the id's letters replays the new life's own letter only.
    const created = await api('POST', '/api/v1/dead-letters/replay-jobs', {
      filter: { routeId: 'again', reasonCode: ['LIFECYCLE'] },
    });
    expect(created.status).toBe(202);
    const job = await eventually(async () => {
      const j = (await api('GET', `/api/v1/dead-letters/replay-jobs/${(created.body as Job).id}`))
        .body as Job;
      expect(j.state).toBe('done');
      return j;
    }, 20_000);
    expect(job).toMatchObject({ done: 1, failed: 2 });

    const delivered: string[] = [];
    for (;;) {
      const m = await channel.get(newQueue, { noAck: true });
      if (!m) break;
      delivered.push((JSON.parse(m.content.toString()) as { id: string }).id);
    }
    expect(delivered).toEqual(['life-2-0']);
    expect((await api('GET', `/api/v1/dead-letters/${own}`)).body).toMatchObject({ replays: 1 });
    for (const id of first)
      expect((await api('GET', `/api/v1/dead-letters/${id}`)).body).toMatchObject({ replays: 0 });
  }, 60_000);

  it("refuses a route that reads another route's queue or consumer group, where the broker would split the messages", async () => {
    await gw.create(token, '/api/v1/connections', {
      name: 'kafka',
      type: 'kafka',
      config: { brokers: ['127.0.0.1:9'] },
    });
    const amqpRoute = (id: string, queue: string) => ({
      id,
      source: { type: 'amqp', connection: 'rabbit', queue },
      destinations: [{ type: 'log' }],
    });
    const kafkaRoute = (id: string, groupId?: string) => ({
      id,
      source: { type: 'kafka', connection: 'kafka', topic: `orders-${run}`, groupId },
      destinations: [{ type: 'log' }],
    });
    const shared = `orders-in-${run}`;
    expect((await api('POST', '/api/v1/routes', amqpRoute('owner', shared))).status).toBe(201);

    const thief = await api('POST', '/api/v1/routes', amqpRoute('thief', shared));
    expect(thief.status).toBe(409);
    expect(thief.body).toMatchObject({
      details: {
        routeId: 'owner',
        problems: [{ pointer: '/source/queue', message: expect.stringContaining("'owner'") }],
      },
    });
    expect((await api('GET', '/api/v1/routes/thief')).status).toBe(404);
    // Elsewhere it is created; moved onto the owner's queue, refused, stored version or not.
    expect((await api('POST', '/api/v1/routes', amqpRoute('thief', `${shared}-2`))).status).toBe(
      201,
    );
    expect((await api('PUT', '/api/v1/routes/thief', amqpRoute('thief', shared))).status).toBe(409);
    expect((await api('GET', '/api/v1/routes/thief')).body).toMatchObject({ latestVersion: 1 });
    // Validate tells it before a save does (route apply checks every file first), with the owner;
    // the owner's own document is no conflict, nor a place the route reads already.
    expect((await api('POST', '/api/v1/routes/validate', amqpRoute('thief', shared))).body).toEqual(
      {
        valid: false,
        problems: [
          {
            pointer: '/source/queue',
            message: `is where route 'owner' reads (queue ${shared})`,
            routeId: 'owner',
          },
        ],
      },
    );
    const yaml = await api(
      'POST',
      '/api/v1/routes/validate',
      `id: thief\nsource:\n  type: amqp\n  connection: rabbit\n  queue: ${shared}\ndestinations:\n  - type: log\n`,
      { 'content-type': 'application/yaml' },
    );
    expect(yaml.body).toMatchObject({ problems: [{ pointer: '/source/queue', line: 5 }] });
    for (const document of [amqpRoute('owner', shared), amqpRoute('thief', `${shared}-2`)])
      expect((await api('POST', '/api/v1/routes/validate', document)).body).toEqual({
        valid: true,
        problems: [],
      });

    // Kafka: routes in their own groups each read the whole topic; one group is one reader.
    expect((await api('POST', '/api/v1/routes', kafkaRoute('k-one'))).status).toBe(201);
    expect((await api('POST', '/api/v1/routes', kafkaRoute('k-two'))).status).toBe(201);
    const group = await api('POST', '/api/v1/routes', kafkaRoute('k-three', 'junction.k-one'));
    expect(group.status).toBe(409);
    expect(group.body).toMatchObject({
      details: { routeId: 'k-one', problems: [{ pointer: '/source/groupId' }] },
    });

    // Once the owner is deleted, its queue is free.
    expect((await api('DELETE', '/api/v1/routes/owner')).status).toBe(204);
    expect((await api('PUT', '/api/v1/routes/thief', amqpRoute('thief', shared))).status).toBe(200);
    for (const id of ['thief', 'k-one', 'k-two'])
      expect((await api('DELETE', `/api/v1/routes/${id}`)).status).toBe(204);
  }, 60_000);

  it.each([
    // Deleted: the job ends before its next letter (its version may no longer run for it).
    ['deleted', 'DELETE', '/api/v1/routes/pinned-deleted', 204, 'failed', 0],
    // Stopped: each letter left fails (a stopped route replays nothing).
    ['stopped', 'POST', '/api/v1/routes/pinned-stopped/stop', 200, 'done', 2],
  ])(
    'a replay job through a chosen version stops delivering once its route is %s',
    async (_, method, url, status, ended, failed) => {
      const pinnedQueue = `lifecycle-pinned-${_}-${run}`;
      await channel.assertQueue(pinnedQueue, { durable: true });
      const pinned = (pipeline: unknown[]) => ({
        id: `pinned-${_}`,
        source: { type: 'http', path: `pinned-${_}-${run}`, auth: 'none', mode: 'async' },
        pipeline,
        destinations: [{ type: 'amqp', connection: 'rabbit', queue: pinnedQueue }],
      });
      const strict = [{ validate: { schema: { type: 'object', required: ['ok'] } } }];
      expect((await api('POST', '/api/v1/routes', pinned(strict))).status).toBe(201);
      expect((await api('PUT', `/api/v1/routes/pinned-${_}`, pinned([]))).body).toMatchObject({
        latestVersion: 2,
        activeVersion: 1,
      });
      const store = gw.app.get(DeadLettersRepository, { strict: false });
      for (let n = 0; n < 3; n++)
        await store.park({
          messageId: `pinned-${_}-${n}-${run}`,
          routeId: `pinned-${_}`,
          routeVersion: 1,
          source: { type: 'http', name: `pinned-${run}` },
          reasonCode: 'SCHEMA_FAILED',
          reason: 'no ok',
          attempts: 1,
          payload: Buffer.from(JSON.stringify({ id: `pinned-${n}` })),
          headers: {},
        });

      // One letter a second: the job replays the first, then waits on the held clock.
      clock.hold();
      const created = await api('POST', '/api/v1/dead-letters/replay-jobs', {
        filter: { routeId: `pinned-${_}` },
        version: 2,
        ratePerSecond: 1,
      });
      expect(created.status).toBe(202);
      const jobId = (created.body as Job).id;
      await eventually(async () => expect(clock.waiting).toBe(1));
      expect((await api(method, url)).status).toBe(status);
      clock.release();

      const job = await eventually(async () => {
        const j = (await api('GET', `/api/v1/dead-letters/replay-jobs/${jobId}`)).body as Job;
        expect(j.state).toBe(ended);
        return j;
      }, 20_000);
      expect(job).toMatchObject({ done: 1, failed });
      if (ended === 'failed') expect(job.error).toMatch(/has no active version any more/);
      const delivered: string[] = [];
      for (;;) {
        const m = await channel.get(pinnedQueue, { noAck: true });
        if (!m) break;
        delivered.push((JSON.parse(m.content.toString()) as { id: string }).id);
      }
      expect(delivered).toHaveLength(1);
      await api('DELETE', `/api/v1/routes/pinned-${_}`);
      await channel.deleteQueue(pinnedQueue);
    },
    60_000,
  );
});
