import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase } from '@junction/database';
import {
  ADMIN_PASSWORD,
  eventually,
  freePort,
  GatewayProcess,
  MASTER_KEY,
} from '../gateway-process';
import { Spawned, spawnNode } from '../process';

const ROOT = join(__dirname, '..', '..');

/**
 * Ingest as an attacker (or a careless editor) would try it, against two gateway processes on one
 * PostgreSQL: a path belongs to one route in every spelling, across versions, deletions,
 * processes and concurrent requests; a stopped route keeps its path (503, not a free path); an
 * API key posts only with an ingest grant, and only where its grant says; the open demo route
 * exists only on the embedded database.
 */
jest.setTimeout(90_000);

describe('security: ingest paths and ingest keys', () => {
  let db: { url: string; drop(): Promise<void> };
  let a: GatewayProcess;
  let b: GatewayProcess;
  let pg: Client;

  beforeAll(async () => {
    db = await createTestDatabase('sec_ingest');
    a = new GatewayProcess(await freePort(), db.url);
    await a.start();
    // The second process starts once the first has migrated the database.
    b = new GatewayProcess(await freePort(), db.url);
    await b.start();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  }, 120_000);

  afterAll(async () => {
    await pg?.end().catch(() => undefined);
    for (const g of [a, b]) await g?.stop().catch(() => undefined);
    await db?.drop();
  }, 60_000);

  const route = (id: string, path: string, auth: 'none' | 'apiKey' = 'apiKey') => ({
    id,
    source: { type: 'http', path, auth, mode: 'async' },
    destinations: [{ type: 'log' }],
  });

  async function post(
    g: GatewayProcess,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown; retryAfter: string | null }> {
    const res = await fetch(`${g.base}/ingest/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ id: 'o-1' }),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? JSON.parse(text) : undefined,
      retryAfter: res.headers.get('retry-after'),
    };
  }

  async function key(roles: string[], extra: Record<string, unknown> = {}): Promise<string> {
    const res = await a.api('POST', '/api-keys', {
      name: `k-${roles.join('-') || 'none'}-${Math.random().toString(36).slice(2, 8)}`,
      roles,
      ...extra,
    });
    expect(res.status).toBe(201);
    return (res.body as { key: string }).key;
  }

  /** Every way of writing `base` that must be the same path. */
  function spellings(base: string): string[] {
    const [first, ...rest] = base.split('/');
    const tail = rest.join('/');
    return [
      `${first}//${tail}`,
      `${base}/`,
      `${base}//`,
      `${first}/./${tail}`,
      `${first.toUpperCase()}/${tail}`,
      `${first}/${tail.toUpperCase()}`,
      `${first[0].toUpperCase()}${first.slice(1)}//${tail}/`,
      `${first}///${tail}/./`,
      `${first}%2F${tail}`,
      `${first}%2f${tail}%2F`,
      `${[...first].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join('')}/${tail}`,
    ];
  }

  it('refuses a path another route holds, in every normalised spelling, with 409 and the owner', async () => {
    expect((await a.api('POST', '/routes', route('clash-owner', 'clash/orders'))).status).toBe(201);
    const forms = spellings('clash/orders');
    for (const [i, path] of forms.entries()) {
      // Every other request goes to the other process: the claim is in Postgres, not in memory.
      const g = i % 2 === 0 ? a : b;
      const res = await g.api('POST', '/routes', route(`clash-${i}`, path, 'none'));
      expect({ path, status: res.status }).toEqual({ path, status: 409 });
      expect(res.body).toMatchObject({
        statusCode: 409,
        details: { routeId: 'clash-owner', path: 'clash/orders' },
      });
      expect((await a.api('GET', `/routes/clash-${i}`)).status).toBe(404);
    }
    // A look-alike is not a spelling: a path with a Cyrillic letter is refused outright.
    const lookAlike = await a.api(
      'POST',
      '/routes',
      route('clash-cyr', 'cl\u0430sh/orders', 'none'),
    );
    expect(lookAlike.status).toBe(400);
    expect(lookAlike.body).toMatchObject({ details: { problems: [{ pointer: '/source/path' }] } });
    // A neighbouring path is another path.
    expect((await b.api('POST', '/routes', route('clash-near', 'clash/orders2'))).status).toBe(201);
    // Requests are matched in the same form: every spelling (and percent-encoding) reaches the owner.
    const ingestKey = await key(['ingest']);
    for (const path of [...forms, 'clash%2Forders', '%63lash/orders', 'x/../clash/orders']) {
      const res = await post(a, path, { 'x-api-key': ingestKey });
      expect({ path, status: res.status }).toEqual({ path, status: 202 });
      expect(res.body).toMatchObject({ routeId: 'clash-owner' });
    }
    // A look-alike letter is not the same path: no route takes it.
    expect((await post(a, 'cl%D0%B0sh/orders', { 'x-api-key': ingestKey })).status).toBe(404);
    const claims = await pg.query(`SELECT path, route_id FROM ingest_paths ORDER BY path`);
    expect(claims.rows.filter((r) => String(r.path).startsWith('clash'))).toEqual([
      { path: 'clash/orders', route_id: 'clash-owner' },
      { path: 'clash/orders2', route_id: 'clash-near' },
    ]);
  });

  it('holds across versions: a PUT onto a taken path, or activating a version whose path was taken since, is refused', async () => {
    expect((await a.api('POST', '/routes', route('ver-a', 'ver/a'))).status).toBe(201);
    expect((await a.api('POST', '/routes', route('ver-b', 'ver/b'))).status).toBe(201);
    // B moves (a new version, not even activated) onto A's path: refused, nothing stored.
    const moved = await b.api('PUT', '/routes/ver-b', route('ver-b', 'VER//a/'));
    expect(moved.status).toBe(409);
    expect(moved.body).toMatchObject({ details: { routeId: 'ver-a' } });
    expect((await a.api('GET', '/routes/ver-b')).body).toMatchObject({ latestVersion: 1 });
    // B moves elsewhere and back: its old path is free once no version it runs or holds names it.
    const v2 = await a.api('PUT', '/routes/ver-b?activate=true', route('ver-b', 'ver/b2'));
    expect(v2.body).toMatchObject({ activeVersion: 2, latestVersion: 2 });
    expect((await a.api('POST', '/routes', route('ver-c', 'ver/b/', 'none'))).status).toBe(201);
    // Rolling B back to version 1 would take ver/b from C: refused, B keeps running version 2.
    const rollback = await b.api('POST', '/routes/ver-b/versions/1/activate', {});
    expect(rollback.status).toBe(409);
    expect(rollback.body).toMatchObject({ details: { routeId: 'ver-c', path: 'ver/b' } });
    expect((await a.api('GET', '/routes/ver-b')).body).toMatchObject({
      activeVersion: 2,
      documentVersion: 2,
    });
    expect((await post(a, 'ver/b')).body).toMatchObject({ routeId: 'ver-c' });
  });

  it('a stopped route keeps its path: 503 with Retry-After, and a route without auth cannot take it over', async () => {
    expect((await a.api('POST', '/routes', route('guarded', 'pay/in'))).status).toBe(201);
    const ingestKey = await key(['ingest']);
    await eventually(async () =>
      expect((await post(b, 'pay/in', { 'x-api-key': ingestKey })).status).toBe(202),
    );
    expect((await a.api('POST', '/routes/guarded/stop', {})).status).toBe(200);
    for (const g of [a, b])
      for (const path of ['pay/in', 'PAY//in/', 'pay/./in']) {
        const res = await eventually(async () => {
          const r = await post(g, path, { 'x-api-key': ingestKey });
          expect(r.status).toBe(503);
          return r;
        });
        expect(Number(res.retryAfter)).toBeGreaterThan(0);
      }
    // The takeover of the issue: another route, open to anyone, on the stopped route's path.
    for (const path of ['pay/in', 'pay/in/', 'Pay//In'])
      expect((await b.api('POST', '/routes', route('open', path, 'none'))).status).toBe(409);
    expect((await b.api('POST', '/routes/guarded/start', {})).status).toBe(200);
    for (const g of [a, b]) {
      // After the stop and start, the path is the guarded route's: no key, no message.
      await eventually(async () => expect((await post(g, 'pay/in')).status).toBe(401));
      expect((await post(g, 'Pay/In/', { 'x-api-key': ingestKey })).body).toMatchObject({
        routeId: 'guarded',
      });
    }
  });

  it('a deleted route frees its path; its id starts again at version 1 and its old versions stay', async () => {
    expect((await a.api('POST', '/routes', route('gone', 'gone/in'))).status).toBe(201);
    expect(
      (await a.api('PUT', '/routes/gone?activate=true', route('gone', 'gone/in2'))).status,
    ).toBe(200);
    expect((await a.api('DELETE', '/routes/gone', {})).status).toBe(204);
    expect((await post(a, 'gone/in2')).status).toBe(404);
    const heir = await b.api('POST', '/routes', route('heir', 'gone//in2', 'none'));
    expect(heir.status).toBe(201);
    await eventually(async () =>
      expect((await post(a, 'gone/in2')).body).toMatchObject({ routeId: 'heir' }),
    );
    const again = await a.api('POST', '/routes', route('gone', 'gone/in3'));
    expect(again.body).toMatchObject({
      incarnation: 2,
      activeVersion: 1,
      latestVersion: 1,
      documentVersion: 1,
    });
    const old = await a.api('GET', '/routes/gone/versions?incarnation=1');
    expect((old.body as Array<{ version: number }>).map((v) => v.version)).toEqual([2, 1]);
    // Deleted and created again at once: every process runs the new version 1, not the old one.
    for (let round = 0; round < 3; round += 1) {
      const [from, to] = round % 2 === 0 ? ['reborn/a', 'reborn/b'] : ['reborn/b', 'reborn/a'];
      if (round === 0)
        expect((await a.api('POST', '/routes', route('reborn', from, 'none'))).status).toBe(201);
      expect((await a.api('DELETE', '/routes/reborn', {})).status).toBe(204);
      expect((await a.api('POST', '/routes', route('reborn', to, 'none'))).body).toMatchObject({
        incarnation: round + 2,
        activeVersion: 1,
      });
      for (const g of [a, b]) {
        await eventually(async () =>
          expect((await post(g, to)).body).toMatchObject({ routeId: 'reborn', version: 1 }),
        );
        await eventually(async () => expect((await post(g, from)).status).toBe(404));
      }
    }
  });

  it('two creates of one path at once, on two processes: exactly one wins, every round', async () => {
    for (let round = 0; round < 4; round += 1) {
      const path = `race/r${round}`;
      const forms = [path, ...spellings(path)].slice(0, 8);
      const results = await Promise.all(
        forms.map((p, i) =>
          (i % 2 === 0 ? a : b).api('POST', '/routes', route(`race-${round}-${i}`, p, 'none')),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([201, ...Array(forms.length - 1).fill(409)]);
      const winner = forms.findIndex((_, i) => results[i].status === 201);
      for (const r of results.filter((x) => x.status === 409))
        expect(r.body).toMatchObject({ details: { routeId: `race-${round}-${winner}` } });
      const claims = await pg.query(`SELECT route_id FROM ingest_paths WHERE path = $1`, [path]);
      expect(claims.rows).toEqual([{ route_id: `race-${round}-${winner}` }]);
    }
    // The same new id twice at once: one route, one 409.
    const same = await Promise.all(
      [a, b].map((g, i) => g.api('POST', '/routes', route('twin', `twin/${i}`, 'none'))),
    );
    expect(same.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it('an API key posts only with an ingest grant: viewer, auditor, operator, editor and role-less keys get 403, audited', async () => {
    expect((await a.api('POST', '/routes', route('scoped-a', 'scoped/a'))).status).toBe(201);
    expect((await a.api('POST', '/routes', route('scoped-b', 'scoped/b'))).status).toBe(201);
    for (const roles of [
      ['viewer'],
      ['auditor'],
      [],
      ['operator'],
      ['editor'],
      ['viewer', 'auditor'],
    ]) {
      const k = await key(roles);
      for (const g of [a, b]) {
        const res = await post(g, 'scoped/a', { 'x-api-key': k });
        expect({ roles, status: res.status }).toEqual({ roles, status: 403 });
      }
    }
    const ingestKey = await key(['ingest']);
    expect((await post(a, 'scoped/a', { 'x-api-key': ingestKey })).status).toBe(202);
    expect((await post(b, 'scoped/b', { 'x-api-key': ingestKey })).status).toBe(202);
    expect((await post(a, 'scoped/a', { 'x-api-key': await key(['admin']) })).status).toBe(202);
    // A key limited to one route may post there and nowhere else.
    const onlyA = await key(['ingest'], { ingestRoutes: ['scoped-a'] });
    expect((await post(b, 'SCOPED/a/', { 'x-api-key': onlyA })).status).toBe(202);
    for (const path of ['scoped/b', 'clash/orders', 'pay/in']) {
      const res = await post(a, path, { 'x-api-key': onlyA });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    // An ingest key is no API key for anything else.
    const apiCall = await fetch(`${a.base}/api/v1/routes`, { headers: { 'x-api-key': ingestKey } });
    expect(apiCall.status).toBe(403);
    // A route list without the grant it narrows is refused when the key is made.
    const bad = await a.api('POST', '/api-keys', {
      name: 'confused',
      roles: ['viewer'],
      ingestRoutes: ['scoped-a'],
    });
    expect(bad.status).toBe(400);
    expect(
      (await post(a, 'scoped/a', { 'x-api-key': 'jk_000000000000_' + 'x'.repeat(32) })).status,
    ).toBe(401);
    const denied = await eventually(async () => {
      const res = await a.api('GET', '/audit/events?type=request.denied&limit=200');
      const items = (
        res.body as { items: Array<{ actor: string; details: { path?: string; status: number } }> }
      ).items;
      // Aggregated anonymous 401s carry `paths`, not `path`: they are not ours.
      const ours = items.filter(
        (e) => e.details.path?.startsWith('/ingest/') && e.details.status === 403,
      );
      expect(ours.length).toBeGreaterThanOrEqual(6 * 2 + 3);
      return ours;
    });
    expect(denied.some((e) => e.actor.startsWith('k-viewer-'))).toBe(true);
    expect(denied.some((e) => e.actor.startsWith('k-none-'))).toBe(true);
  });

  it('seeds the open demo route only on the embedded database, and says so at start-up', async () => {
    const shared = await createTestDatabase('sec_demo');
    let gateway: Spawned | undefined;
    const port = await freePort();
    try {
      gateway = spawnNode(
        ['bin/gateway.js'],
        {
          DATABASE_URL: shared.url,
          JUNCTION_MASTER_KEY: MASTER_KEY,
          JUNCTION_ADMIN_PASSWORD: ADMIN_PASSWORD,
          JUNCTION_SEED_DEMO: 'true',
          PORT: String(port),
          JUNCTION_LOG: 'silent',
        },
        ROOT,
      );
      await gateway.waitFor(/listening on/);
      await gateway.waitFor(/demo:\s+not seeded: .*embedded database only.*DATABASE_URL/);
      const res = await fetch(`http://127.0.0.1:${port}/ingest/demo/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"id":"x","total":1}',
      });
      expect(res.status).toBe(404);
      const routes = new Client({ connectionString: shared.url });
      await routes.connect();
      expect((await routes.query(`SELECT id FROM routes`)).rows).toEqual([]);
      await routes.end();
    } finally {
      gateway?.child.kill('SIGTERM');
      await gateway?.exited().catch(() => undefined);
      await shared.drop();
    }

    const dataDir = mkdtempSync(join(tmpdir(), 'junction-sec-demo-'));
    const embeddedPort = await freePort();
    try {
      gateway = spawnNode(
        ['bin/gateway.js'],
        {
          DATABASE_URL: '',
          JUNCTION_MASTER_KEY: '',
          JUNCTION_ADMIN_PASSWORD: ADMIN_PASSWORD,
          JUNCTION_DATA_DIR: dataDir,
          JUNCTION_EMBEDDED_PG_PORT: String(await freePort()),
          PORT: String(embeddedPort),
          JUNCTION_LOG: 'silent',
        },
        ROOT,
      );
      await gateway.waitFor(
        /demo:\s+curl .*\/ingest\/demo\/orders.*embedded database only/,
        120_000,
      );
      const res = await fetch(`http://127.0.0.1:${embeddedPort}/ingest/demo/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"id":"x","total":1}',
      });
      expect(res.status).toBe(200);
    } finally {
      gateway?.child.kill('SIGTERM');
      await gateway?.exited(60_000).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
