import { eventually } from './eventually';
import { startTestGateway, TestGateway } from './test-gateway';

/** GET /metrics: Prometheus text, counting what the audit trail records. */
describe('GET /metrics', () => {
  let gw: TestGateway;
  let admin: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    admin = await gw.login('admin', gw.adminPassword);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  /** The value of one sample, e.g. `junction_messages_total{route="m",outcome="delivered"}`. */
  async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
    const res = await gw.request('GET', '/metrics');
    expect(res.status).toBe(200);
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    for (const line of res.text.split('\n')) {
      const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const have = match[2].split(',');
      if (wanted.every((w) => have.includes(w))) return Number(match[3]);
    }
    return undefined;
  }

  it('reports a route still starting (its broker refuses the login) as not running', async () => {
    await gw.request('POST', '/api/v1/connections', {
      token: admin,
      body: {
        name: 'refusing',
        type: 'amqp',
        config: { url: 'amqp://guest@127.0.0.1:5672' },
        secrets: { password: 'not-the-password' },
      },
    });
    await gw.create(admin, '/api/v1/routes', {
      id: 'waiting',
      source: {
        type: 'amqp',
        connection: 'refusing',
        queue: `junction.test.waiting.${Date.now()}`,
      },
      destinations: [{ type: 'log' }],
    });
    expect(await sample('junction_route_running', { route: 'waiting' })).toBe(0);
    expect((await gw.request('DELETE', '/api/v1/routes/waiting', { token: admin })).status).toBe(
      204,
    );
  });

  it('is public Prometheus text with the process metrics', async () => {
    const res = await gw.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toMatch(/^# TYPE junction_process_cpu_user_seconds_total counter$/m);
    expect(res.text).toMatch(/^junction_audit_pending_records\{table="messages"\} \d+$/m);
    expect(res.text).toMatch(/^junction_audit_failing\{table="messages"\} 0$/m);
  });

  it('counts each message by route and outcome, dead letters by reason, and durations', async () => {
    await gw.create(admin, '/api/v1/routes', {
      id: 'metered',
      source: { type: 'http', path: 'metered', auth: 'none' },
      pipeline: [
        { validate: { schema: { type: 'object', required: ['id'] } } },
        { filter: 'id != "skip"' },
      ],
      destinations: [{ type: 'log' }],
    });
    await eventually(async () =>
      expect(await sample('junction_route_running', { route: 'metered' })).toBe(1),
    );
    const send = (body: unknown) => gw.request('POST', '/ingest/metered', { body });
    for (const id of ['a', 'b', 'c']) expect((await send({ id })).status).toBe(202);
    expect((await send({ id: 'skip' })).status).toBe(202);
    expect((await send({ no: 'id' })).status).toBe(422);
    expect(
      await sample('junction_messages_total', { route: 'metered', outcome: 'delivered' }),
    ).toBe(3);
    expect(await sample('junction_messages_total', { route: 'metered', outcome: 'filtered' })).toBe(
      1,
    );
    expect(
      await sample('junction_messages_total', { route: 'metered', outcome: 'dead-lettered' }),
    ).toBe(1);
    const res = await gw.request('GET', '/metrics');
    expect(res.text).toMatch(/^junction_dead_letters_total\{route="metered",code="[A-Z_]+"\} 1$/m);
    expect(await sample('junction_message_duration_seconds_count', { route: 'metered' })).toBe(5);
    expect(await sample('junction_route_in_flight', { route: 'metered' })).toBe(0);
    // A stopped route is no longer reported as running here.
    expect((await gw.request('POST', '/api/v1/routes/metered/stop', { token: admin })).status).toBe(
      200,
    );
    await eventually(async () =>
      expect(await sample('junction_route_running', { route: 'metered' })).toBeUndefined(),
    );
  });
});
