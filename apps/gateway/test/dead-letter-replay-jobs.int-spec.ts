/**
 * Bulk replay of dead letters as jobs, against real Postgres and RabbitMQ: a job replays exactly
 * the letters its filter matches, at its rate (on an injected clock: nothing really waits), can
 * be cancelled, runs through a chosen version, and a job whose process stops is resumed by
 * another gateway process without replaying any letter twice.
 */
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  DeadLettersRepository,
  MAX_OPEN_REPLAY_JOBS,
  MAX_REPLAY_JOB_ITEMS,
  ReplayClock,
  ReplayJobsService,
} from '@junction/runtime';
import { eventually } from './eventually';
import { startTestGateway, TestGateway } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** 4111 1111 1111 1111 as the tests below spell it (spaces, dashes, none). */
const CARD = /4111[ -]?1111[ -]?1111[ -]?1111/;

/** A clock whose sleeps pass at once (advancing it), or wait while held. */
class TestClock implements ReplayClock {
  t = 1_000_000;
  slept: number[] = [];
  waiting = 0;
  private held = false;
  private waiters: Array<() => void> = [];

  now(): number {
    return this.t;
  }

  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    this.slept.push(ms);
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
  total: number;
  done: number;
  failed: number;
  startedBy: string;
  version: number | null;
  cancelRequested: boolean;
  finishedAt: string | null;
  error: string | null;
}

