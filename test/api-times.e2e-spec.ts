/**
 * A time with no offset in a query (`from`, `to`) means UTC, on a gateway whose host runs in
 * another zone: the audit lists, the stats and the dead-letter filters answer one query alike on
 * every process of a cluster, wherever it runs.
 */
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { freePort, GatewayProcess } from './gateway-process';

jest.setTimeout(120_000);

/** The time as ISO 8601 with no offset: what a script or a spreadsheet often sends. */
const noOffset = (t: number) => new Date(t).toISOString().slice(0, 19);

describe('times with no offset in API queries', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;

  beforeAll(async () => {
    db = await createTestDatabase('api_times');
    gw = new GatewayProcess(await freePort(), db.url, { TZ: 'Asia/Tokyo' });
    await gw.start();
  });

  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${gw.base}/api/v1/${path}`, {
      headers: { authorization: `Bearer ${gw.token}` },
    });
    expect({ path, status: res.status }).toEqual({ path, status: 200 });
    return (await res.json()) as T;
  };

  it('are read as UTC by the audit lists, the stats and the dead-letter filters', async () => {
    const created = await fetch(`${gw.base}/api/v1/routes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'times',
        source: { type: 'http', path: 'times', auth: 'none', mode: 'sync' },
        pipeline: [{ validate: { schema: { type: 'object', required: ['id'] } } }],
        destinations: [{ type: 'log' }],
      }),
    });
    expect(created.status).toBe(201);
    const sent = await fetch(`${gw.base}/ingest/times`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(sent.status).toBe(422);
    const soon = noOffset(Date.now() + 60_000);
    const hourAgo = noOffset(Date.now() - 3_600_000);

    const events = await get<{ items: unknown[] }>(`audit/events?type=route.created&to=${soon}`);
    expect(events.items).toHaveLength(1);
    const messages = await get<{ items: unknown[] }>(`audit/messages?from=${hourAgo}&to=${soon}`);
    expect(messages.items).toHaveLength(1);
    const letters = await get<unknown[]>(`dead-letters?routeId=times&to=${soon}`);
    expect(letters).toHaveLength(1);
    const stats = await get<{ totals: Array<{ count: number }> }>(
      `stats?from=${hourAgo}&to=${soon}&bucket=hour&routeId=times`,
    );
    expect(stats.totals.reduce((n, t) => n + t.count, 0)).toBe(1);
  });
});
