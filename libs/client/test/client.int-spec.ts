/**
 * @junction/client against the real gateway, in process on a socket of its own with a fresh
 * database: signing in with a token and with an API key, typed calls, cursor paging, errors as
 * ApiError with the server's body, a streamed export, and the client's OpenAPI document the same
 * as the one the gateway serves (so a drift fails here as well as in `npm run build`).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { DeadLettersRepository } from '@junction/runtime';
import {
  ApiError,
  createJunctionClient,
  NetworkError,
  textBody,
  type JunctionClient,
  type Middleware,
} from '@junction/client';
import { startTestGateway, TestGateway } from '../../../apps/gateway/test/test-gateway';

const route = (id: string) => `id: ${id}
source: { type: http, path: in/${id}, auth: none, mode: sync }
pipeline:
  - transform: '{ "id": id }'
destinations:
  - type: log
`;

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('@junction/client against the gateway', () => {
  let gw: TestGateway;
  let baseUrl: string;
  let token: string;
  let admin: JunctionClient;

  beforeAll(async () => {
    gw = await startTestGateway();
    await gw.app.listen(0, '127.0.0.1');
    const { port } = gw.app.getHttpServer().address() as { port: number };
    baseUrl = `http://127.0.0.1:${port}`;
  }, 60_000);

  // Closing waits for the sockets and drops the database: more than jest's 5 s on a busy machine.
  afterAll(async () => {
    await gw?.close();
  }, 30_000);

  it('serves the OpenAPI document the client was generated from', async () => {
    const served = await (await fetch(`${baseUrl}/openapi.json`)).json();
    const kept = JSON.parse(readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8'));
    // On a difference: `npm run build && npm run client:generate`, then commit.
    expect(served).toEqual(kept);
  });

  it('signs in with a token', async () => {
    const anonymous = createJunctionClient({ baseUrl });
    const session = await anonymous.data(
      anonymous.POST('/api/v1/auth/login', {
        body: { username: 'admin', password: gw.adminPassword },
      }),
    );
    token = session.token;
    admin = createJunctionClient({ baseUrl, token });
    const me = await admin.data(admin.GET('/api/v1/auth/me'));
    expect(me).toMatchObject({ name: 'admin', roles: ['admin'] });
  });

  it('creates routes (YAML as written) and lists them with an API key', async () => {
    for (const id of ['alpha', 'beta'])
      await admin.data(admin.POST('/api/v1/routes', textBody(route(id), 'application/yaml')));
    const created = await admin.data(
      admin.POST('/api/v1/api-keys', { body: { name: 'sdk-test', roles: ['viewer'] } }),
    );
    const viewer = createJunctionClient({ baseUrl, apiKey: created.key });
    const routes = await viewer.data(viewer.GET('/api/v1/routes'));
    expect(routes.map((r) => r.id).sort()).toEqual(['alpha', 'beta']);
    const yaml = await viewer.data(
      viewer.GET('/api/v1/routes/{id}', {
        params: { path: { id: 'alpha' }, query: { format: 'yaml' } },
        parseAs: 'text',
      }),
    );
    expect(yaml).toBe(route('alpha'));
  });

  it('pages dead letters with the cursor iterator, page after page', async () => {
    const store = gw.app.get(DeadLettersRepository, { strict: false });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++)
      ids.push(
        await store.park({
          messageId: `m-${i}`,
          routeId: 'alpha',
          routeVersion: 1,
          source: { type: 'http', name: 'alpha' },
          reasonCode: 'TRANSFORM_FAILED',
          reason: `failed #${i}`,
          attempts: 1,
          payload: Buffer.from('{}'),
          headers: {},
        }),
      );
    const pages: string[] = [];
    const counting: Middleware = {
      onRequest({ request }) {
        pages.push(new URL(request.url).searchParams.get('cursor') ?? 'first');
      },
    };
    const api = createJunctionClient({ baseUrl, token, middleware: [counting] });
    const seen: string[] = [];
    for await (const letter of api.paginate('/api/v1/dead-letters', {
      query: { routeId: 'alpha', limit: 3 },
    }))
      seen.push(letter.id);
    expect(seen.sort()).toEqual([...ids].sort());
    // 3 + 3 + 1: the last page is not full, so it carries no cursor.
    expect(pages).toHaveLength(3);
    expect(pages[0]).toBe('first');
  });

  it('pages audit events with the same iterator (the cursor in the page)', async () => {
    const query = { type: 'route.created', targetType: 'route' as const };
    // The audit writer commits in groups: wait until both creations are in the trail.
    const deadline = Date.now() + 10_000;
    let all = await admin.data(admin.GET('/api/v1/audit/events', { params: { query } }));
    while (all.items.length < 2 && Date.now() < deadline)
      all = await admin.data(admin.GET('/api/v1/audit/events', { params: { query } }));
    const seen: string[] = [];
    for await (const event of admin.paginate('/api/v1/audit/events', {
      query: { ...query, limit: 1 },
    }))
      seen.push(event.id);
    expect(seen).toEqual(all.items.map((e) => e.id));
    expect(seen).toHaveLength(2);
  });

  it('an error is an ApiError with the server body, and never shows the credential', async () => {
    const missing = await admin
      .data(admin.GET('/api/v1/routes/{id}', { params: { path: { id: 'nope' } } }))
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect(missing).toMatchObject({
      status: 404,
      body: { statusCode: 404, error: 'Not Found' },
      request: { method: 'GET', path: '/api/v1/routes/nope' },
    });
    const invalid = await admin
      .data(admin.POST('/api/v1/routes', textBody(route('Bad Id'), 'application/yaml')))
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({
      status: 400,
      body: {
        details: {
          problems: expect.arrayContaining([expect.objectContaining({ pointer: '/id' })]),
        },
      },
    });
    for (const err of [missing, invalid] as ApiError[]) {
      for (const text of [err.message, String(err.stack), inspect(err), JSON.stringify(err)])
        expect(text).not.toContain(token);
    }
    const stale = createJunctionClient({ baseUrl, token: `${token}x` });
    const refused = await stale.data(stale.GET('/api/v1/auth/me')).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 401 });
    expect(inspect(refused)).not.toContain(token);
  });

  it('an unreachable gateway is a NetworkError naming it, without the credential', async () => {
    const port = await closedPort();
    const api = createJunctionClient({ baseUrl: `http://127.0.0.1:${port}`, token });
    const err = await api.data(api.GET('/api/v1/routes')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toBe(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED`);
    expect(inspect(err)).not.toContain(token);
  });

  it('never carries the credential to where a redirect points: the redirect is the answer', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const elsewhere = createHttpServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    const redirecting = createHttpServer((req, res) => {
      const { port } = elsewhere.address() as { port: number };
      res.writeHead(307, { location: `http://127.0.0.1:${port}${req.url}` }).end();
    });
    for (const server of [elsewhere, redirecting])
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = redirecting.address() as { port: number };
      const apiKey = `jk_0123456789ab_${'k'.repeat(32)}`;
      for (const credential of [{ apiKey }, { token }]) {
        const api = createJunctionClient({ baseUrl: `http://127.0.0.1:${port}`, ...credential });
        const err = await api.data(api.GET('/api/v1/routes')).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ApiError);
        expect(err).toMatchObject({ status: 307 });
      }
      expect(seen).toEqual([]);
    } finally {
      for (const server of [elsewhere, redirecting])
        await new Promise((resolve) => server.close(resolve));
    }
  });

  it('streams an audit export', async () => {
    const download = await admin.auditExport({ format: 'ndjson', kind: 'events' });
    expect(download.contentType).toContain('ndjson');
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>)
      text += decoder.decode(chunk, { stream: true });
    const events = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string });
    expect(events.map((e) => e.type)).toContain('apikey.created');
  });
});
