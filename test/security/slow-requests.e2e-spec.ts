import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createTestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess } from '../gateway-process';

/**
 * A client that sends its request slowly (slowloris): headers, then a body a byte at a time, or
 * never the rest of it. Fastify set no limit on the time a request may take, so each such
 * connection, and the part of the body it had sent (up to the body limit, 1 MiB), stayed for
 * ever: a few thousand of them, from anyone who can reach the port, held gigabytes. The gateway
 * runs here with a request time limit of 1 s (JUNCTION_REQUEST_TIMEOUT_MS).
 */
jest.setTimeout(90_000);

describe('security: slow requests', () => {
  let db: { url: string; drop(): Promise<void> };
  let gateway: GatewayProcess;
  let target: Server;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // A destination that answers after 3 s: longer than the request limit, which must not count
    // the time the gateway takes to answer a request it has received whole.
    target = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          res.setHeader('content-type', 'application/json');
          res.end('{"answer":"late"}');
        }, 3_000),
      );
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    db = await createTestDatabase('sec_slow');
    gateway = new GatewayProcess(await freePort(), db.url, {
      JUNCTION_REQUEST_TIMEOUT_MS: '1000',
    });
    await gateway.start();
  }, 120_000);

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await gateway?.stop().catch(() => undefined);
    await db?.drop();
    await new Promise((resolve) => target?.close(resolve));
  }, 60_000);

  /** Opens a connection, sends `head` and then nothing more; collects what comes back. */
  async function stall(head: string): Promise<{ received: () => string; closed: () => boolean }> {
    const socket = connect(gateway.port, '127.0.0.1');
    sockets.push(socket);
    let received = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(head);
    return { received: () => received, closed: () => closed };
  }

  it('answers 408 and closes a connection whose body does not come in time', async () => {
    const slow = await stall(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        'Content-Length: 100000\r\n\r\n{"username":',
    );
    await eventually(
      () => {
        if (!slow.closed()) throw new Error('still open');
      },
      30_000,
      'the slow connection closed',
    );
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection whose headers do not end in time', async () => {
    const slow = await stall('POST /ingest/anything HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1');
    await eventually(
      () => {
        if (!slow.closed()) throw new Error('still open');
      },
      30_000,
      'the slow connection closed',
    );
  });

  it('still waits longer than the limit for an answer to a request it has received', async () => {
    const { port } = target.address() as AddressInfo;
    expect(
      (
        await gateway.api('POST', '/connections', {
          name: 'late-target',
          type: 'http',
          config: { baseUrl: `http://127.0.0.1:${port}` },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await gateway.api('POST', '/routes', {
          id: 'late-reply',
          source: { type: 'http', path: 'late', mode: 'sync', auth: 'none', timeoutMs: 10_000 },
          destinations: [{ type: 'http', connection: 'late-target', path: '/', reply: true }],
        })
      ).status,
    ).toBe(201);
    const res = await eventually(async () => {
      const answer = await fetch(`${gateway.base}/ingest/late`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"id":"o-1"}',
      });
      if (answer.status === 404 || answer.status === 503) throw new Error(`${answer.status}`);
      return answer;
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ answer: 'late' });
  });
});
