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
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await target?.close();
  });

  it('refuses a connection to a host that is not listed, pointing at its field, and calls nothing', async () => {
    const res = await gw.request('POST', '/api/v1/connections', {
      token: admin,
      body: { name: 'erp', type: 'http', config: { baseUrl: target.baseUrl } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      details: {
        code: 'EGRESS_REFUSED',
        problems: [
          {
            pointer: '/config/baseUrl',
            message: expect.stringContaining('is not on the allowlist'),
          },
        ],
      },
    });
    expect(hits).toBe(0);
  });

  it('takes a connection to a listed host (the old variables are aliases of JUNCTION_EGRESS_*)', async () => {
    await gw.create(admin, '/api/v1/connections', {
      name: 'listed',
      type: 'http',
      config: { baseUrl: 'http://127.0.0.2:9' },
    });
  });
});
