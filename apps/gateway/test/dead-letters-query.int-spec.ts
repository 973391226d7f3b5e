/**
 * Dead-letter filters, cursor paging and counts against a real Postgres: generated letters over
 * routes, reasons and times, every query checked against a model of what should match.
 */
import { DataSource } from 'typeorm';
import { DeadLettersRepository } from '@junction/runtime';
import { startTestGateway, TestGateway } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';

const PAN = '4111111111111111';
const ROUTES = ['orders', 'refunds', 'stock'];
const REASONS = ['SCHEMA_FAILED', 'TRANSFORM_FAILED', 'DELIVERY_FAILED'];
const BASE = Date.parse('2026-11-01T00:00:00.000Z');

interface Letter {
  id: string;
  routeId: string;
  reasonCode: string;
  reason: string;
  createdAt: number;
}

/** A small deterministic generator, so a failure can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('dead letters: filters, cursor paging, counts', () => {
  let gw: TestGateway;
  let token: string;
  const letters: Letter[] = [];

  beforeAll(async () => {
    gw = await startTestGateway();
    token = await gw.login('admin', gw.adminPassword);
    const store = gw.app.get(DeadLettersRepository, { strict: false });
    const db = gw.app.get(DataSource);
    const rand = rng(13);
    for (let i = 0; i < 40; i++) {
      const routeId = ROUTES[Math.floor(rand() * ROUTES.length)]!;
      const reasonCode = REASONS[Math.floor(rand() * REASONS.length)]!;
      const reason =
        i % 5 === 0
          ? `card ${PAN} rejected by issuer #${i}`
          : i % 7 === 0
            ? `field total_100% is wrong #${i}`
            : `field ${['id', 'amount', 'sku'][i % 3]} failed #${i}`;
      const id = await store.park({
        messageId: `m-${i}`,
        routeId,
        routeVersion: 1,
        source: { type: 'http', name: routeId },
        reasonCode,
        reason,
        attempts: 1,
        payload: Buffer.from(JSON.stringify({ i, card: PAN })),
        headers: {},
      });
      // Several letters share a timestamp: the order must still be stable (by id).
      const createdAt = BASE + Math.floor(i / 3) * 60_000;
      await db.query(`UPDATE dead_letters SET created_at = $2 WHERE id = $1`, [
        id,
        new Date(createdAt),
      ]);
      letters.push({ id, routeId, reasonCode, reason, createdAt });
    }
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  const get = (url: string) => gw.request('GET', url, { token });

  const newestFirst = (a: Letter, b: Letter) =>
    b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

  /** Every page of a query, following the cursor header. */
  async function all(query: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const res = await get(
        `/api/v1/dead-letters?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      const body = res.body as Array<{ id: string }>;
      expect(body.length).toBeLessThanOrEqual(limit);
      ids.push(...body.map((d) => d.id));
      cursor = res.headers['junction-next-cursor'] as string | undefined;
      if (!cursor) return ids;
    }
    throw new Error('paging did not end');
  }

  const cases: Array<{ name: string; query: string; match: (l: Letter) => boolean }> = [
    { name: 'everything', query: '', match: () => true },
    { name: 'one route', query: 'routeId=refunds', match: (l) => l.routeId === 'refunds' },
    {
      name: 'one reason',
      query: 'reasonCode=TRANSFORM_FAILED',
      match: (l) => l.reasonCode === 'TRANSFORM_FAILED',
    },
    {
      name: 'two reasons and a route',
      query: 'reasonCode=SCHEMA_FAILED,DELIVERY_FAILED&routeId=orders',
      match: (l) => l.routeId === 'orders' && l.reasonCode !== 'TRANSFORM_FAILED',
    },
    {
      name: 'a time range',
      query: `from=${new Date(BASE + 2 * 60_000).toISOString()}&to=${new Date(BASE + 7 * 60_000).toISOString()}`,
      match: (l) => l.createdAt >= BASE + 2 * 60_000 && l.createdAt < BASE + 7 * 60_000,
    },
    {
      name: 'text, case-insensitive',
      query: 'q=AMOUNT',
      match: (l) => l.reason.toLowerCase().includes('amount'),
    },
    {
      name: 'a LIKE wildcard is matched as typed',
      query: `q=${encodeURIComponent('100%')}`,
      match: (l) => l.reason.includes('100%'),
    },
    {
      name: 'underscore as typed',
      query: 'q=l_1',
      match: (l) => l.reason.includes('l_1'),
    },
    {
      name: 'text and reason',
      query: 'q=issuer&reasonCode=SCHEMA_FAILED',
      match: (l) => l.reason.includes('issuer') && l.reasonCode === 'SCHEMA_FAILED',
    },
  ];

  it.each(cases)('filters and pages: $name', async ({ query, match }) => {
    const expected = letters
      .filter(match)
      .sort(newestFirst)
      .map((l) => l.id);
    expect(expected.length).toBeGreaterThan(0);
    for (const limit of [1, 3, 7, 500]) expect(await all(query, limit)).toEqual(expected);
    const counts = (await get(`/api/v1/dead-letters/counts?${query}`)).body as {
      total: number;
      byReason: Array<{ reasonCode: string; count: number }>;
      byRoute: Array<{ routeId: string; count: number }>;
    };
    expect(counts.total).toBe(expected.length);
    for (const code of REASONS) {
      const n = letters.filter((l) => match(l) && l.reasonCode === code).length;
      expect(counts.byReason.find((r) => r.reasonCode === code)?.count ?? 0).toBe(n);
    }
    for (const route of ROUTES) {
      const n = letters.filter((l) => match(l) && l.routeId === route).length;
      expect(counts.byRoute.find((r) => r.routeId === route)?.count ?? 0).toBe(n);
    }
  });

  it('searches the redacted reason only: a card number finds nothing and is never shown', async () => {
    expect(await all(`q=${PAN}`, 50)).toEqual([]);
    expect(await all(`q=${PAN.slice(6, 12)}`, 50)).toEqual([]);
    const withCard = (await get('/api/v1/dead-letters?q=issuer&limit=500')).body as Array<{
      reason: string;
    }>;
    expect(withCard.length).toBe(letters.filter((l) => l.reason.includes('issuer')).length);
    expect(JSON.stringify(withCard)).not.toContain(PAN);
    // The payload holds the card number too: it is never searched.
    expect(await all('q=card%22', 50)).toEqual([]);
  });

  it('answers 400 for a bad cursor, date or range', async () => {
    for (const query of [
      'cursor=nonsense',
      `cursor=${Buffer.from('["x","y"]').toString('base64url')}`,
      'from=yesterday',
      `from=${new Date(BASE + 60_000).toISOString()}&to=${new Date(BASE).toISOString()}`,
      `q=${'x'.repeat(201)}`,
    ]) {
      expect((await get(`/api/v1/dead-letters?${query}`)).status).toBe(400);
    }
    expect((await get('/api/v1/dead-letters/counts?from=never')).status).toBe(400);
  });
});
