import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { parseRouteText } from '@junction/pipeline';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

const CANARY = 'CANARY-s3cret-7f1e2d';
const ROOT = join(__dirname, '../../..');
const ordersRoute = parseRouteText(
  readFileSync(join(ROOT, 'examples/orders-eu.route.yaml'), 'utf8'),
) as Record<string, unknown>;
const order = JSON.parse(
  readFileSync(join(ROOT, 'examples/messages/order-de.json'), 'utf8'),
) as Record<string, unknown>;

const httpRoute = (id: string, transform = '{ "id": id }') => ({
  id,
  source: { type: 'http', path: `in/${id}`, auth: 'none', mode: 'sync' },
  pipeline: [{ transform }],
  destinations: [{ type: 'log' }],
});

// The orders route names a broker that refuses its (canary) password: its start keeps retrying,
// and run-state calls wait up to a few seconds for the runtime before answering.
jest.setTimeout(30_000);

describe('gateway API against real Postgres', () => {
  let gw: TestGateway;
  let admin: string;
  const seen: TestResponse[] = [];

  /** Every response is kept, to scan them all for the canary secret at the end. */
  async function call(
    method: string,
    url: string,
    body?: unknown,
    token = admin,
  ): Promise<TestResponse> {
    const res = await gw.request(method, url, { token, body });
    seen.push(res);
    return res;
  }

  beforeAll(async () => {
    gw = await startTestGateway();
    admin = await gw.login('admin', gw.adminPassword);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  describe('connections', () => {
    it('creates connections with write-only secrets', async () => {
      for (const c of [
        {
          name: 'rabbit',
          type: 'amqp',
          config: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
          secrets: { password: CANARY },
        },
        {
          name: 'kafka',
          type: 'kafka',
          config: { brokers: ['127.0.0.1:19092'], clientId: 'junction' },
          secrets: { saslPassword: CANARY },
        },
        {
          name: 'erp',
          type: 'http',
          config: { baseUrl: 'https://erp.example.com', timeoutMs: 5000 },
          secrets: { bearerToken: CANARY },
        },
      ]) {
        const res = await call('POST', '/api/v1/connections', c);
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({
          name: c.name,
          type: c.type,
          config: c.config,
          secrets: Object.keys(c.secrets),
        });
      }
      expect((await call('GET', '/api/v1/connections')).body).toHaveLength(3);
      expect((await call('GET', '/api/v1/connections/rabbit')).body).toMatchObject({
        name: 'rabbit',
        secrets: ['password'],
      });
    });

    it('stores secrets encrypted: the canary is nowhere in the database in clear', async () => {
      const pg = new Client({ connectionString: gw.databaseUrl });
      await pg.connect();
      try {
        const { rows } = await pg.query('SELECT row_to_json(c)::text AS row FROM connections c');
        expect(rows).toHaveLength(3);
        for (const { row } of rows) expect(row).not.toContain(CANARY);
      } finally {
        await pg.end();
      }
    });

    it('merges secrets on PUT: given ones set, null ones removed, absent ones kept', async () => {
      // A new base URL keeps no secret that was not entered again (test/security/egress).
      const moved = await call('PUT', '/api/v1/connections/erp', {
        type: 'http',
        config: { baseUrl: 'https://erp2.example.com' },
        secrets: { basicPassword: CANARY },
      });
      expect(moved.status).toBe(400);
      expect(moved.body).toMatchObject({
        details: {
          code: 'SECRETS_NOT_REENTERED',
          changed: ['/config/baseUrl'],
          secrets: ['bearerToken'],
        },
      });
      const res = await call('PUT', '/api/v1/connections/erp', {
        type: 'http',
        config: { baseUrl: 'https://erp.example.com', timeoutMs: 2000 },
        secrets: { basicPassword: CANARY },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        config: { baseUrl: 'https://erp.example.com', timeoutMs: 2000 },
        secrets: ['basicPassword', 'bearerToken'],
      });
      const removed = await call('PUT', '/api/v1/connections/erp', {
        type: 'http',
        config: { baseUrl: 'https://erp.example.com' },
        secrets: { bearerToken: null },
      });
      expect((removed.body as { secrets: string[] }).secrets).toEqual(['basicPassword']);
    });

    it.each([
      [
        'unknown type',
        { name: 'x', type: 'smtp', config: {} },
        /type must be one of the following values/,
      ],
      ['bad name', { name: '-x', type: 'http', config: { baseUrl: 'http://a' } }, /name must be/],
      [
        'missing config field',
        { name: 'x', type: 'kafka', config: {} },
        /\/config\/brokers: is required/,
      ],
      [
        'password in the URL',
        { name: 'x', type: 'amqp', config: { url: 'amqp://u:pw@host' } },
        /\/config\/url: must not contain a password/,
      ],
      [
        'unknown secret',
        { name: 'x', type: 'amqp', config: { url: 'amqp://h' }, secrets: { passwrd: 'x' } },
        /\/secrets\/passwrd: is not a secret of amqp connections/,
      ],
      [
        'unknown field',
        { name: 'x', type: 'http', config: { baseUrl: 'http://a' }, colour: 'red' },
        /property colour should not exist/,
      ],
    ])('refuses a bad connection: %s', async (_name, body, message) => {
      const res = await call('POST', '/api/v1/connections', body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.stringMatching(message),
      });
    });

    it('answers 409 for a duplicate and 404 for a missing one', async () => {
      expect(
        (
          await call('POST', '/api/v1/connections', {
            name: 'rabbit',
            type: 'amqp',
            config: { url: 'amqp://h' },
          })
        ).status,
      ).toBe(409);
      expect((await call('GET', '/api/v1/connections/nope')).status).toBe(404);
      expect(
        (
          await call('PUT', '/api/v1/connections/rabbit', {
            type: 'kafka',
            config: { brokers: ['a:1'] },
          })
        ).status,
      ).toBe(400);
    });

    it('lets a connection stored with a card-number-like value before the rule be edited', async () => {
      const config = { baseUrl: 'https://erp.example.com/merchants/4539578763621486' };
      expect(
        (
          await call('POST', '/api/v1/connections', {
            name: 'erp-merchant',
            type: 'http',
            config: { baseUrl: 'https://erp.example.com' },
            secrets: { bearerToken: CANARY },
          })
        ).status,
      ).toBe(201);
      // Stored as it was before card numbers in config were refused (a partner's merchant id).
      const pg = new Client({ connectionString: gw.databaseUrl });
      await pg.connect();
      try {
        await pg.query(`UPDATE connections SET config = $1 WHERE name = 'erp-merchant'`, [config]);
      } finally {
        await pg.end();
      }
      const rotated = await call('PUT', '/api/v1/connections/erp-merchant', {
        type: 'http',
        config,
        secrets: { bearerToken: `${CANARY}-2` },
      });
      expect([rotated.status, rotated.body]).toEqual([200, expect.objectContaining({ config })]);
      const added = await call('PUT', '/api/v1/connections/erp-merchant', {
        type: 'http',
        config: { ...config, headers: { 'x-ref': '5555555555554444' } },
      });
      expect(added.status).toBe(400);
      expect(added.body).toMatchObject({
        details: {
          problems: [{ pointer: '/config/headers/x-ref', message: 'must not hold a card number' }],
        },
      });
      expect((await call('DELETE', '/api/v1/connections/erp-merchant')).status).toBe(204);
    });
  });

  describe('routes', () => {
    it('validates a document with pointer-precise problems, connections included', async () => {
      const res = await call('POST', '/api/v1/routes/validate', {
        ...ordersRoute,
        pipeline: [{ filter: 'total >' }],
        destinations: [{ type: 'kafka', connection: 'nope', topic: 't' }],
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        valid: false,
        problems: [
          {
            pointer: '/pipeline/0/filter',
            message: expect.stringContaining('JSONata syntax error at position 7'),
          },
        ],
      });
      const unknown = await call('POST', '/api/v1/routes/validate', {
        ...ordersRoute,
        destinations: [{ type: 'kafka', connection: 'nope', topic: 't' }],
      });
      expect(unknown.body).toEqual({
        valid: false,
        problems: [
          {
            pointer: '/destinations/0/connection',
            message: expect.stringContaining("no connection named 'nope'"),
          },
        ],
      });
      expect((await call('POST', '/api/v1/routes/validate', ordersRoute)).body).toEqual({
        valid: true,
        problems: [],
      });
    });

    it("tells callers who may not read connections no connection's type or secrets", async () => {
      const probe = (source: Record<string, unknown>) => ({
        id: 'probe',
        source,
        destinations: [{ type: 'log' }],
      });
      // No such connection; one of another type; one without the secret the route needs.
      const ghost = probe({ type: 'amqp', connection: 'ghost', queue: 'q' });
      const wrongType = probe({ type: 'amqp', connection: 'kafka', queue: 'q' });
      const noKey = probe({ type: 'http', path: 'probe', auth: 'hmac', connection: 'erp' });
      const problemsOf = async (token: string, doc: unknown) => {
        const validated = await call('POST', '/api/v1/routes/validate', doc, token);
        expect(validated.status).toBe(200);
        // The unsaved dry run checks the document as a save would: a 400 with the same problems.
        const tested = await call(
          'POST',
          '/api/v1/routes/test',
          { document: doc, message: { body: {} } },
          token,
        );
        const { valid, problems } = validated.body as { valid: boolean; problems: unknown };
        expect(tested.status).toBe(valid ? 200 : 400);
        if (!valid) expect((tested.body as { details: unknown }).details).toEqual({ problems });
        return (validated.body as { problems: Array<{ pointer: string; message: string }> })
          .problems;
      };
      const users: string[] = [];
      const tokenOf = async (username: string, roles: string[]) => {
        const created = await call('POST', '/api/v1/users', {
          username,
          password: 'a-long-password-1',
          roles,
        });
        users.push((created.body as { id: string }).id);
        return gw.login(username, 'a-long-password-1');
      };
      try {
        for (const token of [
          await tokenOf('vera', ['viewer']),
          await tokenOf('otto', ['operator']),
        ]) {
          const amqp =
            'connection unusable here: this must name a connection of type amqp (which of these is missing is shown to those who may read connections)';
          expect(await problemsOf(token, ghost)).toEqual([
            { pointer: '/source/connection', message: amqp },
          ]);
          expect(await problemsOf(token, wrongType)).toEqual([
            { pointer: '/source/connection', message: amqp },
          ]);
          expect(await problemsOf(token, noKey)).toEqual([
            {
              pointer: '/source/connection',
              message:
                'connection unusable here: this must name a connection of type http with a hmacKey secret (which of these is missing is shown to those who may read connections)',
            },
          ]);
          expect(await problemsOf(token, ordersRoute)).toEqual([]);
        }
        const editor = await tokenOf('eddie', ['editor']);
        expect((await problemsOf(editor, ghost))[0].message).toMatch(/no connection named 'ghost'/);
        expect((await problemsOf(editor, wrongType))[0].message).toBe(
          "connection 'kafka' is of type kafka, not amqp",
        );
        expect((await problemsOf(editor, noKey))[0].message).toMatch(
          /connection 'erp' has no hmacKey secret/,
        );
      } finally {
        for (const id of users) await call('DELETE', `/api/v1/users/${id}`);
      }
    });

    it.each([
      ['/orders?api_key=k-1', 'api_key'],
      // Azure Functions' function key; an Azure SAS token's signature.
      ['/api/orders?code=k-1', 'code'],
      ['/orders?sv=2022-11-02&sp=rw&sig=k-1', 'sig'],
    ])(
      'refuses a credential in an HTTP destination path (%s), which every reader of routes sees',
      async (path, name) => {
        const doc = {
          id: 'erp-key',
          source: { type: 'http', path: 'erp-key', auth: 'none' },
          destinations: [{ type: 'http', connection: 'erp', path }],
        };
        const problem = {
          pointer: '/destinations/0/path',
          message: expect.stringMatching(
            new RegExp(`^must not carry credentials in its query \\(${name}\\)`),
          ),
        };
        const checked = await call('POST', '/api/v1/routes/validate', doc);
        expect(checked.body).toEqual({ valid: false, problems: [problem] });
        const saved = await call('POST', '/api/v1/routes', doc);
        expect(saved.status).toBe(400);
        expect(JSON.stringify(saved.body)).not.toContain('k-1');
        expect((await call('GET', '/api/v1/routes/erp-key')).status).toBe(404);
      },
    );

    it('creates a route as version 1, active and running', async () => {
      const res = await call('POST', '/api/v1/routes?comment=first', ordersRoute);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        id: 'orders-eu',
        activeVersion: 1,
        latestVersion: 1,
        desiredState: 'running',
        sourceType: 'amqp',
        document: ordersRoute,
      });
      expect((await call('POST', '/api/v1/routes', ordersRoute)).status).toBe(409);
    });

    it('refuses an invalid route with every problem, and an unknown connection at save time', async () => {
      const invalid = await call('POST', '/api/v1/routes', {
        ...ordersRoute,
        id: 'Bad Id',
        pipeline: [{ mask: [{ path: 'a', with: 'scramble' }] }],
      });
      expect(invalid.status).toBe(400);
      expect(invalid.body).toMatchObject({
        message: 'route document has 2 problems',
        details: {
          problems: [
            { pointer: '/id', message: 'must match ^[a-z0-9][a-z0-9-]{0,62}$' },
            {
              pointer: '/pipeline/0/mask/0/with',
              message: 'must be one of redact, remove, pan, last4, hash, email',
            },
          ],
        },
      });
      const unknown = await call('POST', '/api/v1/routes', {
        ...ordersRoute,
        id: 'other',
        source: { type: 'amqp', connection: 'ghost', queue: 'q' },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({
        details: {
          problems: [
            {
              pointer: '/source/connection',
              message: expect.stringContaining("no connection named 'ghost'"),
            },
          ],
        },
      });
      const wrongType = await call('POST', '/api/v1/routes', {
        ...ordersRoute,
        id: 'other',
        source: { type: 'amqp', connection: 'kafka', queue: 'q' },
      });
      expect(wrongType.body).toMatchObject({
        details: {
          problems: [
            {
              pointer: '/source/connection',
              message: "connection 'kafka' is of type kafka, not amqp",
            },
          ],
        },
      });
    });

    it('stores a new version on PUT, none for an unchanged document, and keeps the old one running', async () => {
      const changed = { ...ordersRoute, description: 'v2' };
      const v2 = await call('PUT', '/api/v1/routes/orders-eu?comment=describe', changed);
      expect(v2.status).toBe(200);
      // The route shows what runs (version 1) until version 2 is activated.
      expect(v2.body).toMatchObject({
        latestVersion: 2,
        activeVersion: 1,
        documentVersion: 1,
        description: ordersRoute.description,
      });
      const same = await call('PUT', '/api/v1/routes/orders-eu', changed);
      expect(same.body).toMatchObject({ latestVersion: 2 });
      // Every comment is in every listing of the history: a long one is refused, nothing kept.
      const long = await call('PUT', `/api/v1/routes/orders-eu?comment=${'c'.repeat(1_001)}`, {
        ...changed,
        description: 'with a long comment',
      });
      expect(long.status).toBe(400);
      expect(long.body).toMatchObject({
        message: expect.stringMatching(/at most 1000 characters/),
      });
      expect((await call('GET', '/api/v1/routes/orders-eu')).body).toMatchObject({
        latestVersion: 2,
      });
      const v3 = await call('PUT', '/api/v1/routes/orders-eu?activate=true', {
        ...changed,
        description: 'v3',
      });
      expect(v3.body).toMatchObject({
        latestVersion: 3,
        activeVersion: 3,
        documentVersion: 3,
        description: 'v3',
      });
      const mismatch = await call('PUT', '/api/v1/routes/orders-eu', { ...changed, id: 'other' });
      expect(mismatch.status).toBe(400);
      expect(mismatch.body).toMatchObject({ details: { problems: [{ pointer: '/id' }] } });
    });

    it('lists the history, shows a version with a diff, and rolls back', async () => {
      const history = await call('GET', '/api/v1/routes/orders-eu/versions');
      expect(
        (history.body as Array<{ version: number; active: boolean; author: string }>).map((v) => [
          v.version,
          v.active,
          v.author,
        ]),
      ).toEqual([
        [3, true, 'admin'],
        [2, false, 'admin'],
        [1, false, 'admin'],
      ]);
      const v2 = await call('GET', '/api/v1/routes/orders-eu/versions/2?diffFrom=1');
      expect(v2.body).toMatchObject({
        version: 2,
        comment: 'describe',
        diff: { from: 1, operations: [{ op: 'replace', path: '/description', value: 'v2' }] },
      });
      expect((await call('GET', '/api/v1/routes/orders-eu/versions/9')).status).toBe(404);
      const rolledBack = await call('POST', '/api/v1/routes/orders-eu/versions/1/activate');
      expect(rolledBack.body).toMatchObject({ activeVersion: 1, latestVersion: 3 });
      // After a rollback the route shows the version that runs, and says which is the latest.
      const shown = (await call('GET', '/api/v1/routes/orders-eu')).body as {
        document: { description?: string };
      };
      expect(shown).toMatchObject({
        activeVersion: 1,
        latestVersion: 3,
        documentVersion: 1,
        description: ordersRoute.description,
        document: { description: ordersRoute.description },
      });
      const listed = (await call('GET', '/api/v1/routes')).body as Array<Record<string, unknown>>;
      expect(listed.find((r) => r.id === 'orders-eu')).toMatchObject({
        description: ordersRoute.description,
      });
    });

    it('keeps stored versions immutable in the database itself', async () => {
      const pg = new Client({ connectionString: gw.databaseUrl });
      await pg.connect();
      try {
        await expect(pg.query(`UPDATE route_versions SET author = 'mallory'`)).rejects.toThrow(
          /immutable/,
        );
        await expect(pg.query(`DELETE FROM route_versions`)).rejects.toThrow(/immutable/);
      } finally {
        await pg.end();
      }
    });

    it('dry-runs a message: stages, deliveries, no side effects, card numbers redacted', async () => {
      const res = await call('POST', '/api/v1/routes/orders-eu/test', {
        message: { body: order, headers: { 'X-Channel': 'app' } },
      });
      expect(res.status).toBe(200);
      const result = res.body as {
        version: number;
        outcome: string;
        stages: Array<{ kind: string; output: unknown }>;
        deliveries: Array<Record<string, unknown>>;
      };
      expect(result.version).toBe(1);
      expect(result.outcome).toBe('deliver');
      expect(result.stages.map((s) => s.kind)).toEqual(['validate', 'filter', 'transform', 'mask']);
      expect(result.stages[2].output).toMatchObject({
        orderId: 'ORD-2026-000123',
        channel: 'app',
        card: { pan: '[PAN REDACTED]' },
      });
      expect(result.deliveries).toEqual([
        expect.objectContaining({ destination: 0, type: 'kafka', key: 'ORD-2026-000123' }),
        expect.objectContaining({ destination: 1, type: 'amqp', routingKey: 'eu.de.express' }),
      ]);
      expect(res.text).not.toContain('4111111111111111');
      const invalid = await call('POST', '/api/v1/routes/orders-eu/test', {
        message: { body: { id: 1 } },
        version: 3,
      });
      expect(invalid.body).toMatchObject({
        version: 3,
        outcome: 'error',
        error: { code: 'SCHEMA_FAILED', where: '/pipeline/0 (validate)' },
      });
      expect(
        (
          await call('POST', '/api/v1/routes/orders-eu/test', {
            message: { body: {} },
            version: 42,
          })
        ).status,
      ).toBe(404);
      expect((await call('POST', '/api/v1/routes/orders-eu/test', { nothing: true })).status).toBe(
        400,
      );
    });

    it('starts, stops and reports status', async () => {
      expect((await call('POST', '/api/v1/routes/orders-eu/stop')).body).toMatchObject({
        desiredState: 'stopped',
      });
      expect((await call('GET', '/api/v1/routes/orders-eu/status')).body).toMatchObject({
        id: 'orders-eu',
        desiredState: 'stopped',
        activeVersion: 1,
        latestVersion: 3,
        inFlight: 0,
      });
      expect((await call('POST', '/api/v1/routes/orders-eu/start')).body).toMatchObject({
        desiredState: 'running',
      });
    });

    it('refuses to delete a connection in use, deletes routes keeping their history', async () => {
      const inUse = await call('DELETE', '/api/v1/connections/rabbit');
      expect(inUse.status).toBe(409);
      expect(inUse.body).toMatchObject({ details: { routes: ['orders-eu'] } });
      expect((await call('DELETE', '/api/v1/routes/orders-eu')).status).toBe(204);
      expect((await call('GET', '/api/v1/routes/orders-eu')).status).toBe(404);
      expect((await call('DELETE', '/api/v1/connections/rabbit')).status).toBe(204);
      // The id can be used again: a new incarnation, from version 1; the old one's versions stay.
      await call('POST', '/api/v1/connections', {
        name: 'rabbit',
        type: 'amqp',
        config: { url: 'amqp://guest@127.0.0.1:5672' },
      });
      const again = await call('POST', '/api/v1/routes', ordersRoute);
      expect(again.body).toMatchObject({ incarnation: 2, activeVersion: 1, latestVersion: 1 });
      const now = (await call('GET', '/api/v1/routes/orders-eu/versions')).body as Array<{
        incarnation: number;
        version: number;
        active: boolean;
      }>;
      expect(now.map((v) => [v.incarnation, v.version, v.active])).toEqual([[2, 1, true]]);
      const before = (await call('GET', '/api/v1/routes/orders-eu/versions?incarnation=1'))
        .body as Array<{ incarnation: number; version: number; active: boolean }>;
      expect(before.map((v) => [v.incarnation, v.version, v.active])).toEqual([
        [1, 3, false],
        [1, 2, false],
        [1, 1, false],
      ]);
      const old = await call('GET', '/api/v1/routes/orders-eu/versions/3?incarnation=1');
      expect(old.body).toMatchObject({
        incarnation: 1,
        version: 3,
        document: { description: 'v3' },
      });
      expect((await call('GET', '/api/v1/routes/orders-eu/versions/3')).status).toBe(404);
    });

    it('lists routes', async () => {
      await call('POST', '/api/v1/routes', httpRoute('ingest-a'));
      const list = await call('GET', '/api/v1/routes');
      expect((list.body as Array<{ id: string }>).map((r) => r.id)).toEqual([
        'ingest-a',
        'orders-eu',
      ]);
    });
  });

  describe('ingest', () => {
    it('runs an http route and answers with the result (sync) or 202 (async)', async () => {
      const res = await gw.request('POST', '/ingest/in/ingest-a', { body: { id: 'x1', extra: 1 } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: 'x1' });
      expect(res.headers['x-junction-id']).toMatch(/^[0-9a-f-]{36}$/);
      await call('POST', '/api/v1/routes', {
        ...httpRoute('ingest-b'),
        source: { type: 'http', path: 'in/b', mode: 'async', auth: 'none' },
      });
      const accepted = await gw.request('POST', '/ingest/in/b', {
        body: { id: 'y' },
        headers: { 'idempotency-key': 'order-77' },
      });
      expect(accepted.status).toBe(202);
      expect(accepted.body).toMatchObject({ id: 'order-77', status: 'delivered' });
    });

    it('needs an API key where the route says so', async () => {
      await call('POST', '/api/v1/routes', {
        ...httpRoute('ingest-c'),
        source: { type: 'http', path: 'in/c' },
      });
      expect((await gw.request('POST', '/ingest/in/c', { body: { id: 1 } })).status).toBe(401);
      const viewer = (await call('POST', '/api/v1/api-keys', { name: 'shop', roles: ['viewer'] }))
        .body as { key: string };
      expect(
        (await gw.request('POST', '/ingest/in/c', { body: { id: 1 }, apiKey: viewer.key })).status,
      ).toBe(403); // a valid key, but no ingest grant
      const key = (await call('POST', '/api/v1/api-keys', { name: 'shop-in', roles: ['ingest'] }))
        .body as { key: string };
      expect(
        (await gw.request('POST', '/ingest/in/c', { body: { id: 1 }, apiKey: key.key })).status,
      ).toBe(202);
    });

    it('answers 404 for an unknown path; dead-letters bad JSON or a failing message and answers 422', async () => {
      expect((await gw.request('POST', '/ingest/nowhere', { body: {} })).status).toBe(404);
      const badJson = await gw.request('POST', '/ingest/in/ingest-a', {
        body: '{"id": ',
        headers: { 'content-type': 'application/json' },
      });
      expect(badJson.status).toBe(422);
      expect(badJson.body).toMatchObject({
        statusCode: 422,
        details: { code: 'INPUT_REJECTED', deadLetterId: expect.any(String) },
      });
      await call('POST', '/api/v1/routes', httpRoute('ingest-d', '$error("no")'));
      const failed = await gw.request('POST', '/ingest/in/ingest-d', { body: { id: 1 } });
      expect(failed.status).toBe(422);
      expect(failed.body).toMatchObject({ details: { code: 'EXPRESSION_FAILED' } });
    });
  });

  describe('bad input', () => {
    it('refuses bodies over the size limit with 413 in the error shape', async () => {
      const big = { id: 'x'.repeat(1024 * 1024 + 10) };
      const res = await call('POST', '/api/v1/routes/validate', big);
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    });

    it('refuses malformed JSON with 400 in the error shape', async () => {
      const res = await gw.request('POST', '/api/v1/routes/validate', {
        token: admin,
        body: '{"id": ',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    });

    it('answers 404 in the error shape for an unknown endpoint, with no stack anywhere', async () => {
      const res = await call('GET', '/api/v1/nothing-here');
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
      for (const r of seen) expect(r.text).not.toMatch(/\bat [\w.<>]+ \(|\.ts:\d+|node_modules/);
    });
  });

  describe('users and keys', () => {
    it('manages users: create, roles, password, disable, delete; never the last admin', async () => {
      const created = await call('POST', '/api/v1/users', {
        username: 'jane',
        password: 'a-long-password-1',
        roles: ['editor'],
      });
      expect(created.status).toBe(201);
      const jane = created.body as { id: string };
      expect(
        (
          await call('POST', '/api/v1/users', {
            username: 'jane',
            password: 'a-long-password-1',
            roles: [],
          })
        ).status,
      ).toBe(409);
      expect(
        (await call('POST', '/api/v1/users', { username: 'short', password: 'short', roles: [] }))
          .status,
      ).toBe(400);
      const janeToken = await gw.login('jane', 'a-long-password-1');
      expect((await gw.request('GET', '/api/v1/auth/me', { token: janeToken })).body).toMatchObject(
        { name: 'jane', provider: 'local', roles: ['editor'] },
      );
      expect(
        (await call('PATCH', `/api/v1/users/${jane.id}`, { roles: ['viewer', 'operator'] })).body,
      ).toMatchObject({ roles: ['operator', 'viewer'] });
      expect((await gw.request('GET', '/api/v1/auth/me', { token: janeToken })).body).toMatchObject(
        { roles: ['operator', 'viewer'] },
      );
      // A change of nothing (no body, an empty one, `{}`) says so.
      for (const body of [undefined, '', {}]) {
        const none = await call('PATCH', `/api/v1/users/${jane.id}`, body);
        expect({
          body,
          status: none.status,
          message: (none.body as { message: string }).message,
        }).toEqual({ body, status: 400, message: expect.stringMatching(/^nothing to change/) });
      }
      await call('PATCH', `/api/v1/users/${jane.id}`, { password: 'another-long-password' });
      expect((await gw.request('GET', '/api/v1/auth/me', { token: janeToken })).status).toBe(401); // sessions ended
      await gw.login('jane', 'another-long-password');
      await call('PATCH', `/api/v1/users/${jane.id}`, { disabled: true });
      expect(
        (
          await gw.request('POST', '/api/v1/auth/login', {
            body: { username: 'jane', password: 'another-long-password' },
          })
        ).status,
      ).toBe(401);
      const me = (await call('GET', '/api/v1/auth/me')).body as { id: string };
      expect((await call('PATCH', `/api/v1/users/${me.id}`, { roles: ['viewer'] })).status).toBe(
        409,
      );
      expect((await call('DELETE', `/api/v1/users/${me.id}`)).status).toBe(400);
      expect((await call('DELETE', `/api/v1/users/${jane.id}`)).status).toBe(204);
      expect((await call('GET', `/api/v1/users/${jane.id}`)).status).toBe(404);
      const users = (await call('GET', '/api/v1/users')).body as Array<Record<string, unknown>>;
      expect(users.map((u) => u.username)).toEqual(['admin']);
      expect(JSON.stringify(users)).not.toMatch(/password|argon2/i);
    });

    it('shows an API key once and stores only its hash', async () => {
      const created = await call('POST', '/api/v1/api-keys', { name: 'erp', roles: ['operator'] });
      expect(created.status).toBe(201);
      const { key, id } = created.body as { key: string; id: string };
      expect(key).toMatch(/^jk_[0-9a-f]{12}_/);
      const listed = await call('GET', '/api/v1/api-keys');
      expect(listed.text).not.toContain(key);
      expect((await gw.request('GET', '/api/v1/auth/me', { apiKey: key })).body).toMatchObject({
        kind: 'apiKey',
        name: 'erp',
        roles: ['operator'],
      });
      const pg = new Client({ connectionString: gw.databaseUrl });
      await pg.connect();
      try {
        const { rows } = await pg.query('SELECT row_to_json(k)::text AS row FROM api_keys k');
        for (const { row } of rows) expect(row).not.toContain(key);
      } finally {
        await pg.end();
      }
      expect((await call('DELETE', `/api/v1/api-keys/${id}`)).status).toBe(204);
      expect((await gw.request('GET', '/api/v1/auth/me', { apiKey: key })).status).toBe(401);
    });
  });

  it('never returned the canary secret in any response', () => {
    expect(seen.length).toBeGreaterThan(40);
    for (const r of seen) expect(r.text).not.toContain(CANARY);
  });
});
