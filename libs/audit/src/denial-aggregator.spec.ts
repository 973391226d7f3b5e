import { AuditEventInput } from './audit-rows';
import { DenialAggregator, MANY_SOURCES } from './denial-aggregator';

function setup(maxSources?: number, individualPerWindow?: number) {
  let now = 1_000_000;
  const written: AuditEventInput[] = [];
  const aggregator = new DenialAggregator(
    async (event) => {
      written.push(event);
    },
    { windowMs: 10_000, maxSources, individualPerWindow, now: () => now },
  );
  return { aggregator, written, advance: (ms: number) => (now += ms) };
}

const count = (e: AuditEventInput) => (e.details as { count: number }).count;

describe('DenialAggregator', () => {
  it('writes one event per source and closed window, with the count and the paths', async () => {
    const { aggregator, written, advance } = setup();
    for (let i = 0; i < 1000; i++)
      aggregator.add({
        method: 'GET',
        path: `/api/v1/p${i % 3}`,
        status: 401,
        ip: `10.0.0.${i % 4}`,
      });
    await aggregator.flush(false);
    expect(written).toHaveLength(0); // the window is still open
    advance(10_000);
    await aggregator.flush(false);
    expect(written).toHaveLength(4);
    expect(written.reduce((n, e) => n + count(e), 0)).toBe(1000);
    expect(written[0]).toMatchObject({
      type: 'request.denied',
      outcome: 'denied',
      actorKind: 'anonymous',
      details: { status: 401, aggregated: true, count: 250 },
    });
    await aggregator.flush(false);
    expect(written).toHaveLength(4); // written once
  });

  it('bounds the sources kept apart in a window, and the paths of one source', async () => {
    const { aggregator, written } = setup(5);
    for (let i = 0; i < 100; i++)
      aggregator.add({ method: 'POST', path: `/x/${i}`, status: 401, ip: `10.0.1.${i}` });
    await aggregator.stop();
    expect(written).toHaveLength(6);
    const many = written.find((e) => e.ip === MANY_SOURCES)!;
    expect(count(many)).toBe(95);
    expect(Object.keys((many.details as { paths: object }).paths)).toHaveLength(21);
  });

  it('keeps the counts of a window it could not write, and writes them later', async () => {
    let fail = true;
    const written: AuditEventInput[] = [];
    const aggregator = new DenialAggregator(
      async (event) => {
        if (fail) throw new Error('audit down');
        written.push(event);
      },
      { windowMs: 1000, now: () => 5000, onError: () => undefined },
    );
    aggregator.add({ method: 'GET', path: '/a', status: 401, ip: '1.2.3.4' });
    await aggregator.stop();
    expect(written).toHaveLength(0);
    fail = false;
    await aggregator.flush(true);
    expect(written.map(count)).toEqual([1]);
  });

  it("lets a signed-in caller's first denials of a window through, and counts the rest by name", async () => {
    const { aggregator, written, advance } = setup(2, 3);
    const denied = (actor: string, i: number) => ({
      actor,
      method: 'GET',
      path: `/api/v1/audit/messages?p=${i % 2}`,
      status: 403,
      ip: '10.0.0.9',
    });
    const admitted = Array.from({ length: 1000 }, (_, i) =>
      aggregator.admit(denied('key:viewer', i)),
    );
    expect(admitted.filter(Boolean)).toHaveLength(3);
    expect(admitted.slice(0, 3)).toEqual([true, true, true]);
    // Another caller has its own allowance, and anonymous sources do not crowd callers out.
    expect(aggregator.admit(denied('victor', 0))).toBe(true);
    for (let i = 0; i < 5; i++)
      aggregator.add({ method: 'GET', path: '/x', status: 401, ip: `10.1.0.${i}` });
    advance(10_000);
    // A new window: the allowance is back.
    expect(aggregator.admit(denied('key:viewer', 0))).toBe(true);
    await aggregator.flush(false);
    const mine = written.filter((e) => e.actor === 'key:viewer');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      type: 'request.denied',
      outcome: 'denied',
      actorKind: null,
      ip: '10.0.0.9',
      details: {
        status: 403,
        aggregated: true,
        count: 997,
        paths: {
          'GET /api/v1/audit/messages?p=0': 498,
          'GET /api/v1/audit/messages?p=1': 499,
        },
      },
    });
    // The anonymous 401s: two sources kept apart, the rest as many; none under a caller's name.
    expect(written.filter((e) => e.actor === '(anonymous)').map((e) => e.ip)).toEqual([
      '10.1.0.0',
      '10.1.0.1',
      MANY_SOURCES,
    ]);
    expect(written).toHaveLength(4);
  });

  it('names the endpoints tried past the first paths, so junk paths cannot hide them', async () => {
    const { aggregator, written } = setup(undefined, 1);
    const denied = (method: string, path: string, route: string) => ({
      actor: 'key:viewer',
      method,
      path,
      route,
      status: 403,
      ip: '10.0.0.9',
    });
    // A viewer key spends its one row, fills the count's paths with junk ids, then tries to mint
    // itself an admin key and to read a route's secrets.
    aggregator.admit(denied('GET', '/api/v1/routes/junk', '/api/v1/routes/:id'));
    for (let i = 0; i < 30; i++)
      aggregator.admit(denied('GET', `/api/v1/routes/junk-${i}`, '/api/v1/routes/:id'));
    aggregator.admit(denied('POST', '/api/v1/api-keys', '/api/v1/api-keys'));
    aggregator.admit(
      denied('GET', '/api/v1/connections/erp/secrets', '/api/v1/connections/:name/secrets'),
    );
    // Anonymous ones too.
    for (let i = 0; i < 25; i++)
      aggregator.add({
        method: 'GET',
        path: `/api/v1/x/${i}`,
        route: '/api/v1/x/:id',
        status: 401,
        ip: '10.1.0.1',
      });
    await aggregator.stop();
    const [mine, anonymous] = written.map(
      (e) => (e.details as { paths: Record<string, number> }).paths,
    );
    expect(Object.keys(mine)).toHaveLength(23);
    expect(mine).toMatchObject({
      'GET /api/v1/routes/:id': 10,
      'POST /api/v1/api-keys': 1,
      'GET /api/v1/connections/:name/secrets': 1,
    });
    expect(mine['(other paths)']).toBeUndefined();
    expect(anonymous['GET /api/v1/x/:id']).toBe(5);
  });

  it("keeps a caller's count apart per status, and its addresses as many when they differ", async () => {
    const { aggregator, written } = setup(undefined, 1);
    for (const [status, ip] of [
      [403, '10.0.0.1'],
      [403, '10.0.0.1'],
      [403, '10.0.0.2'],
      [401, '10.0.0.1'],
    ] as const)
      aggregator.admit({ actor: 'alice', method: 'POST', path: '/a', status, ip });
    await aggregator.stop();
    expect(
      written.map((e) => [e.actor, e.ip, (e.details as { status: number }).status, count(e)]),
    ).toEqual([
      ['alice', MANY_SOURCES, 403, 2],
      ['alice', '10.0.0.1', 401, 1],
    ]);
    // A key used from several places: the count still says from where (one place: `ip` says it).
    expect(written.map((e) => (e.details as { addresses?: unknown }).addresses)).toEqual([
      { '10.0.0.1': 1, '10.0.0.2': 1 },
      undefined,
    ]);
  });

  it("bounds the addresses kept for one caller's count", async () => {
    const { aggregator, written } = setup(undefined, 1);
    for (let i = 0; i < 50; i++)
      aggregator.admit({ actor: 'bob', method: 'GET', path: '/a', status: 403, ip: `10.2.0.${i}` });
    await aggregator.stop();
    const addresses = (written[0].details as { addresses: Record<string, number> }).addresses;
    expect(Object.keys(addresses)).toHaveLength(21);
    expect(addresses[MANY_SOURCES]).toBe(29);
  });
});
