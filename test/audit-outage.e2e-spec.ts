import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, Server, Socket, connect } from 'node:net';
import * as amqp from 'amqplib';
import { Client } from 'pg';
import { createTestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess } from './gateway-process';

/**
 * Postgres goes away mid-stream (a proxy in front of it, cut and restored): the route stops
 * taking messages instead of acknowledging any without its audit record, and once Postgres is
 * back every message is delivered and audited.
 */
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const RUN = `o${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

/** A TCP proxy to Postgres that can be cut (every socket closed, new ones refused) and restored. */
class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private cut = false;
  readonly server: Server = createServer((client) => {
    if (this.cut) return client.destroy();
    const upstream = connect(5432, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });

  listen(port: number): Promise<void> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  sever(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  close(): Promise<void> {
    this.sever();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function queueCounts(queue: string): { ready: number; unacked: number } {
  const out = execFileSync(
    'rabbitmqctl',
    [
      'list_queues',
      '-q',
      '--no-table-headers',
      'name',
      'messages_ready',
      'messages_unacknowledged',
    ],
    { encoding: 'utf8' },
  );
  const line = out.split('\n').find((l) => l.split(/\s+/)[0] === queue);
  const [, ready, unacked] = (line ?? `${queue} 0 0`).trim().split(/\s+/);
  return { ready: Number(ready), unacked: Number(unacked) };
}

describe('audit outage: Postgres down mid-stream', () => {
  const proxy = new CuttableProxy();
  let db: { url: string; drop(): Promise<void> };
  let gateway: GatewayProcess;
  let connection: amqp.ChannelModel;

  beforeAll(async () => {
    db = await createTestDatabase('outage');
    const port = await freePort();
    await proxy.listen(port);
    const viaProxy = new URL(db.url);
    viaProxy.port = String(port);
    gateway = new GatewayProcess(await freePort(), viaProxy.toString());
    await gateway.start();
    connection = await amqp.connect(AMQP_URL);
  }, 120_000);

  afterAll(async () => {
    await gateway?.kill('SIGTERM').catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await proxy.close();
    await db?.drop();
  }, 60_000);

  it('holds messages while the audit cannot be written, then delivers and audits every one', async () => {
    const queue = `${RUN}.in`;
    const out = `${RUN}.out`;
    const routeId = `${RUN}-route`;
    expect(
      (
        await gateway.api('POST', '/connections', {
          name: 'rabbit',
          type: 'amqp',
          config: { url: 'amqp://guest@127.0.0.1:5672' },
          secrets: { password: 'guest' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await gateway.api('POST', '/routes', {
          id: routeId,
          source: { type: 'amqp', connection: 'rabbit', queue, prefetch: 20 },
          pipeline: [],
          destinations: [{ type: 'amqp', connection: 'rabbit', queue: out }],
        })
      ).status,
    ).toBe(201);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    const ids = Array.from({ length: 1500 }, (_, i) => `${RUN}-${i}`);
    for (const id of ids)
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ id })), {
        messageId: id,
        persistent: true,
      });
    await channel.waitForConfirms();
    await eventually(
      () => {
        if (queueCounts(queue).ready > 1400) throw new Error('not consuming yet');
      },
      60_000,
      'consumption started',
    );

    proxy.sever();
    // Nothing more is acknowledged while the audit trail is unreachable: the route's prefetch
    // window fills with messages waiting for their records, and the queue stops draining.
    await new Promise((r) => setTimeout(r, 1500));
    const during = queueCounts(queue);
    await new Promise((r) => setTimeout(r, 2000));
    const later = queueCounts(queue);
    expect(later.ready).toBe(during.ready);
    expect(later.unacked).toBeGreaterThan(0);
    expect(later.ready).toBeGreaterThan(0);

    proxy.restore();
    const seen = new Set<string>();
    const reader = await connection.createChannel();
    await reader.assertQueue(out, { durable: true });
    await reader.consume(out, (msg) => {
      if (!msg) return;
      seen.add(String(msg.properties.messageId));
      reader.ack(msg);
    });
    await eventually(
      () => {
        if (seen.size < ids.length) throw new Error(`${seen.size} of ${ids.length}`);
      },
      120_000,
      'every message delivered',
    );
    await eventually(
      () => {
        const { ready, unacked } = queueCounts(queue);
        if (ready + unacked > 0) throw new Error(`${ready} ready, ${unacked} unacked`);
      },
      60_000,
      'source queue drained',
    );
    // Every message has its audit record.
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ n: string }>(
        `SELECT count(DISTINCT message_id) AS n FROM audit_messages WHERE route_id = $1`,
        [routeId],
      );
      expect(Number(rows[0].n)).toBe(ids.length);
    } finally {
      await pg.end();
    }
    await reader.close();
    await channel.close();
  }, 300_000);
});
