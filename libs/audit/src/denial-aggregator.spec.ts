import { AuditEventInput } from './audit-rows';
import { DenialAggregator, MANY_SOURCES } from './denial-aggregator';

function setup(maxSources?: number) {
  let now = 1_000_000;
  const written: AuditEventInput[] = [];
  const aggregator = new DenialAggregator(
    async (event) => {
      written.push(event);
    },
    { windowMs: 10_000, maxSources, now: () => now },
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
});
