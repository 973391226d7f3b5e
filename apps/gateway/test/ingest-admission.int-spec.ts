import type { ServerResponse } from 'node:http';
import { startHttpTarget, type HttpTarget } from './http-target';
import { eventually } from './eventually';
import { startTestGateway, TestGateway } from './test-gateway';

/**
 * HTTP ingest's bound on messages in flight per route (JUNCTION_ROUTE_MAX_IN_FLIGHT): past it a
 * caller is told to come back (429 with Retry-After), and nothing already taken is disturbed.
 * Ingest is served by Fastify directly (not Nest's router): the body limit, request ids and the
 * one error shape hold for it all the same.
 */
describe('ingest admission: a saturated route answers 429 with Retry-After', () => {
  let gw: TestGateway;
  let admin: string;
  let target: HttpTarget;
  const held: Array<{ body: string; res: ServerResponse }> = [];

  beforeAll(async () => {
    target = await startHttpTarget((body, res) => held.push({ body, res }));
    gw = await startTestGateway({
      JUNCTION_ROUTE_MAX_IN_FLIGHT: '2',
      JUNCTION_BODY_LIMIT_BYTES: '4096',
    });
    admin = await gw.login('admin', gw.adminPassword);
    await gw.create(admin, '/api/v1/connections', {
      name: 'held',
      type: 'http',
      config: { baseUrl: target.baseUrl },
    });
    await gw.create(admin, '/api/v1/routes', {
      id: 'held',
      source: { type: 'http', path: 'held', auth: 'none' },
      destinations: [{ type: 'http', connection: 'held', path: '/in' }],
    });
  }, 60_000);

  afterAll(async () => {
    for (const { res } of held.splice(0)) res.writeHead(204).end();
    await gw?.close();
    await target?.close();
  });

  it('takes up to the bound, refuses the next with 429 and Retry-After, then takes more once done', async () => {
    const send = (id: string) => gw.request('POST', '/ingest/held', { body: { id } });
    await eventually(async () =>
      expect(
        (await gw.request('GET', '/api/v1/routes/held/status', { token: admin })).body,
      ).toMatchObject({ state: 'running' }),
    );
    const first = [send('a'), send('b')];
    await eventually(async () => expect(held).toHaveLength(2), 5_000);
    const refused = await send('c');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body).toMatchObject({
      message: expect.stringMatching(/too many messages in flight/),
    });
    for (const { res } of held.splice(0)) res.writeHead(204).end();
    for (const res of await Promise.all(first)) expect(res.status).toBe(202);
    const again = send('c');
    await eventually(async () => expect(held).toHaveLength(1), 5_000);
    held.splice(0).forEach(({ res }) => res.writeHead(204).end());
    expect((await again).status).toBe(202);
  });

  it('refuses a body over the limit (413), a method other than POST (400) and an unknown path (404), in the one error shape', async () => {
    const shape = (statusCode: number, error: string, message: RegExp) => ({
      statusCode,
      error,
      message: expect.stringMatching(message),
    });
    const large = await gw.request('POST', '/ingest/held', {
      body: JSON.stringify({ id: 'big', pad: 'x'.repeat(5000) }),
    });
    expect(large.status).toBe(413);
    expect(large.body).toEqual(shape(413, 'Payload Too Large', /too large/i));
    expect(large.headers['x-request-id']).toEqual(expect.any(String));
    const get = await gw.request('GET', '/ingest/held');
    expect(get.status).toBe(400);
    expect(get.body).toEqual(shape(400, 'Bad Request', /takes POST only/));
    expect(get.headers['content-type']).toMatch(/^application\/json/);
    const unknown = await gw.request('POST', '/ingest/no-such-path', { body: { id: 'x' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(shape(404, 'Not Found', /no route takes POST/));
    expect(held).toHaveLength(0);
  });
});
