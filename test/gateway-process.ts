import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Spawned, spawnNode } from './process';

export { freePort } from './process';

// From test/ under ts-jest; from dist/test/ when a bench (compiled) drives the gateway.
const ROOT = existsSync(join(__dirname, '..', 'bin', 'gateway.js'))
  ? join(__dirname, '..')
  : join(__dirname, '..', '..');
export const ADMIN_PASSWORD = 'gateway-admin-password';
export const MASTER_KEY = randomBytes(32).toString('hex');
/**
 * For tests that kill a gateway reading Kafka: its partitions move to the next member after 10 s
 * instead of the default 30 s (JUNCTION_KAFKA_SESSION_TIMEOUT_MS), so a restart resumes sooner.
 */
export const KAFKA_FAILOVER_ENV = { JUNCTION_KAFKA_SESSION_TIMEOUT_MS: '10000' };

/**
 * Random hex for a W3C trace or span id, every eighth digit an f: a run of 13 decimal digits
 * could spell a card number, and the gateway takes such an id for no trace id at all.
 */
export function traceHex(bytes: number): string {
  return randomBytes(bytes)
    .toString('hex')
    .replace(/(.{7})./g, '$1f');
}

export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what} not reached in ${timeoutMs} ms: ${(last as Error)?.message ?? last}`);
}

/** The built gateway as a process on a database of the test's, driven over HTTP as a user would. */
export class GatewayProcess {
  process?: Spawned;
  token = '';
  constructor(
    readonly port: number,
    private readonly databaseUrl: string,
    /** More settings (they win over the defaults above). */
    private readonly env: Record<string, string> = {},
    /** The checkout whose bin/gateway.js runs (a bench may compare two builds). */
    private readonly root: string = ROOT,
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.process = spawnNode(
      ['bin/gateway.js'],
      {
        DATABASE_URL: this.databaseUrl,
        JUNCTION_MASTER_KEY: MASTER_KEY,
        JUNCTION_ADMIN_PASSWORD: ADMIN_PASSWORD,
        JUNCTION_SEED_DEMO: 'false',
        PORT: String(this.port),
        JUNCTION_LOG: 'silent',
        ...this.env,
      },
      this.root,
    );
    await this.process.waitFor(/listening on/, 60_000);
    const res = await fetch(`${this.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    this.token = ((await res.json()) as { token: string }).token;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.process?.child.kill(signal);
    await this.process?.exited();
  }

  /** SIGTERM: the gateway's graceful stop. Resolves with its exit code. */
  async stop(): Promise<number | null> {
    this.process?.child.kill('SIGTERM');
    return (await this.process?.exited()) ?? null;
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Messages this process's worker of a route has delivered so far. */
  async processed(routeId: string): Promise<number> {
    return ((await this.api('GET', `/routes/${routeId}/status`)).body as { processed: number })
      .processed;
  }

  /** Waits until this process has delivered at least `count` messages on a route. */
  async waitProcessed(routeId: string, count: number, timeoutMs = 60_000): Promise<void> {
    await eventually(
      async () => {
        const n = await this.processed(routeId);
        if (n < count) throw new Error(`processed ${n}`);
      },
      timeoutMs,
      `${count} messages processed on ${routeId}`,
    );
  }
}
