/**
 * The audit trail through the whole gateway, on its own fresh database: HTTP ingest through
 * the real runtime to the built-in `log` destination, the admin API, and the auditor's API.
 */
import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { DenialAggregator } from '@junction/audit';
import { setUpLogging } from '../src/main';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

/** Test card numbers (Luhn-valid) that must never be stored, logged or exported as they are. */
const PANS = ['4000056655665556', '5105105105105100', '378282246310005'];
/** Each card number with any of the separators card numbers are written with. */
const PAN_PATTERNS = PANS.map((pan) => new RegExp(pan.split('').join('[ -]?')));
const SECRET = 'CANARY-s3cret-d41d8c';

type Page<T> = { items: T[]; nextCursor: string | null };
interface MessageRecordView {
  id: string;
  messageId: string;
  routeId: string;
  routeVersion: number;
  outcome: string;
  destinations: Array<{ destination: number; receipt: { kind: string } }>;
  attempts: number;
  error: { code: string; message: string; where: string | null } | null;
  body: unknown;
  payloadSha256: string;
  hash: string;
  prevHash: string;
}
interface EventView {
  id: string;
  type: string;
  outcome: string;
  actor: string;
  provider: string | null;
  target: { type: string; id: string } | null;
  details: Record<string, unknown>;
  before: unknown;
  after: unknown;
  diff: Array<{ op: string; path: string; value?: unknown }> | null;
}

