import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { UsersService } from '@junction/auth';
import type { ReplayClock } from '@junction/runtime';
import { createTestDatabase } from '@junction/database';
import { loadGatewayConfig } from '../src/config';
import { createGateway } from '../src/main';

// In-process gateways log nothing unless asked (`LOG_LEVEL=debug npx jest ...`): a passing run
// stays quiet. Set before the gateway's logger is first made.
if (!process.env.LOG_LEVEL && !process.env.JUNCTION_LOG) process.env.LOG_LEVEL = 'silent';

export interface TestResponse {
  status: number;
  body: unknown;
  text: string;
  /** The reply's bytes as they came (`text` is them read as UTF-8). */
  raw: Buffer;
  headers: Record<string, unknown>;
}

export interface TestGateway {
  app: NestFastifyApplication;
  databaseUrl: string;
  masterKey: Buffer;
  adminPassword: string;
  request(
    method: string,
    url: string,
    options?: { token?: string; apiKey?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<TestResponse>;
  login(username: string, password: string): Promise<string>;
  /** POSTs `body` to the API as `token` and fails unless it was created (201). */
  create(token: string, url: string, body: unknown): Promise<TestResponse>;
  close(): Promise<void>;
}

/**
 * The whole gateway in-process, on a fresh database of its own on the real Postgres, with the
 * real migrations, driven through Fastify's request injection (the full HTTP pipeline minus the socket).
 */
export async function startTestGateway(
  env: Record<string, string> = {},
  shared?: { databaseUrl: string; masterKey?: Buffer },
  /** Fixed parts of the runtime a test must know, e.g. the retry jitter (to know a retry's wait). */
  testing: { retryJitter?: () => number; replayClock?: ReplayClock } = {},
): Promise<TestGateway> {
  // A second gateway may share the first one's database (several processes, one Postgres).
  const db = shared
    ? { url: shared.databaseUrl, drop: () => Promise.resolve() }
    : await createTestDatabase('api');
  // Every request comes from one address here: sign-in limits far above what a test does.
  const config = loadGatewayConfig({
    JUNCTION_LOGIN_SOURCE_FAILURES: '100000',
    JUNCTION_LOGIN_ACCOUNT_FAILURES: '1000',
    ...env,
  });
  // Processes sharing a database share its master key (it seals the secrets stored there).
  const masterKey = shared?.masterKey ?? randomBytes(32);
  let app: NestFastifyApplication | undefined;
  try {
    app = await createGateway(config, db.url, masterKey, testing);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (err) {
    await app?.close();
    await db.drop();
    throw err;
  }
  const adminPassword = `admin-${randomBytes(9).toString('base64url')}`;
  if (!shared) await app.get(UsersService).ensureAdmin('admin', adminPassword);
  const running = app;
  const request: TestGateway['request'] = async (method, url, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.apiKey) headers['x-api-key'] = options.apiKey;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await running
      .getHttpAdapter()
      .getInstance()
      .inject({ method: method as 'GET', url, headers, payload });
    let body: unknown = undefined;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      body = res.body;
    }
    return {
      status: res.statusCode,
      body,
      text: res.body,
      raw: res.rawPayload,
      headers: res.headers,
    };
  };
  return {
    app: running,
    databaseUrl: db.url,
    masterKey,
    adminPassword,
    request,
    async login(username, password) {
      const res = await request('POST', '/api/v1/auth/login', { body: { username, password } });
      if (res.status !== 200)
        throw new Error(`login ${username} failed: ${res.status} ${res.text}`);
      return (res.body as { token: string }).token;
    },
    async create(token, url, body) {
      const res = await request('POST', url, { token, body });
      if (res.status !== 201) throw new Error(`POST ${url}: ${res.status} ${res.text}`);
      return res;
    },
    async close() {
      await running.close();
      await db.drop();
    },
  };
}
