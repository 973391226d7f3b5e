import { startHttpTarget, type HttpTarget } from './http-target';
import { startTestGateway, TestGateway } from './test-gateway';

/**
 * JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS=false: the allowlist is the only authority, so an editor
 * who stores a connection cannot make the gateway call a host the operator did not list.
 */
describe('HTTP destinations with JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS=false', () => {
  let gw: TestGateway;
  let admin: string;
  let target: HttpTarget;
  let hits = 0;

  beforeAll(async () => {
    target = await startHttpTarget((_body, res) => {
      hits += 1;
      res.writeHead(204).end();
    });
    // 127.0.0.2 is listed; the target, 127.0.0.1:<port>, is not.
    gw = await startTestGateway({
      JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS: 'false',
      JUNCTION_HTTP_ALLOW_HOSTS: '127.0.0.2',
    });
    admin = await gw.login('admin', gw.adminPassword);
    await gw.create(admin, '/api/v1/connections', {
      name: 'erp',
      type: 'http',
      config: { baseUrl: target.baseUrl },
    });
    await gw.create(admin, '/api/v1/routes', {
      id: 'to-erp',
      source: { type: 'http', path: 'to-erp', auth: 'none' },
      destinations: [{ type: 'http', connection: 'erp', path: '/orders' }],
      errors: { retry: { attempts: 1 } },
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await target?.close();
  });

  it("does not call the connection's own host unless it is listed: the message is dead-lettered", async () => {
    const res = await gw.request('POST', '/ingest/to-erp', { body: { id: 'o-1' } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'dead-lettered' });
    expect(hits).toBe(0);
    const letters = await gw.request('GET', '/api/v1/dead-letters?routeId=to-erp', {
      token: admin,
    });
    expect(JSON.stringify(letters.body)).toContain('is not on the allowlist');
  });
});
