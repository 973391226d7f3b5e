/**
 * Reading the trail is on the trail: who opened which message record, and who tried to export
 * when an administrator turned exports off (JUNCTION_AUDIT_EXPORT_ENABLED=false: 403).
 */
import { startTestGateway, TestGateway } from './test-gateway';
import { eventually } from './eventually';

process.env.JUNCTION_LOG ??= 'silent';

interface EventPage {
  items: Array<{ type: string; actor: string; outcome: string; target: { id: string } | null }>;
}

describe('audit reads and the export switch', () => {
  let gw: TestGateway;
  let off: TestGateway;
  let token: string;
  let offToken: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    token = await gw.login('admin', gw.adminPassword);
    // A second process on the same database (and key), with exports turned off.
    off = await startTestGateway(
      { JUNCTION_AUDIT_EXPORT_ENABLED: 'false' },
      { databaseUrl: gw.databaseUrl, masterKey: gw.masterKey },
    );
    offToken = token;
  }, 60_000);

  afterAll(async () => {
    await off?.close();
    await gw?.close();
  });

  const events = async (g: TestGateway, t: string, type: string) =>
    ((await g.request('GET', `/api/v1/audit/events?type=${type}`, { token: t })).body as EventPage)
      .items;

  it('records who opened which message record', async () => {
    for (const id of ['order-17', 'order-18', 'order-17']) {
      const r = await gw.request('GET', `/api/v1/audit/messages/${id}`, { token });
      expect([200, 404]).toContain(r.status);
    }
    const viewed = await eventually(async () => {
      const items = await events(gw, token, 'audit.message.viewed');
      expect(items).toHaveLength(3);
      return items;
    });
    expect(viewed.map((e) => [e.actor, e.target?.id]).sort()).toEqual([
      ['admin', 'order-17'],
      ['admin', 'order-17'],
      ['admin', 'order-18'],
    ]);
  });

  it('records who listed message records (their bodies), with the filter and the records read', async () => {
    await gw.create(token, '/api/v1/routes', {
      id: 'listed',
      source: { type: 'http', path: 'listed', auth: 'none', mode: 'sync' },
      pipeline: [],
      destinations: [{ type: 'log' }],
    });
    for (const id of ['a', 'b'])
      expect(
        (
          await gw.request('POST', '/ingest/listed', {
            body: JSON.stringify({ id }),
            headers: { 'content-type': 'application/json' },
          })
        ).status,
      ).toBe(200);
    const page = (
      await gw.request('GET', '/api/v1/audit/messages?routeId=listed&limit=5', { token })
    ).body as { items: Array<{ id: string; body: unknown }> };
    expect(page.items.map((r) => r.body)).toEqual([{ id: 'b' }, { id: 'a' }]);
    const listed = await eventually(async () => {
      const items = (
        (await gw.request('GET', '/api/v1/audit/events?type=audit.messages.listed', { token }))
          .body as { items: Array<{ actor: string; details: Record<string, unknown> }> }
      ).items;
      expect(items).toHaveLength(1);
      return items;
    });
    expect(listed[0]).toMatchObject({
      actor: 'admin',
      details: {
        filter: { routeId: 'listed' },
        count: 2,
        records: { from: page.items[1].id, to: page.items[0].id },
      },
    });
  });

  it('records who verified the trail, over what range, with the report it was given', async () => {
    const from = '2026-01-01T00:00:00.000Z';
    const plain = await gw.request('GET', `/api/v1/audit/verify?from=${from}`, { token });
    expect(plain.status).toBe(200);
    const r = await gw.request('GET', `/api/v1/audit/verify/report?from=${from}`, { token });
    expect(r.status).toBe(200);
    const report = r.body as { id: string; ranBy: unknown; range: unknown; signature: unknown };
    expect(report).toMatchObject({
      format: 'junction-audit-verification/v1',
      ranBy: { name: 'admin', kind: 'user', provider: 'local' },
      range: { from, to: null, table: null },
      result: { ok: true },
      // This gateway has no signing key: the report says so rather than pretend.
      signer: null,
      signature: null,
    });
    const verified = await eventually(async () => {
      const items = (
        (await gw.request('GET', '/api/v1/audit/events?type=audit.verified', { token })).body as {
          items: Array<{ actor: string; details: Record<string, unknown> }>;
        }
      ).items;
      expect(items).toHaveLength(2);
      return items;
    });
    // Newest first: the report's run, then the plain one.
    expect(verified.map((e) => [e.actor, e.details.from, e.details.reportId ?? null])).toEqual([
      ['admin', from, report.id],
      ['admin', from, null],
    ]);
    expect(verified[0].details).toMatchObject({ ok: true, firstBrokenId: null });
  });

  it('exports by default (and records them); refuses with 403 and a clear message when turned off', async () => {
    expect((await gw.request('GET', '/api/v1/audit/export?format=ndjson', { token })).status).toBe(
      200,
    );
    for (const format of ['csv', 'ndjson']) {
      const r = await off.request('GET', `/api/v1/audit/export?format=${format}`, {
        token: offToken,
      });
      expect(r.status).toBe(403);
      expect(r.text).toContain('JUNCTION_AUDIT_EXPORT_ENABLED');
    }
    const refused = await eventually(async () => {
      const items = await events(off, offToken, 'audit.export.refused');
      expect(items).toHaveLength(2);
      return items;
    });
    expect(refused.every((e) => e.outcome === 'denied' && e.actor === 'admin')).toBe(true);
    // The console offers exports only where the server allows them.
    const meta = async (g: TestGateway) =>
      /<meta name="junction-audit-export" content="(\w+)"/.exec(
        (await g.request('GET', '/console/')).text,
      )?.[1];
    expect(await meta(gw)).toBe('on');
    expect(await meta(off)).toBe('off');
    // Only the export the first process allowed.
    expect(await events(off, offToken, 'audit.exported')).toHaveLength(1);
    // Reading stays open.
    expect((await off.request('GET', '/api/v1/audit/messages', { token: offToken })).status).toBe(
      200,
    );
  });

  it('keeps saved searches per caller: each sees, names and deletes only its own', async () => {
    await gw.create(token, '/api/v1/users', {
      username: 'searcher',
      password: gw.adminPassword,
      roles: ['auditor'],
    });
    const other = await gw.login('searcher', gw.adminPassword);
    const save = (t: string, body: unknown) =>
      gw.request('POST', '/api/v1/audit/searches', { token: t, body });
    const list = async (t: string) =>
      (await gw.request('GET', '/api/v1/audit/searches', { token: t })).body as Array<{
        id: string;
        name: string;
        kind: string;
        query: Record<string, string>;
      }>;
    const mine = await save(token, {
      name: 'Failed refunds',
      kind: 'messages',
      query: { routeId: 'refunds', outcome: 'dead-lettered' },
    });
    expect(mine.status).toBe(201);
    expect((await save(token, { name: 'Failed refunds', kind: 'events', query: {} })).status).toBe(
      409,
    );
    // The same name is free for another caller.
    expect((await save(other, { name: 'Failed refunds', kind: 'events', query: {} })).status).toBe(
      201,
    );
    expect(await list(token)).toEqual([
      expect.objectContaining({
        name: 'Failed refunds',
        kind: 'messages',
        query: { routeId: 'refunds', outcome: 'dead-lettered' },
      }),
    ]);
    expect((await list(other)).map((x) => x.kind)).toEqual(['events']);
    const id = (mine.body as { id: string }).id;
    expect(
      (await gw.request('DELETE', `/api/v1/audit/searches/${id}`, { token: other })).status,
    ).toBe(404);
    expect((await gw.request('DELETE', `/api/v1/audit/searches/${id}`, { token })).status).toBe(
      204,
    );
    expect(await list(token)).toEqual([]);
    for (const body of [
      { name: ' ', kind: 'messages', query: {} },
      { name: 'x', kind: 'routes', query: {} },
      { name: 'x', kind: 'messages', query: { limit: 5 } },
      { name: 'x', kind: 'messages', query: { q: 'y'.repeat(501) } },
      { name: 'x', kind: 'messages' },
    ])
      expect((await save(token, body)).status).toBe(400);
  });
});