describe('dead-letter replay jobs', () => {
  const run = randomUUID().slice(0, 8);
  const queue = `replay-jobs-${run}`;
  const clockA = new TestClock();
  let a: TestGateway;
  let b: TestGateway | undefined;
  let token: string;
  let broker: amqp.ChannelModel;
  let channel: amqp.Channel;
  const env = { JUNCTION_REPLAY_JOB_LEASE_MS: '1500', JUNCTION_REPLAY_JOB_POLL_MS: '100' };

  const route = (pipeline: unknown[]) => ({
    id: 'rj',
    source: { type: 'http', path: `rj-${run}`, auth: 'none', mode: 'async' },
    pipeline,
    destinations: [{ type: 'amqp', connection: 'rabbit', queue }],
  });

  beforeAll(async () => {
    a = await startTestGateway(env, undefined, { replayClock: clockA });
    token = await a.login('admin', a.adminPassword);
    broker = await amqp.connect(AMQP_URL);
    channel = await broker.createChannel();
    await channel.assertQueue(queue, { durable: true });
    expect(
      (
        await api('POST', '/api/v1/connections', {
          name: 'rabbit',
          type: 'amqp',
          config: { url: 'amqp://guest@127.0.0.1:5672' },
          secrets: { password: 'guest' },
        })
      ).status,
    ).toBe(201);
    // Version 1 (active) wants a total; version 2 (stored, not active) takes anything.
    expect(
      (
        await api(
          'POST',
          '/api/v1/routes',
          route([{ validate: { schema: { type: 'object', required: ['id', 'total'] } } }]),
        )
      ).status,
    ).toBe(201);
    expect((await api('PUT', '/api/v1/routes/rj', route([]))).body).toMatchObject({
      activeVersion: 1,
    });
    await eventually(async () =>
      expect((await api('GET', '/api/v1/routes/rj/status')).body).toMatchObject({
        state: 'running',
      }),
    );
  }, 60_000);

  afterAll(async () => {
    clockA.release();
    await channel?.deleteQueue(queue).catch(() => undefined);
    await broker?.close();
    await b?.close();
    await a?.close();
  }, 30_000);

  function api(method: string, url: string, body?: unknown, gw: TestGateway = a) {
    return gw.request(method, url, { token, body });
  }

  async function park(reasonCode: string, n: number, payload: (i: number) => unknown) {
    const store = a.app.get(DeadLettersRepository, { strict: false });
    const ids: string[] = [];
    for (let i = 0; i < n; i++)
      ids.push(
        await store.park({
          messageId: `${reasonCode}-${i}-${run}`,
          routeId: 'rj',
          routeVersion: 1,
          source: { type: 'http', name: `rj-${run}` },
          reasonCode,
          reason: `failed ${reasonCode} #${i}`,
          attempts: 1,
          payload: Buffer.from(JSON.stringify(payload(i))),
          headers: {},
        }),
      );
    return ids;
  }

  /** Everything on the queue now (the job awaited each delivery's confirm before counting it). */
  async function drain(): Promise<string[]> {
    const ids: string[] = [];
    for (;;) {
      const m = await channel.get(queue, { noAck: true });
      if (!m) return ids;
      ids.push((JSON.parse(m.content.toString()) as { id: string }).id);
    }
  }

  const job = async (id: string, gw: TestGateway = a) =>
    (await api('GET', `/api/v1/dead-letters/replay-jobs/${id}`, undefined, gw)).body as Job;

  async function finished(id: string, state = 'done'): Promise<Job> {
    return eventually(async () => {
      const j = await job(id);
      expect(j.state).toBe(state);
      return j;
    }, 20_000);
  }

  it('replays exactly the 3 of 20 dead letters that match, at the rate asked, and audits each', async () => {
    await park('OTHER_FAILED', 9, (i) => ({ id: `other-${i}`, total: i }));
    await park('SCHEMA_FAILED', 3, (i) => ({ id: `schema-${i}`, total: i }));
    await park('TIMEOUT', 8, (i) => ({ id: `timeout-${i}`, total: i }));
    await drain();
    const filter = { routeId: 'rj', reasonCode: ['SCHEMA_FAILED'] };
    const dry = await api('POST', '/api/v1/dead-letters/replay-jobs', { filter, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({ dryRun: true, total: 3 });
    expect(
      (await api('POST', '/api/v1/dead-letters/replay-jobs', { filter: {}, dryRun: true })).body,
    ).toEqual({ dryRun: true, total: 20 });
    expect((await api('GET', '/api/v1/dead-letters/replay-jobs')).body).toEqual([]);

    clockA.slept = [];
    const created = await api('POST', '/api/v1/dead-letters/replay-jobs', {
      filter,
      ratePerSecond: 2,
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ total: 3, startedBy: 'admin', version: null });
    const done = await finished((created.body as Job).id);
    expect(done).toMatchObject({ total: 3, done: 3, failed: 0, finishedAt: expect.any(String) });
    expect((await drain()).sort()).toEqual(['schema-0', 'schema-1', 'schema-2']);
    // 3 items at 2 a second: two waits of half a second, on the injected clock.
    expect(clockA.slept.reduce((s, ms) => s + ms, 0)).toBe(1000);
    const counts = (await api('GET', '/api/v1/dead-letters/counts?routeId=rj')).body as {
      total: number;
    };
    expect(counts.total).toBe(20); // replayed letters stay (marked replayed), as with a single replay
    const list = (await api('GET', '/api/v1/dead-letters/replay-jobs')).body as Job[];
    expect(list.map((j) => j.id)).toEqual([(created.body as Job).id]);
    // Each letter keeps the replay in its history: the job, who started it, the outcome.
    const replayed = (await api('GET', `/api/v1/dead-letters?routeId=rj&reasonCode=SCHEMA_FAILED`))
      .body as Array<{ id: string }>;
    for (const { id } of replayed) {
      const letter = (await api('GET', `/api/v1/dead-letters/${id}`)).body as {
        replayHistory: unknown[];
      };
      expect(letter.replayHistory).toEqual([
        {
          at: expect.any(String),
          version: 1,
          outcome: 'replayed',
          error: null,
          by: 'admin',
          jobId: (created.body as Job).id,
        },
      ]);
    }

    const events = await eventually(async () => {
      const r = (await api('GET', '/api/v1/audit/events?limit=500')).body as {
        items: Array<{
          type: string;
          target: { id: string } | null;
          details: Record<string, unknown>;
        }>;
      };
      const mine = r.items.filter(
        (e) =>
          e.target?.id === (created.body as Job).id ||
          e.details?.replayJob === (created.body as Job).id,
      );
      expect(mine.map((e) => e.type).sort()).toEqual([
        'deadletter.replayed',
        'deadletter.replayed',
        'deadletter.replayed',
        'deadletter.replayjob.created',
        'deadletter.replayjob.finished',
        'deadletter.replayjob.started',
      ]);
      return mine;
    });
    expect(events.length).toBe(6);
    // The story of a replayed message names the job's replay: found through the dead letters
    // that hold its id (the audit asks the runtime's port for them).
    const story = await eventually(async () => {
      const r = await api('GET', `/api/v1/audit/messages/SCHEMA_FAILED-0-${run}`);
      expect(r.status).toBe(200);
      return r.body as { replays: Array<{ type: string; target: { id: string } | null }> };
    });
    expect(story.replays.map((e) => e.type)).toEqual(['deadletter.replayed']);
  }, 60_000);

  it('replays through a chosen version that is not the running one; the running one fails them', async () => {
    const ids = await park('NEEDS_V2', 3, (i) => ({ id: `v2-${i}` }));
    const filter = { routeId: 'rj', reasonCode: ['NEEDS_V2'] };
    const first = await api('POST', '/api/v1/dead-letters/replay-jobs', { filter });
    expect(await finished((first.body as Job).id)).toMatchObject({ done: 0, failed: 3 });
    expect(await drain()).toEqual([]);
    const second = await api('POST', '/api/v1/dead-letters/replay-jobs', { filter, version: 2 });
    expect(second.status).toBe(202);
    expect(await finished((second.body as Job).id)).toMatchObject({
      version: 2,
      done: 3,
      failed: 0,
    });
    expect((await drain()).sort()).toEqual(['v2-0', 'v2-1', 'v2-2']);
    for (const id of ids)
      expect((await api('GET', `/api/v1/dead-letters/${id}`)).body).toMatchObject({
        replays: 2,
        lastReplayError: null,
      });
    // The running version is still 1.
    expect((await api('GET', '/api/v1/routes/rj/status')).body).toMatchObject({
      activeVersion: 1,
    });
    expect(
      (await api('POST', '/api/v1/dead-letters/replay-jobs', { filter, version: 9 })).status,
    ).toBe(404);
    expect(
      (await api('POST', '/api/v1/dead-letters/replay-jobs', { filter: {}, version: 2 })).status,
    ).toBe(400);
  }, 60_000);

  it('an operator replays through the running version only: another one runs as an activation would', async () => {
    // Version 2 was stored, never activated (a draft, or one the sample guard kept from running).
    const created = await api('POST', '/api/v1/users', {
      username: `op-${run}`,
      password: 'an-operator-password-1',
      roles: ['operator'],
    });
    expect(created.status).toBe(201);
    const operator = await a.login(`op-${run}`, 'an-operator-password-1');
    const asOperator = (body: unknown) =>
      a.request('POST', '/api/v1/dead-letters/replay-jobs', { token: operator, body });
    await park('OPERATOR_V2', 2, (i) => ({ id: `op-v2-${i}` }));
    const filter = { routeId: 'rj', reasonCode: ['OPERATOR_V2'] };
    const refused = await asOperator({ filter, version: 2 });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain('routes.activate');
    // The running version (pinned or not) is the operator's to replay through.
    const pinned = await asOperator({ filter, version: 1 });
    expect(pinned.status).toBe(202);
    // Not kept: the job follows the active version (a rollback is not undone by a pinned job).
    expect((pinned.body as Job).version).toBeNull();
    expect(await finished((pinned.body as Job).id)).toMatchObject({ done: 0, failed: 2 });
    expect(await drain()).toEqual([]);
    const jobs = (await api('GET', '/api/v1/dead-letters/replay-jobs')).body as Job[];
    expect(jobs.filter((j) => j.startedBy === `op-${run}`)).toHaveLength(1);
    // The active version is the registry's, whether or not this process runs the route now.
    expect((await api('POST', '/api/v1/routes/rj/stop')).status).toBe(200);
    try {
      const stopped = await asOperator({ filter, version: 1 });
      expect(stopped.status).toBe(202);
      await finished((stopped.body as Job).id);
      expect((await asOperator({ filter, version: 2 })).status).toBe(403);
    } finally {
      expect((await api('POST', '/api/v1/routes/rj/start')).status).toBe(200);
      await eventually(async () =>
        expect((await api('GET', '/api/v1/routes/rj/status')).body).toMatchObject({
          state: 'running',
        }),
      );
    }
  }, 60_000);

  it('a job through a version that is not the running one passes the sample guard, as its activation would', async () => {
    // A sample with a card number: version 2 (no mask) lets it out; version 1 (running) too, but
    // it runs already. Even one who may activate (an admin here) is refused version 2 as a job.
    const sample = '/api/v1/routes/rj/samples/with-card';
    expect(
      (await api('PUT', sample, { body: { id: 'g-1', total: 1, card: '4111111111111111' } }))
        .status,
    ).toBe(200);
    try {
      await park('GUARDED_V2', 1, (i) => ({ id: `guarded-${i}` }));
      const filter = { routeId: 'rj', reasonCode: ['GUARDED_V2'] };
      const refused = await api('POST', '/api/v1/dead-letters/replay-jobs', { filter, version: 2 });
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({
        details: { code: 'SAMPLE_LEAKS_PAN', samples: [{ name: 'with-card' }] },
      });
      expect(JSON.stringify(refused.body)).not.toContain('4111111111111111');
      const jobs = (await api('GET', '/api/v1/dead-letters/replay-jobs')).body as Job[];
      expect(jobs.filter((j) => j.version === 2 && j.total === 1)).toEqual([]);
      // Through the running version the job is made: the guard is the activation's, passed then.
      const running = await api('POST', '/api/v1/dead-letters/replay-jobs', { filter, version: 1 });
      expect(running.status).toBe(202);
      await finished((running.body as Job).id);
      await drain();
    } finally {
      expect((await api('DELETE', sample)).status).toBe(204);
    }
  }, 60_000);

  it('a job pinned to a version stops, before its next item, once the route is rolled back from that version', async () => {
    await park('ROLLED_BACK', 3, (i) => ({ id: `rolled-back-${i}` }));
    const filter = { routeId: 'rj', reasonCode: ['ROLLED_BACK'] };
    // Version 2 runs, and the job is pinned to it (by one who may activate).
    expect((await api('POST', '/api/v1/routes/rj/versions/2/activate')).status).toBe(200);
    try {
      clockA.hold();
      const created = await api('POST', '/api/v1/dead-letters/replay-jobs', {
        filter,
        version: 2,
        ratePerSecond: 1,
      });
      expect(created.body).toMatchObject({ version: 2, total: 3 });
      const id = (created.body as Job).id;
      await eventually(async () => {
        expect(await job(id)).toMatchObject({ state: 'running', done: 1 });
        expect(clockA.waiting).toBe(1);
      });
      // Rolled back (version 2 leaks, say): the job must not replay on through it.
      expect((await api('POST', '/api/v1/routes/rj/versions/1/activate')).status).toBe(200);
      clockA.release();
      const failed = await finished(id, 'failed');
      expect(failed).toMatchObject({ done: 1, failed: 0, total: 3 });
      expect(failed.error).toMatch(
        /version 2, made while version 2 was active; the route's active version is now 1 \(a rollback/,
      );
      expect(await drain()).toEqual(['rolled-back-0']);
      // One made now is approved against the route as it runs now (all three: a replayed letter
      // stays, marked replayed).
      const again = await api('POST', '/api/v1/dead-letters/replay-jobs', { filter, version: 2 });
      expect(again.status).toBe(202);
      expect(await finished((again.body as Job).id)).toMatchObject({ done: 3, failed: 0 });
      expect((await drain()).sort()).toEqual([0, 1, 2].map((i) => `rolled-back-${i}`));
    } finally {
      clockA.release();
      expect((await api('POST', '/api/v1/routes/rj/versions/1/activate')).status).toBe(200);
    }
    await drain();
  }, 60_000);

  it('a job pinned to a stored version stops once that version is activated and rolled back', async () => {
    await park('ACTIVATED_ROLLED_BACK', 3, (i) => ({ id: `aba-${i}` }));
    const filter = { routeId: 'rj', reasonCode: ['ACTIVATED_ROLLED_BACK'] };
    clockA.hold();
    try {
      // Made while version 1 runs, through stored version 2 (it passes the sample guard).
      const created = await api('POST', '/api/v1/dead-letters/replay-jobs', {
        filter,
        version: 2,
        ratePerSecond: 1,
      });
      expect(created.status).toBe(202);
      const id = (created.body as Job).id;
      await eventually(async () => {
        expect(await job(id)).toMatchObject({ state: 'running', done: 1 });
        expect(clockA.waiting).toBe(1);
      });
      // Version 2 is tried live and rolled back (it leaks, say): version 1 is active again, as
      // when the job was made, but version 2 was taken out of service since.
      expect((await api('POST', '/api/v1/routes/rj/versions/2/activate')).status).toBe(200);
      expect((await api('POST', '/api/v1/routes/rj/versions/1/activate')).status).toBe(200);
      clockA.release();
      const failed = await finished(id, 'failed');
      expect(failed).toMatchObject({ done: 1, failed: 0, total: 3 });
      expect(failed.error).toMatch(/rollback or another activation/);
      expect(await drain()).toEqual(['aba-0']);
    } finally {
      clockA.release();
      expect((await api('POST', '/api/v1/routes/rj/versions/1/activate')).status).toBe(200);
    }
    await drain();
  }, 60_000);

  it('a job pinned to a version that is not the running one stops once the sample guard refuses that version', async () => {
    await park('GUARD_LATER', 3, (i) => ({ id: `guard-later-${i}` }));
    const filter = { routeId: 'rj', reasonCode: ['GUARD_LATER'] };
    const sample = '/api/v1/routes/rj/samples/later-card';
    clockA.hold();
    try {
      // Made while version 2 passes the guard; a batch lasts GUARD_EVERY.ms (5 s) on the clock.
      const created = await api('POST', '/api/v1/dead-letters/replay-jobs', {
        filter,
        version: 2,
        ratePerSecond: 0.1,
      });
      expect(created.status).toBe(202);
      const id = (created.body as Job).id;
      await eventually(async () => {
        expect(await job(id)).toMatchObject({ state: 'running', done: 1 });
        expect(clockA.waiting).toBe(1);
      });
      // A sample that version 2 (no mask) lets a card number out of, added meanwhile.
      expect(
        (await api('PUT', sample, { body: { id: 'l-1', total: 1, card: '4111111111111111' } }))
          .status,
      ).toBe(200);
      clockA.release();
      const failed = await finished(id, 'failed');
      expect(failed).toMatchObject({ done: 1, failed: 0, total: 3 });
      expect(failed.error).toMatch(/version 2 may not run any more: .*card number.*later-card/);
      expect(JSON.stringify(failed)).not.toMatch(CARD);
      expect(await drain()).toEqual(['guard-later-0']);
    } finally {
      clockA.release();
      expect((await api('DELETE', sample)).status).toBe(204);
    }
  }, 60_000);

  it('cancel stops a running job before its next item; a queued-looking bad request is refused', async () => {
    await park('CANCEL_ME', 3, (i) => ({ id: `cancel-${i}`, total: i }));
    clockA.hold();
    const created = await api('POST', '/api/v1/dead-letters/replay-jobs', {
      filter: { routeId: 'rj', reasonCode: ['CANCEL_ME'] },
      ratePerSecond: 1,
    });
    const id = (created.body as Job).id;
    await eventually(async () => {
      expect(await job(id)).toMatchObject({ state: 'running', done: 1 });
      expect(clockA.waiting).toBe(1);
    });
    const cancel = await api('POST', `/api/v1/dead-letters/replay-jobs/${id}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ cancelRequested: true });
    clockA.release();
    expect(await finished(id, 'cancelled')).toMatchObject({ done: 1, failed: 0, total: 3 });
    expect(await drain()).toEqual(['cancel-0']);
    expect(
      (await api('POST', `/api/v1/dead-letters/replay-jobs/${randomUUID()}/cancel`)).status,
    ).toBe(404);
    for (const body of [
      { filter: { routeId: 'rj' }, ratePerSecond: 0 },
      { filter: { from: 'soon' } },
      { filter: { routeId: 'rj' }, extra: true },
      {},
    ])
      expect((await api('POST', '/api/v1/dead-letters/replay-jobs', body)).status).toBe(400);
    // A job keeps its filter and lists it to every operator (the console links it back into
    // the search box): one holding a card number is refused, never quoted.
    for (const filter of [
      { routeId: 'rj', q: 'card 4111 1111 1111 1111' },
      { routeId: '4111-1111-1111-1111' },
      { reasonCode: ['4111111111111111'] },
    ]) {
      const refused = await api('POST', '/api/v1/dead-letters/replay-jobs', { filter });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toMatch(/must not hold a card number/);
      expect(JSON.stringify(refused.body)).not.toMatch(CARD);
    }
    // The card number in any of its spellings (a job's random id may hold "4111" by chance).
    const jobs = await api('GET', '/api/v1/dead-letters/replay-jobs');
    expect(JSON.stringify(jobs.body)).not.toMatch(CARD);
  }, 60_000);

  it('a job whose process stops is resumed by another process; no letter is replayed twice', async () => {
    const ids = await park('TAKEOVER', 5, (i) => ({ id: `takeover-${i}`, total: i }));
    clockA.hold();
    const created = await api('POST', '/api/v1/dead-letters/replay-jobs', {
      filter: { routeId: 'rj', reasonCode: ['TAKEOVER'] },
      ratePerSecond: 1,
    });
    const id = (created.body as Job).id;
    // Process A replays the first and then hangs (its clock never wakes it): no lease renewal.
    await eventually(async () => {
      expect(await job(id)).toMatchObject({ state: 'running', done: 1 });
      expect(clockA.waiting).toBe(1);
    });
    const clockB = new TestClock();
    b = await startTestGateway(
      env,
      { databaseUrl: a.databaseUrl, masterKey: a.masterKey },
      { replayClock: clockB },
    );
    // Once A's lease lapses, B claims the job and goes on from the second letter.
    const done = await finished(id);
    expect(done).toMatchObject({ total: 5, done: 5, failed: 0 });
    expect(clockB.slept.reduce((s, ms) => s + ms, 0)).toBeGreaterThanOrEqual(3000);
    // A wakes up: its lease is gone, so it replays nothing more.
    clockA.release();
    await a.app.get(ReplayJobsService, { strict: false }).whenIdle();
    expect((await drain()).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `takeover-${i}`));
    for (const dl of ids)
      expect((await api('GET', `/api/v1/dead-letters/${dl}`)).body).toMatchObject({ replays: 1 });
    expect(await job(id)).toMatchObject({ done: 5, failed: 0, state: 'done' });
  }, 90_000);

  it('previews a fix: 0 of 3 would deliver through the running version, 3 of 3 through a fixed draft or version; nothing is sent', async () => {
    const PAN = '4111111111111111';
    const ids = await park('PREVIEW_ME', 3, (i) => ({ id: `pv-${i}`, card: PAN }));
    await park('PREVIEW_OK', 2, (i) => ({ id: `pv-ok-${i}`, total: i }));
    await drain();
    const filter = { routeId: 'rj', reasonCode: ['PREVIEW_ME', 'PREVIEW_OK'] };
    type Preview = {
      version: number | 'draft' | null;
      evaluated: number;
      matched: number;
      truncated: boolean;
      wouldDeliver: number;
      byReason: Array<{
        reasonCode: string;
        total: number;
        wouldDeliver: number;
        failed: number;
        examples: Array<{
          deadLetterId: string;
          before: { version: number; run: { outcome: string } | null };
          after: { outcome: string; deliveries: Array<{ body: unknown }> };
        }>;
      }>;
    };
    const preview = async (body: Record<string, unknown>) => {
      const r = await api('POST', '/api/v1/dead-letters/preview', { filter, ...body });
      expect(r.status).toBe(200);
      return r.body as Preview;
    };
    const of = (p: Preview, code: string) => p.byReason.find((r) => r.reasonCode === code)!;

    const before = await preview({});
    expect(before).toMatchObject({ version: 1, evaluated: 5, matched: 5, truncated: false });
    expect(of(before, 'PREVIEW_ME')).toMatchObject({ total: 3, wouldDeliver: 0, failed: 3 });
    expect(of(before, 'PREVIEW_OK')).toMatchObject({ total: 2, wouldDeliver: 2 });

    const fixed = {
      id: 'rj',
      source: { type: 'http', path: `rj-${run}`, auth: 'none', mode: 'async' },
      pipeline: [{ transform: '$merge([$, { "total": 0 }])' }],
      destinations: [{ type: 'amqp', connection: 'rabbit', queue }],
    };
    const yaml = [
      'id: rj',
      `source: { type: http, path: rj-${run}, auth: none, mode: async }`,
      'pipeline: []',
      `destinations: [{ type: amqp, connection: rabbit, queue: ${queue} }]`,
    ].join('\n');
    for (const body of [{ document: fixed }, { document: yaml }, { version: 2 }]) {
      const after = await preview(body);
      expect(after.version).toBe(body.version ?? 'draft');
      const me = of(after, 'PREVIEW_ME');
      expect(me).toMatchObject({ total: 3, wouldDeliver: 3, failed: 0 });
      expect(me.examples.map((e) => e.deadLetterId).sort()).toEqual([...ids].sort());
      for (const e of me.examples) {
        expect(e.before).toMatchObject({ version: 1, run: { outcome: 'error' } });
        expect(e.after.outcome).toBe('deliver');
      }
      expect(JSON.stringify(after)).not.toContain(PAN);
      expect(JSON.stringify(after)).toContain('[PAN REDACTED]');
    }
    // An operator may preview stored versions, not a draft of its own: the draft runs over the
    // stored payloads, and one that spells the card number another way got it out in full.
    expect(
      (
        await api('POST', '/api/v1/users', {
          username: `rj-operator-${run}`,
          password: 'rj-operator-password-1',
          roles: ['operator'],
        })
      ).status,
    ).toBe(201);
    const operator = await a.login(`rj-operator-${run}`, 'rj-operator-password-1');
    const asOperator = (body: Record<string, unknown>) =>
      a.request('POST', '/api/v1/dead-letters/preview', {
        token: operator,
        body: { filter, ...body },
      });
    const spelled = {
      ...fixed,
      pipeline: [{ transform: '{ "id": id, "digits": $join($split(card, ""), "|") }' }],
    };
    const refused = await asOperator({ document: spelled });
    expect(refused.status).toBe(403);
    expect(refused.text).not.toMatch(/4\|1\|1\|1/);
    expect(refused.text).toMatch(/routes\.write/);
    expect((await asOperator({ version: 2 })).status).toBe(200);
    // Who may write the route may: it could make the route deliver anything anyway.
    expect((await preview({ document: spelled })).version).toBe('draft');

    const limited = await preview({ limit: 2 });
    expect(limited).toMatchObject({ evaluated: 2, matched: 5, truncated: true });
    // Nothing was delivered, nothing was replayed.
    expect(await drain()).toEqual([]);
    for (const id of ids)
      expect((await api('GET', `/api/v1/dead-letters/${id}`)).body).toMatchObject({ replays: 0 });
    // A draft that is not a route is refused; a version or draft needs the route.
    for (const body of [
      { filter, document: { id: 'rj' } },
      { filter, document: 'source: [' },
      { filter: { reasonCode: ['PREVIEW_ME'] }, version: 2 },
      { filter, version: 2, document: fixed },
      { filter, limit: 1001 },
    ]) {
      const r = await api('POST', '/api/v1/dead-letters/preview', body);
      expect([400, 422]).toContain(r.status);
    }
  }, 60_000);

  it('at most MAX_OPEN_REPLAY_JOBS are open at once, one is made at a time, and an ended job keeps no item rows', async () => {
    const db = a.app.get(DataSource);
    const items = async (ids: string[]) =>
      (
        (await db.query(
          `SELECT count(*)::int AS n FROM dead_letter_replay_job_items WHERE job_id = ANY($1::uuid[])`,
          [ids],
        )) as Array<{ n: number }>
      )[0]!.n;
    const openJobs = async () =>
      (
        (await db.query(
          `SELECT count(*)::int AS n FROM dead_letter_replay_jobs WHERE state IN ('queued', 'running')`,
        )) as Array<{ n: number }>
      )[0]!.n;
    // Only A runs jobs here (B's clock never waits: it would end them as they are made).
    await b?.app.get(ReplayJobsService, { strict: false }).stop();
    await park('CAPPED', 4, (i) => ({ id: `capped-${i}`, total: i }));
    await drain();
    const create = () =>
      api('POST', '/api/v1/dead-letters/replay-jobs', {
        filter: { routeId: 'rj', reasonCode: ['CAPPED'] },
        ratePerSecond: 1,
      });
    // The first runs (waiting on the held clock after its first item); the rest stay queued.
    clockA.hold();
    const ids: string[] = [];
    const first = await create();
    expect(first.status).toBe(202);
    ids.push((first.body as Job).id);
    await eventually(async () => expect(clockA.waiting).toBe(1));
    while ((await openJobs()) < MAX_OPEN_REPLAY_JOBS) {
      const made = await create();
      expect(made.status).toBe(202);
      ids.push((made.body as Job).id);
    }
    const refused = await create();
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      details: { code: 'TOO_MANY_REPLAY_JOBS', max: MAX_OPEN_REPLAY_JOBS },
    });
    expect(await openJobs()).toBe(MAX_OPEN_REPLAY_JOBS);
    // A row per letter and open job (the running one has taken one of its four).
    expect(await items(ids)).toBe(4 * ids.length);

    for (const id of ids)
      expect((await api('POST', `/api/v1/dead-letters/replay-jobs/${id}/cancel`)).status).toBe(200);
    clockA.release();
    for (const id of ids) await finished(id, 'cancelled');
    expect(await drain()).toEqual(['capped-0']);
    // Ended (cancelled at once, or by its runner): nothing of theirs is kept but the job row.
    expect(await items(ids)).toBe(0);

    // While another request makes a job (here: holds the lock it takes), one more is told to
    // send again rather than wait on a database connection.
    const holder = db.createQueryRunner();
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('junction.replay-jobs.create'))`);
      const busy = await create();
      expect(busy.status).toBe(429);
      expect(busy.headers['retry-after']).toBe('2');
    } finally {
      await holder.query(`SELECT pg_advisory_unlock(hashtext('junction.replay-jobs.create'))`);
      await holder.release();
    }
    // A job that runs to its end forgets its items too.
    const again = await create();
    expect(again.status).toBe(202);
    const done = await finished((again.body as Job).id);
    expect(done.done).toBe(done.total);
    expect(done.total).toBeGreaterThanOrEqual(3);
    expect(await items([(again.body as Job).id])).toBe(0);
    await drain();
  }, 60_000);

  it('a job covers at most MAX_REPLAY_JOB_ITEMS letters: a larger filter is refused, pointing at how to narrow it', async () => {
    const db = a.app.get(DataSource);
    const [original] = await park('HUGE', 1, () => ({ id: 'huge-0', total: 1 }));
    // One letter past the most a job takes: the parked one and copies of it (never replayed here).
    await db.query(
      `INSERT INTO dead_letters (message_id, route_id, route_version, route_incarnation, source,
         reason_code, reason, reason_redacted, failed_at, attempts, sealed, payload_sha256)
       SELECT message_id || '-' || g, route_id, route_version, route_incarnation, source,
         reason_code, 'a copy', 'a copy', failed_at, attempts, sealed, payload_sha256
         FROM dead_letters, generate_series(1, $2::int) g WHERE id = $1`,
      [original, MAX_REPLAY_JOB_ITEMS],
    );
    try {
      const jobsBefore = (await db.query(
        `SELECT count(*)::int AS n FROM dead_letter_replay_jobs`,
      )) as Array<{ n: number }>;
      const dry = await api('POST', '/api/v1/dead-letters/replay-jobs', {
        filter: { routeId: 'rj', reasonCode: ['HUGE'] },
        dryRun: true,
      });
      expect(dry.body).toEqual({ dryRun: true, total: MAX_REPLAY_JOB_ITEMS + 1 });
      const refused = await api('POST', '/api/v1/dead-letters/replay-jobs', {
        filter: { routeId: 'rj', reasonCode: ['HUGE'] },
      });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({
        details: { code: 'REPLAY_JOB_TOO_LARGE', max: MAX_REPLAY_JOB_ITEMS },
      });
      expect((refused.body as { message: string }).message).toMatch(/narrow it \(filter\.from/);
      // Nothing was made: no job, no item.
      expect(await db.query(`SELECT count(*)::int AS n FROM dead_letter_replay_jobs`)).toEqual(
        jobsBefore,
      );
      // Narrowed below the limit, it is a job as any other.
      const narrowed = await api('POST', '/api/v1/dead-letters/replay-jobs', {
        filter: { routeId: 'rj', reasonCode: ['HUGE'], q: 'failed HUGE' },
      });
      expect(narrowed.status).toBe(202);
      expect((narrowed.body as Job).total).toBe(1);
      await finished((narrowed.body as Job).id);
      expect(await drain()).toEqual(['huge-0']);
    } finally {
      await db.query(`DELETE FROM dead_letters WHERE reason_code = 'HUGE' AND reason = 'a copy'`);
    }
  }, 120_000);
});
