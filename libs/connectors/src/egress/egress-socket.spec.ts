import { createServer, type Server, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { egressConnector } from '../http/http-egress';
import { EgressPolicy } from './egress-policy';
import { egressSocketFactory } from './egress-socket';

/** Listeners on 127.0.0.1 and 127.0.0.2 that count the connections they accept. */
interface Listener {
  port: number;
  accepted: number;
  close(): Promise<void>;
}

async function listen(host: string, port = 0, http = false): Promise<Listener> {
  const sockets = new Set<Socket>();
  const listener: Listener = { port, accepted: 0, close: () => Promise.resolve() };
  const server: Server = createServer((socket) => {
    listener.accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    if (http)
      socket.once('data', () => socket.end('HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(port, host, () => resolve()));
  listener.port = (server.address() as { port: number }).port;
  listener.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return listener;
}

/** Connects with the factory; resolves 'connected' or the error's message. */
function connectWith(policy: EgressPolicy, host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = egressSocketFactory(policy)({
      host,
      port,
      ssl: undefined,
      onConnect: () => {
        socket.destroy();
        resolve('connected');
      },
    });
    socket.on('error', (err) => resolve(err.message));
  });
}

describe('egress at connect time (kafkajs sockets, undici connector)', () => {
  let one: Listener;
  let two: Listener;

  beforeAll(async () => {
    one = await listen('127.0.0.1', 0, true);
    // The same port on 127.0.0.2, so that only the address tells them apart.
    two = await listen('127.0.0.2', one.port, true);
  });

  afterAll(async () => {
    await Promise.all([one.close(), two.close()]);
  });

  it('connects only to allowed addresses; a refused one is never connected to', async () => {
    const strict = new EgressPolicy([`127.0.0.2:${one.port}`], { strict: true });
    const before = [one.accepted, two.accepted];
    expect(await connectWith(strict, '127.0.0.2', one.port)).toBe('connected');
    expect(await connectWith(strict, '127.0.0.1', one.port)).toMatch(/not on the allowlist/);
    // localhost resolves to 127.0.0.1 (and ::1): the name gets no further than its addresses.
    expect(await connectWith(strict, 'localhost', one.port)).toMatch(/not on the allowlist/);
    expect(await connectWith(strict, '2130706433', one.port)).toMatch(/not on the allowlist/);
    expect(await connectWith(EgressPolicy.permissive(), '2852039166', 80)).toMatch(/link-local/);
    expect([one.accepted - before[0], two.accepted - before[1]]).toEqual([0, 1]);
  });

  it('undici goes through the same checks, for address literals and names', async () => {
    const strict = new EgressPolicy([`127.0.0.2:${one.port}`], { strict: true });
    const agent = new Agent({ connect: egressConnector(strict, { timeout: 2000 }) });
    const before = [one.accepted, two.accepted];
    try {
      const ok = await request(`http://127.0.0.2:${one.port}/`, { dispatcher: agent });
      await ok.body.dump();
      expect(ok.statusCode).toBe(204);
      for (const host of ['127.0.0.1', 'localhost', '0x7f000001'])
        await expect(
          request(`http://${host}:${one.port}/`, { dispatcher: agent }),
        ).rejects.toMatchObject({ code: 'NOT_ALLOWED' });
    } finally {
      await agent.close();
    }
    expect([one.accepted - before[0], two.accepted - before[1]]).toEqual([0, 1]);
  });
});
