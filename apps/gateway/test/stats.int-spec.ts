/**
 * GET /api/v1/stats against a real Postgres: counts per route, outcome and bucket agree with
 * the audit rows themselves, after each of several rounds of writes (the rollup catches up).
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditTrail } from '@junction/audit';
import type { MessageOutcome } from '@junction/runtime';
import { startTestGateway, TestGateway } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';

const ROUTES = ['orders', 'refunds', 'stock', 'billing'];
const OUTCOMES: MessageOutcome[] = [
  'delivered',
  'filtered',
  'unroutable',
  'dead-lettered',
  'replayed',
];

interface Stats {
  from: string;
  to: string;
  bucket: string;
  lag: number;
  series: Array<{ bucket: string; routeId: string; outcome: string; count: number }>;
  totals: Array<{ routeId: string; outcome: string; count: number }>;
}

describe('GET /api/v1/stats', () => {
  let gw: TestGateway;
  let admin: string;
  let viewer: string;
  let auditor: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    admin = await gw.login('admin', gw.adminPassword);
    for (const [name, roles] of [
      ['stats-viewer', ['viewer']],
      ['stats-auditor', ['auditor']],
    ] as const)
      await gw.create(admin, '/api/v1/users', {
        username: name,
        password: gw.adminPassword,
        roles,
      });
    viewer = await gw.login('stats-viewer', gw.adminPassword);
    auditor = await gw.login('stats-auditor', gw.adminPassword);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  /** Writes n messages through the real audit writer, with a random route and outcome each. */
  async function write(n: number, seed: number): Promise<void> {
    const trail = gw.app.get(AuditTrail);
    let s = seed;
    const pick = <T>(xs: readonly T[]) => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return xs[s % xs.length]!;
    };
    const now = new Date().toISOString();
    await Promise.all(
      Array.from({ length: n }, () =>
        trail.recordMessage({
          messageId: randomUUID(),
          routeId: pick(ROUTES),
          routeVersion: 1,
          source: { type: 'http', name: 'stats' },
          outcome: pick(OUTCOMES),
          receipts: [],
          attempts: 1,
          receivedAt: now,
          doneAt: now,
          payload: Buffer.from('{}'),
          auditPayload: 'none',
        }),
      ),
    );
    await trail.flush();
  }

  /** The truth: the audit rows, counted directly. */
  async function truth(unit: string, routeId?: string) {
    const rows = (await gw.app.get(DataSource).query(
      `SELECT date_trunc($1, recorded_at, 'UTC') AS bucket, route_id AS "routeId", outcome, count(*)::int AS count
         FROM audit_messages WHERE ($2::text IS NULL OR route_id = $2)
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      [unit, routeId ?? null],
    )) as Array<{ bucket: Date; routeId: string; outcome: string; count: number }>;
    return rows.map((r) => ({ ...r, bucket: r.bucket.toISOString() }));
  }

  const stats = async (query: string, token = admin) => {
    const r = await gw.request('GET', `/api/v1/stats?${query}`, { token });
    expect(r.status).toBe(200);
    return r.body as Stats;
  };

  it('agrees with the audit rows per bucket, route and outcome, round after round', async () => {
    const from = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const to = new Date(Date.now() + 86_400_000).toISOString();
    for (const [round, n] of [
      [1, 300],
      [2, 41],
      [3, 1],
    ] as const) {
      await write(n, round * 7919);
      for (const unit of ['minute', 'hour', 'day'] as const) {
        const got = await stats(`from=${from}&to=${to}&bucket=${unit}`);
        expect(got.lag).toBe(0);
        expect(got.series).toEqual(await truth(unit));
      }
      const one = await stats(`from=${from}&to=${to}&bucket=hour&routeId=refunds`);
      expect(one.series).toEqual(await truth('hour', 'refunds'));
      const total = (await truth('day')).reduce((s, r) => s + r.count, 0);
      expect(total).toBe(round === 1 ? 300 : round === 2 ? 341 : 342);
      expect(one.totals.every((t) => t.routeId === 'refunds')).toBe(true);
    }
  }, 60_000);

  it('rounds the range to whole buckets and leaves out what is outside it', async () => {
    const got = await stats(`from=2020-01-01T00:00:30Z&to=2020-01-01T00:10:10Z&bucket=minute`);
    expect(got).toMatchObject({
      from: '2020-01-01T00:00:00.000Z',
      to: '2020-01-01T00:11:00.000Z',
      series: [],
      totals: [],
    });
  });

  it('is open to viewers (counts only), not to auditors alone; refuses bad input', async () => {
    await stats('bucket=hour', viewer);
    expect((await gw.request('GET', '/api/v1/stats', { token: auditor })).status).toBe(403);
    for (const q of [
      'bucket=week',
      'from=yesterday',
      'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
      'from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=minute',
    ])
      expect((await gw.request('GET', `/api/v1/stats?${q}`, { token: admin })).status).toBe(400);
  });
});