const route = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  source: { type: 'http', path: `in/${id}`, auth: 'none', mode: 'sync' },
  pipeline: [],
  destinations: [{ type: 'log' }],
  ...extra,
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the audit trail through the gateway', () => {
  let gw: TestGateway;
  let admin: string;
  let auditor: string;
  let viewer: string;
  let db: Client;
  const logged: string[] = [];
  const writes: Array<[NodeJS.WriteStream, NodeJS.WriteStream['write']]> = [];

  const api = (method: string, url: string, body?: unknown, token = admin) =>
    gw.request(method, url, { token, body });
  const ingest = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    gw.request('POST', `/ingest/${path}`, {
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
  const trail = async (query: string, token = auditor) => {
    const res = await api('GET', `/api/v1/audit/messages?${query}`, undefined, token);
    expect(res.status).toBe(200);
    return res.body as Page<MessageRecordView>;
  };
  const events = async (query: string) => {
    const res = await api('GET', `/api/v1/audit/events?${query}&limit=500`, undefined, auditor);
    expect(res.status).toBe(200);
    return (res.body as Page<EventView>).items;
  };
  const expectCreated = (res: TestResponse) => expect([200, 201]).toContain(res.status);

  beforeAll(async () => {
    // Every line the gateway writes (Nest's logger writes straight to stdout/stderr) is kept and scanned.
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      writes.push([stream, stream.write]);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        logged.push(String(chunk));
        return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as NodeJS.WriteStream['write'];
    }
    // The gateway's log (pino) is read here too, at the level a deployment runs at.
    setUpLogging(
      { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
      {
        write: (line: string) => void logged.push(line),
      },
    );
    gw = await startTestGateway();
    admin = await gw.login('admin', gw.adminPassword);
    for (const [username, role] of [
      ['alice-auditor', 'auditor'],
      ['victor-viewer', 'viewer'],
    ]) {
      const res = await api('POST', '/api/v1/users', {
        username,
        password: `${SECRET}-pw`,
        roles: [role],
      });
      expect(res.status).toBe(201);
    }
    auditor = await gw.login('alice-auditor', `${SECRET}-pw`);
    viewer = await gw.login('victor-viewer', `${SECRET}-pw`);
    db = new Client({ connectionString: gw.databaseUrl });
    await db.connect();
  }, 60_000);

  afterAll(async () => {
    for (const [stream, write] of writes) stream.write = write;
    await db?.end();
    await gw?.close();
  });

  describe('message records', () => {
    it('records a delivered message with its receipt, attempts, times and the hash of the payload', async () => {
      expectCreated(await api('POST', '/api/v1/routes', route('plain')));
      const payload = JSON.stringify({ id: 'o-1', total: 250 });
      const res = await ingest('in/plain', payload, { 'idempotency-key': 'order-o-1' });
      expect(res.status).toBe(200);
      const { items } = await trail('messageId=order-o-1');
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        messageId: 'order-o-1',
        routeId: 'plain',
        routeVersion: 1,
        outcome: 'delivered',
        destinations: [{ destination: 0, receipt: { kind: 'log' } }],
        attempts: 1,
        error: null,
        body: { id: 'o-1', total: 250 },
        payloadSha256: sha256(payload),
        source: { type: 'http', name: 'in/plain' },
      });
    });

    it('records filtered, unroutable, dead-lettered and replayed messages', async () => {
      expectCreated(
        await api(
          'POST',
          '/api/v1/routes',
          route('big-only', { pipeline: [{ filter: 'total > 100' }] }),
        ),
      );
      expectCreated(
        await api(
          'POST',
          '/api/v1/routes',
          route('nowhere', { destinations: [{ type: 'log', when: 'total > 1000' }] }),
        ),
      );
      expectCreated(
        await api(
          'POST',
          '/api/v1/routes',
          route('strict', {
            pipeline: [{ validate: { schema: { type: 'object', required: ['id'] } } }],
          }),
        ),
      );
      expect(
        (await ingest('in/big-only', { total: 5 }, { 'idempotency-key': 'small-1' })).status,
      ).toBe(200);
      expect(
        (await ingest('in/nowhere', { total: 5 }, { 'idempotency-key': 'nowhere-1' })).status,
      ).toBe(200);
      const rejected = await ingest('in/strict', { total: 5 }, { 'idempotency-key': 'no-id-1' });
      expect(rejected.status).toBe(422);
      const deadLetterId = (rejected.body as { details: { deadLetterId: string } }).details
        .deadLetterId;
      expect(deadLetterId).toBeDefined();

      // The operator fixes the route, then replays the dead letter: the same message id, replayed.
      const fixed = await api('PUT', '/api/v1/routes/strict?activate=true', route('strict'));
      expect(fixed.status).toBe(200);
      await waitFor(
        async () => (await api('GET', '/api/v1/routes/strict/status')).body,
        (s) => (s as { state: string }).state === 'running',
      );
      const replayed = await waitFor(
        () => api('POST', `/api/v1/dead-letters/${deadLetterId}/replay`),
        (r) => (r.body as { outcome?: string })?.outcome === 'replayed',
      );
      expect(replayed.status).toBe(200);

      expect((await trail('messageId=small-1')).items[0]).toMatchObject({
        outcome: 'filtered',
        routeId: 'big-only',
      });
      expect((await trail('messageId=nowhere-1')).items[0]).toMatchObject({
        outcome: 'unroutable',
        destinations: [],
      });
      const full = await api('GET', '/api/v1/audit/messages/no-id-1', undefined, auditor);
      expect(full.status).toBe(200);
      const records = (full.body as { records: MessageRecordView[] }).records;
      expect(records.map((r) => [r.outcome, r.routeVersion])).toEqual([
        ['dead-lettered', 1],
        ['replayed', 2],
      ]);
      expect(records[0].error).toMatchObject({ code: 'SCHEMA_FAILED' });
      expect(records[0].error?.where).toMatch(/pipeline\/0/);
      expect(records[1]).toMatchObject({
        error: null,
        destinations: [{ destination: 0, receipt: { kind: 'log' } }],
      });
      expect(records[0].payloadSha256).toBe(records[1].payloadSha256);

      const notFound = await api('GET', '/api/v1/audit/messages/never-sent', undefined, auditor);
      expect(notFound.status).toBe(404);
    });

    it("keeps no payload for a route with audit.payload 'none', but still its hash", async () => {
      expectCreated(
        await api('POST', '/api/v1/routes', route('private', { audit: { payload: 'none' } })),
      );
      const payload = JSON.stringify({ id: 'p-1', secret: 'x' });
      await ingest('in/private', payload, { 'idempotency-key': 'private-1' });
      expect((await trail('messageId=private-1')).items[0]).toMatchObject({
        body: null,
        payloadSha256: sha256(payload),
      });
    });

    it('filters by route, outcome, destination, time and free text, pages newest first with a stable cursor', async () => {
      for (let i = 0; i < 7; i++)
        await ingest(
          'in/plain',
          { id: `bulk-${i}`, total: 200 + i },
          { 'idempotency-key': `bulk-${i}` },
        );
      const all: MessageRecordView[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Page<MessageRecordView> = await trail(
          `routeId=plain&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        );
        // A record arriving while paging must not shift the pages.
        if (pages === 0)
          await ingest('in/plain', { id: 'late', total: 1 }, { 'idempotency-key': 'late-1' });
        all.push(...page.items);
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor);
      const ids = all.map((r) => r.messageId);
      expect(ids.slice(0, 7)).toEqual([
        'bulk-6',
        'bulk-5',
        'bulk-4',
        'bulk-3',
        'bulk-2',
        'bulk-1',
        'bulk-0',
      ]);
      expect(ids).toContain('order-o-1');
      expect(ids).not.toContain('late-1');
      expect(new Set(ids).size).toBe(ids.length);
      expect(pages).toBe(3);

      expect((await trail('outcome=dead-lettered')).items.map((r) => r.messageId)).toEqual([
        'no-id-1',
      ]);
      expect((await trail('routeId=strict&outcome=replayed')).items).toHaveLength(1);
      expect((await trail('destination=log&routeId=nowhere')).items).toHaveLength(0);
      expect(
        (await trail('destination=lo&routeId=plain&limit=500')).items.length,
      ).toBeGreaterThanOrEqual(9);
      expect((await trail('q=bulk-')).items).toHaveLength(7);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      expect((await trail(`from=${encodeURIComponent(future)}`)).items).toHaveLength(0);
      const past = new Date(Date.now() - 3_600_000).toISOString();
      expect(
        (await trail(`from=${encodeURIComponent(past)}&to=${encodeURIComponent(future)}&q=bulk-3`))
          .items,
      ).toHaveLength(1);

      const bad = await api('GET', '/api/v1/audit/messages?outcome=lost', undefined, auditor);
      expect(bad.status).toBe(400);
      const badCursor = await api('GET', '/api/v1/audit/messages?cursor=nope', undefined, auditor);
      expect(badCursor.status).toBe(400);
    });
  });

  describe('card numbers', () => {
    it('never stores, logs or exports a card number sent through a route that masks nothing', async () => {
      expectCreated(await api('POST', '/api/v1/routes', route('leaky')));
      expectCreated(
        await api(
          'POST',
          '/api/v1/routes',
          route('leaky-fail', { pipeline: [{ transform: '$error("card " & card & " refused")' }] }),
        ),
      );
      const bodies = [
        { card: PANS[0], nested: { list: [`pay with ${PANS[1]} today`] } },
        { card: '5105 1051 0510 5100', asNumber: Number(PANS[2]), [PANS[0]]: 'as a key' },
        { card: '4000-0566-5566-5556', note: 'dashes' },
      ];
      for (const [i, body] of bodies.entries()) {
        expect((await ingest('in/leaky', body, { 'idempotency-key': `pan-${i}` })).status).toBe(
          200,
        );
      }
      // A card number in an error message (a JSONata $error quoting the input).
      expect(
        (await ingest('in/leaky-fail', { card: PANS[0] }, { 'idempotency-key': 'pan-fail' }))
          .status,
      ).toBe(422);

      const stored = await trail('routeId=leaky&limit=500');
      expect(stored.items).toHaveLength(3);
      expect(stored.items.find((r) => r.messageId === 'pan-0')?.body).toEqual({
        card: '[PAN REDACTED]',
        nested: { list: ['pay with [PAN REDACTED] today'] },
      });
      const failed = (await trail('messageId=pan-fail')).items[0];
      expect(failed.error?.message).toContain('[PAN REDACTED]');
      // The hash is of the original bytes, so the original can still be proven (never read back).
      expect(stored.items.find((r) => r.messageId === 'pan-0')?.payloadSha256).toBe(
        sha256(JSON.stringify(bodies[0])),
      );

      const rows = await db.query<{ row: string }>(
        `SELECT t::text AS row FROM audit_messages t UNION ALL SELECT t::text FROM audit_events t`,
      );
      expect(rows.rows.length).toBeGreaterThan(10);
      const exports: string[] = [];
      for (const query of [
        'format=csv',
        'format=ndjson',
        'format=csv&kind=events',
        'format=ndjson&kind=events',
      ]) {
        const res = await api('GET', `/api/v1/audit/export?${query}`, undefined, auditor);
        expect(res.status).toBe(200);
        exports.push(res.text);
      }
      expect(exports[1]).toContain('"messageId":"pan-0"');
      const haystacks = {
        rows: rows.rows.map((r) => r.row).join('\n'),
        logs: logged.join(''),
        exports: exports.join('\n'),
      };
      expect(haystacks.logs).toContain('route leaky message pan-0'); // the log destination did log them
      expectNoPan(haystacks);
    });

    it('refuses a card number sent as the message id (Idempotency-Key), and keeps none of it', async () => {
      const mark = logged.length;
      const before = await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_messages`);
      // Refused, not redacted: a redacted id would be one id for every such message (the
      // duplicates a consumer drops by id), and the reply would carry it back.
      const refused = await ingest('in/leaky', { ok: true }, { 'idempotency-key': PANS[1] });
      expect(refused.status).toBe(400);
      expect(refused.text).toMatch(/Idempotency-Key/);
      expect(refused.text).not.toContain(PANS[1]);
      const after = await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_messages`);
      expect(after.rows[0].n).toBe(before.rows[0].n);
      // Looked up by the number, nothing is found.
      expect((await trail(`messageId=${PANS[1]}`)).items).toEqual([]);
      expect((await trail(`q=${PANS[1]}`)).items).toEqual([]);
      const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM audit_messages t`);
      expectNoPan({
        rows: rows.rows.map((r) => r.row).join('\n'),
        logs: logged.slice(mark).join(''),
      });
    });
  });

  describe('admin events', () => {
    it('records sign-ins, failed sign-ins and denied requests', async () => {
      const failed = await gw.request('POST', '/api/v1/auth/login', {
        body: { username: 'admin', password: `wrong-${SECRET}` },
      });
      expect(failed.status).toBe(401);
      expect((await api('GET', '/api/v1/audit/messages', undefined, viewer)).status).toBe(403);
      expect((await gw.request('GET', '/api/v1/audit/events')).status).toBe(401);

      const logins = await events('type=login.succeeded&actor=alice-auditor');
      expect(logins[0]).toMatchObject({
        outcome: 'success',
        provider: 'local',
        actor: 'alice-auditor',
      });
      expect((await events('type=login.failed&actor=admin'))[0]).toMatchObject({
        outcome: 'failure',
        provider: 'local',
        details: { reason: 'wrong password' },
      });
      // Anonymous 401s are counted per address and window: close the window now.
      await gw.app.get(DenialAggregator).flush(true);
      const denied = await events('type=request.denied');
      expect(denied.map((e) => [e.actor, e.details.status, e.details.path])).toEqual(
        expect.arrayContaining([['victor-viewer', 403, '/api/v1/audit/messages']]),
      );
      expect(denied.filter((e) => e.actor === '(anonymous)').map((e) => e.details)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            status: 401,
            aggregated: true,
            count: expect.any(Number),
            paths: expect.objectContaining({ 'GET /api/v1/audit/events': expect.any(Number) }),
          }),
        ]),
      );
    });

    it("writes a signed-in caller's first denials of a window one by one and counts the rest", async () => {
      // A viewer loops on a call it may not make: 20 rows, then one count, not 45 rows.
      const created = await api('POST', '/api/v1/users', {
        username: 'wendy-viewer',
        password: `${SECRET}-pw`,
        roles: ['viewer'],
      });
      expect(created.status).toBe(201);
      const wendy = await gw.login('wendy-viewer', `${SECRET}-pw`);
      for (let i = 0; i < 45; i++)
        expect((await api('GET', '/api/v1/audit/messages', undefined, wendy)).status).toBe(403);
      await gw.app.get(DenialAggregator).flush(true);
      const mine = await events('type=request.denied&actor=wendy-viewer');
      const alone = mine.filter((e) => !e.details.aggregated);
      const counted = mine.filter((e) => e.details.aggregated);
      // The window may turn during the loop: each window lets 20 through and counts the rest.
      expect(alone.length + counted.reduce((n, e) => n + (e.details.count as number), 0)).toBe(45);
      expect(alone.length).toBeGreaterThanOrEqual(20);
      expect(alone.length).toBeLessThanOrEqual(40);
      expect(alone[0].details).toEqual({
        method: 'GET',
        path: '/api/v1/audit/messages',
        status: 403,
      });
      expect(counted[0]).toMatchObject({
        actor: 'wendy-viewer',
        outcome: 'denied',
        details: {
          status: 403,
          aggregated: true,
          paths: { 'GET /api/v1/audit/messages': counted[0].details.count },
        },
      });
    });

    it('names the endpoint a caller tried past its first denials, whatever junk came before', async () => {
      // A viewer spends its rows and fills its count's paths with junk ids, then tries a delete.
      const created = await api('POST', '/api/v1/users', {
        username: 'yves-viewer',
        password: `${SECRET}-pw`,
        roles: ['viewer'],
      });
      expect(created.status).toBe(201);
      const yves = await gw.login('yves-viewer', `${SECRET}-pw`);
      for (let i = 0; i < 45; i++)
        expect((await api('DELETE', `/api/v1/routes/junk-${i}`, undefined, yves)).status).toBe(403);
      expect((await api('DELETE', '/api/v1/connections/erp', undefined, yves)).status).toBe(403);
      await gw.app.get(DenialAggregator).flush(true);
      const mine = await events('type=request.denied&actor=yves-viewer');
      const counted = mine.filter((e) => e.details.aggregated);
      expect(counted.length).toBeGreaterThan(0);
      for (const e of counted) expect(e.details.paths).not.toHaveProperty(['(other paths)']);
      // Counted by the route's pattern once the paths are full (or by its path, or alone, if the
      // window turned meanwhile): never out of sight.
      const seen = mine.some(
        (e) =>
          e.details.path === '/api/v1/connections/erp' ||
          Object.keys((e.details.paths as Record<string, number> | undefined) ?? {}).some((p) =>
            ['DELETE /api/v1/connections/:name', 'DELETE /api/v1/connections/erp'].includes(p),
          ),
      );
      expect(seen).toBe(true);
    });

    it('records route changes with who, what, and the diff', async () => {
      const v2 = route('plain', { description: 'now with a description' });
      expect((await api('PUT', '/api/v1/routes/plain', v2)).status).toBe(200);
      expect((await api('POST', '/api/v1/routes/plain/versions/2/activate')).status).toBe(200);
      expect((await api('POST', '/api/v1/routes/plain/stop')).status).toBe(200);
      expect((await api('POST', '/api/v1/routes/plain/start')).status).toBe(200);
      expect((await api('POST', '/api/v1/routes/plain/versions/9/activate')).status).toBe(404);

      const changes = await events('targetType=route&targetId=plain');
      expect(changes.map((e) => [e.type, e.outcome])).toEqual([
        ['route.activated', 'failure'],
        ['route.started', 'success'],
        ['route.stopped', 'success'],
        ['route.activated', 'success'],
        ['route.updated', 'success'],
        ['route.created', 'success'],
      ]);
      const updated = changes.find((e) => e.type === 'route.updated')!;
      expect(updated).toMatchObject({ actor: 'admin', details: { version: 2, activate: false } });
      expect(updated.diff).toEqual(
        expect.arrayContaining([
          { op: 'replace', path: '/latestVersion', value: 2 },
          { op: 'add', path: '/document/description', value: 'now with a description' },
        ]),
      );
      const activated = changes.find(
        (e) => e.type === 'route.activated' && e.outcome === 'success',
      )!;
      expect(activated.diff).toEqual(
        expect.arrayContaining([{ op: 'replace', path: '/activeVersion', value: 2 }]),
      );
      const stopped = changes.find((e) => e.type === 'route.stopped')!;
      expect(stopped.diff).toEqual(
        expect.arrayContaining([{ op: 'replace', path: '/desiredState', value: 'stopped' }]),
      );
    });

    it('records connection, user, role and API key changes with secrets removed', async () => {
      const connection = {
        name: 'erp',
        type: 'http',
        config: { baseUrl: 'https://erp.example.com', timeoutMs: 5000 },
        secrets: { bearerToken: SECRET },
      };
      expect((await api('POST', '/api/v1/connections', connection)).status).toBe(201);
      const { name: _name, ...input } = connection;
      expect(
        (
          await api('PUT', '/api/v1/connections/erp', {
            ...input,
            config: { ...input.config, timeoutMs: 9000 },
            secrets: { bearerToken: `${SECRET}-2` },
          })
        ).status,
      ).toBe(200);
      const user = await api('POST', '/api/v1/users', {
        username: 'bob',
        password: `${SECRET}-bob`,
        roles: ['viewer'],
      });
      const bobId = (user.body as { id: string }).id;
      expect(
        (
          await api('PATCH', `/api/v1/users/${bobId}`, {
            roles: ['editor'],
            password: `${SECRET}-new`,
          })
        ).status,
      ).toBe(200);
      const key = await api('POST', '/api/v1/api-keys', { name: 'ci', roles: ['editor'] });
      expect(key.status).toBe(201);
      const { id: keyId, key: keyValue } = key.body as { id: string; key: string };
      expect((await api('DELETE', `/api/v1/api-keys/${keyId}`)).status).toBe(204);
      expect((await api('DELETE', `/api/v1/users/${bobId}`)).status).toBe(204);

      const conn = await events('targetType=connection&targetId=erp');
      expect(conn.map((e) => e.type)).toEqual(['connection.updated', 'connection.created']);
      expect(conn[1].after).toMatchObject({ name: 'erp', secrets: ['bearerToken'] });
      expect(conn[0].details).toMatchObject({ secretsSet: ['bearerToken'], secretsRemoved: [] });
      expect(conn[0].diff).toEqual(
        expect.arrayContaining([{ op: 'replace', path: '/config/timeoutMs', value: 9000 }]),
      );

      const bob = await events(`targetType=user&targetId=${bobId}`);
      expect(bob.map((e) => e.type)).toEqual(['user.deleted', 'user.updated', 'user.created']);
      expect(bob[1].details).toEqual({ fields: ['password', 'roles'] });
      expect(bob[1].diff).toEqual(
        expect.arrayContaining([{ op: 'replace', path: '/roles/0', value: 'editor' }]),
      );
      expect(bob[0]).toMatchObject({ before: { username: 'bob' }, after: null });

      const keys = await events(`targetType=apiKey&targetId=${keyId}`);
      expect(keys.map((e) => e.type)).toEqual(['apikey.revoked', 'apikey.created']);
      expect(keys[1].after).toMatchObject({ name: 'ci', roles: ['editor'] });
      expect(keys[0].diff).toEqual(
        expect.arrayContaining([expect.objectContaining({ path: '/revokedAt' })]),
      );

      const rows = (
        await db.query<{ row: string }>(`SELECT t::text AS row FROM audit_events t`)
      ).rows
        .map((r) => r.row)
        .join('\n');
      expect(rows).not.toContain(SECRET);
      expect(rows).not.toContain(keyValue);
      // The secret part (base64url, which may itself contain '_'): everything after jk_<prefix>_.
      expect(rows).not.toContain(keyValue.slice('jk_'.length + 12 + 1));
    });

    it('only auditors and admins read the trail', async () => {
      expect((await api('GET', '/api/v1/audit/verify', undefined, viewer)).status).toBe(403);
      expect((await api('GET', '/api/v1/audit/export?format=csv', undefined, viewer)).status).toBe(
        403,
      );
      expect((await api('GET', '/api/v1/audit/events', undefined, admin)).status).toBe(200);
      const exported = await events('type=audit.exported');
      expect(exported).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            actor: 'alice-auditor',
            details: expect.objectContaining({ format: 'csv', kind: 'events' }),
          }),
        ]),
      );
    });
  });

  describe('export', () => {
    it('streams CSV with a header and quoting, and NDJSON, with the same filters', async () => {
      const csv = await api(
        'GET',
        '/api/v1/audit/export?format=csv&routeId=plain',
        undefined,
        auditor,
      );
      expect(csv.status).toBe(200);
      expect(String(csv.headers['content-type'])).toMatch(/^text\/csv/);
      expect(String(csv.headers['content-disposition'])).toMatch(
        /attachment; filename="audit-messages-.*\.csv"/,
      );
      const lines = csv.text.trim().split('\n');
      expect(lines[0]).toBe(
        'id,recordedAt,messageId,routeId,routeVersion,outcome,source,destinations,attempts,receivedAt,doneAt,errorCode,errorMessage,errorWhere,payloadSha256,traceId,body,prevHash,hash',
      );
      expect(lines.slice(1).every((l) => /,plain,/.test(l))).toBe(true);
      expect(csv.text).toContain('"{""id"":""bulk-0"",""total"":200}"'); // JSON in a cell, quoted
      const ndjson = await api(
        'GET',
        '/api/v1/audit/export?format=ndjson&routeId=plain',
        undefined,
        auditor,
      );
      const records = ndjson.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as MessageRecordView);
      expect(records).toHaveLength(lines.length - 1);
      expect(records.map((r) => r.messageId)).toEqual(
        [...(await trail('routeId=plain&limit=500')).items].reverse().map((r) => r.messageId),
      );
    });

    it('guards spreadsheet cells against formulas', async () => {
      await ingest('in/plain', { id: 'f' }, { 'idempotency-key': '=HYPERLINK("http://evil")' });
      const csv = await api(
        'GET',
        '/api/v1/audit/export?format=csv&q=HYPERLINK',
        undefined,
        auditor,
      );
      expect(csv.text).toContain(`"'=HYPERLINK(""http://evil"")"`);
    });
  });

  describe('tamper evidence', () => {
    it('verifies the chains, and names the row a superuser changed by hand', async () => {
      const ok = await api('GET', '/api/v1/audit/verify', undefined, auditor);
      expect(ok.status).toBe(200);
      const result = ok.body as {
        ok: boolean;
        checked: number;
        tables: Array<{ table: string; checked: number }>;
      };
      expect(result.ok).toBe(true);
      // Every record but the one of this verification, written after it checked.
      const total = await db.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM audit_messages) + (SELECT count(*) FROM audit_events WHERE type <> 'audit.verified') AS n`,
      );
      expect(result.checked).toBe(Number(total.rows[0].n));
      const verified = await events('type=audit.verified');
      expect(verified).toHaveLength(1);
      expect(verified[0]).toMatchObject({ outcome: 'success', details: { ok: true } });

      const victim = (await trail('messageId=no-id-1')).items.find(
        (r) => r.outcome === 'dead-lettered',
      )!;
      // Triggers refuse even a superuser; one who turns them off can change the row...
      await expect(
        db.query(`UPDATE audit_messages SET outcome = 'delivered' WHERE seq = $1`, [victim.id]),
      ).rejects.toMatchObject({ code: '42501' });
      await db.query(`SET session_replication_role = replica`);
      await db.query(`UPDATE audit_messages SET outcome = 'delivered' WHERE seq = $1`, [victim.id]);
      // ...and verify names it.
      const broken = (await api('GET', '/api/v1/audit/verify', undefined, auditor)).body;
      expect(broken).toMatchObject({
        ok: false,
        firstBrokenId: victim.id,
        firstBrokenTable: 'audit_messages',
      });

      // A removed event row is named too.
      const [event] = await events('type=route.created');
      await db.query(`DELETE FROM audit_events WHERE seq = $1`, [event.id]);
      const gap = (await api('GET', '/api/v1/audit/verify?table=events', undefined, auditor)).body;
      expect(gap).toMatchObject({
        ok: false,
        firstBrokenId: String(Number(event.id) + 1),
        firstBrokenTable: 'audit_events',
      });
      await db.query(`SET session_replication_role = DEFAULT`);
    });
  });
});

function expectNoPan(haystacks: Record<string, string>): void {
  for (const [where, text] of Object.entries(haystacks)) {
    for (const pattern of PAN_PATTERNS) {
      expect({ where, pan: pattern.source, leaked: pattern.test(text) }).toEqual({
        where,
        pan: pattern.source,
        leaked: false,
      });
    }
  }
}

async function waitFor<T>(
  get: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
