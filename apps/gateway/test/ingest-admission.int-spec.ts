import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from './eventually';
import { startTestGateway, TestGateway } from './test-gateway';

/**
 * HTTP ingest's bound on messages in flight per route (JUNCTION_ROUTE_MAX_IN_FLIGHT): past it a
 * caller is told to come back (429 with Retry-After), and nothing already taken is disturbed.
 */
describe('ingest admission: a saturated route answers 429 with Retry-After', () => {
  let gw: TestGateway;
  let admin: string;
  let server: Server;
  const held: Array<{ body: string; res: ServerResponse }> = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => held.push({ body: Buffer.concat(chunks).toString(), res }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    gw = await startTestGateway({ JUNCTION_ROUTE_MAX_IN_FLIGHT: '2' });
    admin = await gw.login('admin', gw.adminPassword);
    const port = (server.address() as AddressInfo).port;
    await gw.create(admin, '/api/v1/connections', {
      name: 'held',
      type: 'http',
      config: { baseUrl: `http://127.0.0.1:${port}` },
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
    await new Promise((resolve) => server.close(resolve));
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
});
