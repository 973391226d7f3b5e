/**
 * The OpenAPI document the gateway serves at /openapi.json (and the UI at /docs), checked
 * against the controllers the app really registered and against the answers it really gives.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ROUTE_SCHEMA } from '@junction/connectors';
import { registeredEndpoints } from './registered-endpoints';
import { startTestGateway, TestGateway } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';

type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  security?: Record<string, string[]>[];
}

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Partial<Record<HttpMethod, Operation>>>;
  components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
}

/**
 * Every route the controllers declare under /api/v1 (Nest's `:param` syntax), and whether the
 * handler takes a `@Body()`.
 */
const API_ROUTES: Record<string, { body: boolean; isPublic?: boolean }> = {
  'POST /api/v1/auth/login': { body: true, isPublic: true },
  'POST /api/v1/auth/logout': { body: false },
  'POST /api/v1/auth/logout-everywhere': { body: false },
  'POST /api/v1/auth/password': { body: true },
  'GET /api/v1/auth/oidc/login': { body: false, isPublic: true },
  'GET /api/v1/auth/oidc/callback': { body: false, isPublic: true },
  'GET /api/v1/sessions': { body: false },
  'DELETE /api/v1/sessions/:id': { body: false },
  'GET /api/v1/audit/messages': { body: false },
  'GET /api/v1/audit/messages/:id': { body: false },
  'GET /api/v1/audit/events': { body: false },
  'GET /api/v1/audit/export': { body: false },
  'GET /api/v1/audit/verify': { body: false },
  'GET /api/v1/audit/verify/report': { body: false },
  'GET /api/v1/audit/searches': { body: false },
  'POST /api/v1/audit/searches': { body: true },
  'DELETE /api/v1/audit/searches/:id': { body: false },
  'GET /api/v1/dead-letters': { body: false },
  'GET /api/v1/dead-letters/counts': { body: false },
  'GET /api/v1/stats': { body: false },
  'GET /api/v1/audit/chain-status': { body: false },
  'POST /api/v1/dead-letters/preview': { body: true },
  'POST /api/v1/dead-letters/replay-jobs': { body: true },
  'GET /api/v1/dead-letters/replay-jobs': { body: false },
  'GET /api/v1/dead-letters/replay-jobs/:id': { body: false },
  'POST /api/v1/dead-letters/replay-jobs/:id/cancel': { body: false },
  'GET /api/v1/dead-letters/:id': { body: false },
  'POST /api/v1/dead-letters/:id/replay': { body: false },
  'DELETE /api/v1/dead-letters/:id': { body: false },
  'GET /api/v1/auth/me': { body: false },
  'GET /api/v1/auth/providers': { body: false, isPublic: true },
  'GET /api/v1/users': { body: false },
  'POST /api/v1/users': { body: true },
  'GET /api/v1/users/:id': { body: false },
  'PATCH /api/v1/users/:id': { body: true },
  'DELETE /api/v1/users/:id': { body: false },
  'GET /api/v1/api-keys': { body: false },
  'POST /api/v1/api-keys': { body: true },
  'DELETE /api/v1/api-keys/:id': { body: false },
  'GET /api/v1/connections': { body: false },
  'POST /api/v1/connections': { body: true },
  'GET /api/v1/connections/:name': { body: false },
  'PUT /api/v1/connections/:name': { body: true },
  'DELETE /api/v1/connections/:name': { body: false },
  'GET /api/v1/connections/:name/impact': { body: false },
  'GET /api/v1/connections/:name/names': { body: false },
  'POST /api/v1/connections/:name/test': { body: false },
  'POST /api/v1/routes/validate': { body: true },
  'GET /api/v1/routes': { body: false },
  'POST /api/v1/routes': { body: true },
  'GET /api/v1/routes/:id': { body: false },
  'PUT /api/v1/routes/:id': { body: true },
  'DELETE /api/v1/routes/:id': { body: false },
  'GET /api/v1/routes/:id/versions': { body: false },
  'GET /api/v1/routes/:id/versions/:version': { body: false },
  'POST /api/v1/routes/:id/versions/:version/activate': { body: true },
  'POST /api/v1/routes/:id/start': { body: false },
  'POST /api/v1/routes/:id/stop': { body: false },
  'POST /api/v1/routes/:id/test': { body: true },
  'GET /api/v1/routes/:id/status': { body: false },
  'POST /api/v1/routes/test': { body: true },
  'POST /api/v1/expressions/evaluate': { body: true },
  'GET /api/v1/routes/:id/samples': { body: false },
  'PUT /api/v1/routes/:id/samples/:name': { body: true },
  'DELETE /api/v1/routes/:id/samples/:name': { body: false },
};
/** Documented too, outside /api/v1 (ingest by hand: its handler is a catch-all). */
const OTHER_DOCUMENTED = ['GET /health/live', 'GET /health/ready', 'POST /ingest/:path'];
/** Operations whose body is a route document: they reference the RouteDocument component. */
const TAKES_ROUTE_DOCUMENT = [
  'POST /api/v1/routes/validate',
  'POST /api/v1/routes',
  'PUT /api/v1/routes/:id',
];

/** `GET /api/v1/routes/:id` -> ['get', '/api/v1/routes/{id}'] */
function openApiKey(route: string): [HttpMethod, string] {
  const [method, path] = route.split(' ');
  return [method.toLowerCase() as HttpMethod, path.replace(/:(\w+)/g, '{$1}')];
}

function operations(doc: OpenApiDoc): [string, Operation][] {
  const out: [string, Operation][] = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const)
      if (item[method]) out.push([`${method.toUpperCase()} ${path}`, item[method]]);
  return out;
}

let gateway: TestGateway;
let doc: OpenApiDoc;
let adminToken: string;

beforeAll(async () => {
  gateway = await startTestGateway();
  adminToken = await gateway.login('admin', gateway.adminPassword);
  const res = await gateway.request('GET', '/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body as OpenApiDoc;
}, 60_000);

afterAll(async () => {
  await gateway?.close();
});

describe('GET /openapi.json', () => {
  it('is public JSON', async () => {
    const res = await gateway.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  });

  it('says nothing in OpenAPI 3.0 terms (no `nullable`)', () => {
    const found: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`));
      else if (node && typeof node === 'object')
        for (const [k, v] of Object.entries(node)) {
          if (k === 'nullable' && typeof v === 'boolean') found.push(at);
          walk(v, `${at}/${k}`);
        }
    };
    walk(doc, '#');
    expect(found).toEqual([]);
  });
});

describe('the operations', () => {
  it('the route list in this test is what the app registered under /api/v1', () => {
    expect(Object.keys(registeredEndpoints(gateway.app)).sort()).toEqual(
      Object.keys(API_ROUTES).sort(),
    );
  });

  it('documents every registered route with its method, and nothing else', () => {
    const expected = [...Object.keys(API_ROUTES), ...OTHER_DOCUMENTED].map((r) =>
      openApiKey(r).join(' '),
    );
    const documented = operations(doc).map(([key]) => {
      const [method, path] = key.split(' ');
      return `${method.toLowerCase()} ${path}`;
    });
    expect(documented.sort()).toEqual(expected.sort());
    for (const route of Object.keys(API_ROUTES)) {
      const [method, path] = openApiKey(route);
      expect({ route, documented: Boolean(doc.paths[path]?.[method]) }).toEqual({
        route,
        documented: true,
      });
    }
  });

  it('every operation has a 2xx with a schema (204: no content) and a 4XX error response', () => {
    const problems: string[] = [];
    for (const [key, op] of operations(doc)) {
      const responses = op.responses ?? {};
      const success = Object.keys(responses).filter((code) => /^2(\d\d|XX)$/.test(code));
      // The OIDC login answers with a redirect to the provider, documented as 302.
      if (success.length === 0 && !responses['302']) problems.push(`${key}: no 2xx response`);
      for (const code of success) {
        const content = responses[code].content;
        if (code === '204') {
          if (content) problems.push(`${key}: 204 with content`);
        } else if (key.includes('/audit/export')) {
          // A streamed export: CSV or NDJSON, not JSON.
          if (!content?.['text/csv'] || !content?.['application/x-ndjson'])
            problems.push(`${key}: export formats not documented`);
        } else if (!content?.['application/json']?.schema) {
          problems.push(`${key}: ${code} without an application/json schema`);
        }
      }
      const error = responses['4XX']?.content?.['application/json']?.schema;
      if (!error) problems.push(`${key}: no 4XX response with a schema`);
      else if (JSON.stringify(error) !== JSON.stringify({ $ref: '#/components/schemas/ErrorDto' }))
        problems.push(`${key}: 4XX is not the ErrorDto shape`);
    }
    expect(problems).toEqual([]);
  });

  it('the error shape is {statusCode, error, message, details?}', () => {
    expect(doc.components.schemas.ErrorDto).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['statusCode', 'error', 'message']),
      properties: {
        statusCode: expect.anything(),
        error: expect.anything(),
        message: expect.anything(),
        details: expect.anything(),
      },
    });
  });

  it('request bodies of POST/PUT/PATCH operations have a schema', () => {
    const problems: string[] = [];
    for (const [route, { body }] of Object.entries(API_ROUTES)) {
      const [method, path] = openApiKey(route);
      const op = doc.paths[path]?.[method];
      if (!op || !['post', 'put', 'patch'].includes(method)) continue;
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (body && !schema) problems.push(`${route}: body without a schema`);
      if (!body && op.requestBody) problems.push(`${route}: documents a body it does not take`);
    }
    expect(problems).toEqual([]);
    for (const route of TAKES_ROUTE_DOCUMENT) {
      const [method, path] = openApiKey(route);
      expect({
        route,
        schema: doc.paths[path][method]!.requestBody!.content!['application/json'].schema,
      }).toEqual({ route, schema: { $ref: '#/components/schemas/RouteDocument' } });
    }
  });

  it('guarded operations name their security schemes; public ones none', () => {
    expect(doc.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    });
    for (const [route, { isPublic }] of Object.entries(API_ROUTES)) {
      const [method, path] = openApiKey(route);
      const security = doc.paths[path][method]!.security ?? [];
      const schemes = security.flatMap((s) => Object.keys(s));
      if (isPublic) expect({ route, schemes }).toEqual({ route, schemes: [] });
      else
        expect({ route, schemes }).toEqual({ route, schemes: expect.arrayContaining(['bearer']) });
    }
  });
});

describe('components.schemas.RouteDocument', () => {
  it('is the route JSON Schema of @junction/pipeline, minus $schema and $id', () => {
    const { $schema: _schema, $id: _id, ...expected } = ROUTE_SCHEMA;
    expect(doc.components.schemas.RouteDocument).toEqual(JSON.parse(JSON.stringify(expected)));
  });
});

describe('the answers match the document', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('password', true);

  /** Where `body` breaks the documented `schema`, as `what: /pointer message` lines. */
  function errorsOf(body: unknown, schema: object, what: string): string[] {
    if (!ajv.getSchema('openapi')) ajv.addSchema({ $id: 'openapi', components: doc.components });
    const validate = ajv.compile(schema);
    if (validate(body)) return [];
    return (validate.errors ?? []).map(
      (e) => `${what}: ${e.instancePath || '/'} ${e.message} (${e.schemaPath})`,
    );
  }

  function expectConforms(body: unknown, schema: object, what: string): void {
    expect({ what, errors: errorsOf(body, schema, what) }).toEqual({ what, errors: [] });
  }

  /** The documented schema of an operation's 2xx answer. */
  function responseSchema(route: string, status: number): object {
    const [method, path] = openApiKey(route);
    const schema = doc.paths[path][method]!.responses![String(status)].content!['application/json']
      .schema as object;
    // Rebase local refs onto the registered document.
    return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"openapi#/components/'));
  }

  async function call(route: string, url: string, status: number, body?: unknown) {
    const [method] = route.split(' ');
    const res = await gateway.request(method, url, { token: adminToken, body });
    expect({ route, status: res.status, body: res.body }).toMatchObject({ status });
    expectConforms(res.body, responseSchema(route, status), `${route} ${status}`);
    return res.body;
  }

  const route = {
    id: 'openapi-orders',
    description: 'OpenAPI fixture',
    source: { type: 'http', path: 'openapi/orders', mode: 'sync', auth: 'apiKey' },
    pipeline: [
      { validate: { schema: { type: 'object', required: ['id'] } } },
      { transform: '{ "orderId": id, "amount": total, "card": card }' },
      { mask: [{ path: 'card.pan', with: 'pan' }] },
    ],
    destinations: [{ type: 'log' }],
  };

  it('for ingest: an async answer is the documented IngestAccepted', async () => {
    await gateway.create(adminToken, '/api/v1/routes', {
      id: 'openapi-ingest',
      source: { type: 'http', path: 'openapi/ingest', auth: 'none' },
      destinations: [{ type: 'log' }],
    });
    const res = await gateway.request('POST', '/ingest/openapi/ingest', { body: { id: 'o-1' } });
    expect(res.status).toBe(202);
    expectConforms(res.body, responseSchema('POST /ingest/:path', 202), 'POST /ingest 202');
    expect(doc.components.securitySchemes).toMatchObject({
      ingestSignature: { type: 'apiKey', in: 'header', name: 'X-Junction-Signature' },
    });
  });

  it('for the auth, user and API key operations', async () => {
    const login = await gateway.request('POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: gateway.adminPassword },
    });
    expect(login.status).toBe(200);
    expectConforms(
      login.body,
      responseSchema('POST /api/v1/auth/login', 200),
      'POST /api/v1/auth/login',
    );
    await call('GET /api/v1/auth/me', '/api/v1/auth/me', 200);
    const user = (await call('POST /api/v1/users', '/api/v1/users', 201, {
      username: 'openapi-user',
      password: 'openapi-password-123',
      roles: ['viewer'],
      email: 'jane@example.com',
    })) as { id: string };
    await call('GET /api/v1/users', '/api/v1/users', 200);
    await call('GET /api/v1/users/:id', `/api/v1/users/${user.id}`, 200);
    await call('PATCH /api/v1/users/:id', `/api/v1/users/${user.id}`, 200, {
      displayName: 'Jane',
    });
    await call('POST /api/v1/api-keys', '/api/v1/api-keys', 201, {
      name: 'openapi-key',
      roles: ['operator'],
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await call('GET /api/v1/api-keys', '/api/v1/api-keys', 200);
  });

  it('for the connection and route operations', async () => {
    await call('POST /api/v1/connections', '/api/v1/connections', 201, {
      name: 'erp',
      type: 'http',
      config: { baseUrl: 'http://127.0.0.1:9/' },
      secrets: { bearerToken: 'not-shown' },
    });
    await call('GET /api/v1/connections', '/api/v1/connections', 200);
    await call('GET /api/v1/connections/:name', '/api/v1/connections/erp', 200);
    await call('PUT /api/v1/connections/:name', '/api/v1/connections/erp', 200, {
      type: 'http',
      config: { baseUrl: 'http://127.0.0.1:9/', timeoutMs: 1000 },
    });
    await call('POST /api/v1/routes/validate', '/api/v1/routes/validate', 200, route);
    const invalid = (await call('POST /api/v1/routes/validate', '/api/v1/routes/validate', 200, {
      ...route,
      pipeline: [{ mask: [{ path: 'x', with: 'nope' }] }],
    })) as { valid: boolean };
    expect(invalid.valid).toBe(false);
    await call('POST /api/v1/routes', '/api/v1/routes', 201, route);
    await call('PUT /api/v1/routes/:id', `/api/v1/routes/${route.id}`, 200, {
      ...route,
      description: 'second version',
    });
    await call('GET /api/v1/routes', '/api/v1/routes', 200);
    await call('GET /api/v1/routes/:id', `/api/v1/routes/${route.id}`, 200);
    await call('GET /api/v1/routes/:id/versions', `/api/v1/routes/${route.id}/versions`, 200);
    await call(
      'GET /api/v1/routes/:id/versions/:version',
      `/api/v1/routes/${route.id}/versions/1`,
      200,
    );
    await call(
      'POST /api/v1/routes/:id/versions/:version/activate',
      `/api/v1/routes/${route.id}/versions/2/activate`,
      200,
    );
    await call('POST /api/v1/routes/:id/stop', `/api/v1/routes/${route.id}/stop`, 200);
    await call('POST /api/v1/routes/:id/start', `/api/v1/routes/${route.id}/start`, 200);
    await call('GET /api/v1/routes/:id/status', `/api/v1/routes/${route.id}/status`, 200);
    const delivered = (await call(
      'POST /api/v1/routes/:id/test',
      `/api/v1/routes/${route.id}/test`,
      200,
      { message: { body: { id: 'o-1', total: 12, card: { pan: '4111111111111111' } } } },
    )) as { outcome: string; deliveries: { body: unknown }[] };
    expect(delivered.outcome).toBe('deliver');
    expect(delivered.deliveries[0].body).toEqual({
      orderId: 'o-1',
      amount: 12,
      card: { pan: '411111******1111' },
    });
    expect(JSON.stringify(delivered)).not.toContain('4111111111111111');
    const failed = (await call(
      'POST /api/v1/routes/:id/test',
      `/api/v1/routes/${route.id}/test`,
      200,
      {
        message: { body: { total: 12 } },
      },
    )) as { outcome: string; error: { where: string } };
    expect(failed).toMatchObject({
      outcome: 'error',
      error: { where: expect.stringMatching(/^\/pipeline\/0/) },
    });
  });

  it('for values that may be any JSON (a patch value, a message body)', async () => {
    // Runs after the test above: the route has versions 1 and 2, which differ in `description`.
    const versionRoute = 'GET /api/v1/routes/:id/versions/:version';
    const diff = await gateway.request('GET', `/api/v1/routes/${route.id}/versions/2?diffFrom=1`, {
      token: adminToken,
    });
    expect(diff.status).toBe(200);
    expect(diff.body).toMatchObject({
      diff: {
        from: 1,
        operations: [{ op: 'replace', path: '/description', value: 'second version' }],
      },
    });
    // The API takes any JSON as a dry run's message body (DESIGN: `{message:{body,headers}}`).
    const testRoute = 'POST /api/v1/routes/:id/test';
    const dryRun = await gateway.request('POST', `/api/v1/routes/${route.id}/test`, {
      token: adminToken,
      body: { message: { body: 'plain text' } },
    });
    expect(dryRun.status).toBe(200);
    expect(dryRun.body).toMatchObject({ stages: [{ input: 'plain text' }] });
    const problems = [
      ...errorsOf(diff.body, responseSchema(versionRoute, 200), versionRoute),
      ...errorsOf(dryRun.body, responseSchema(testRoute, 200), testRoute),
    ];
    // Values that hold any JSON (a patch value, a message body) must be documented as any JSON,
    // not as the object @nestjs/swagger infers from `unknown`.
    expect(problems).toEqual([]);
  });

  it('for errors', async () => {
    const errorSchema = { $ref: 'openapi#/components/schemas/ErrorDto' };
    for (const [method, url, status, body] of [
      ['GET', '/api/v1/routes/no-such-route', 404, undefined],
      ['POST', '/api/v1/routes', 400, { id: 'Not A Slug' }],
      ['POST', '/api/v1/users', 400, { username: '', password: 'short', roles: ['king'] }],
      [
        'POST',
        '/api/v1/connections',
        409,
        { name: 'erp', type: 'http', config: { baseUrl: 'http://x/' } },
      ],
    ] as [string, string, number, unknown][]) {
      const res = await gateway.request(method, url, { token: adminToken, body });
      expect({ url, status: res.status }).toEqual({ url, status });
      expectConforms(res.body, errorSchema, `${method} ${url}`);
    }
    const anonymous = await gateway.request('GET', '/api/v1/routes');
    expect(anonymous.status).toBe(401);
    expectConforms(anonymous.body, errorSchema, 'anonymous');
  });
});

describe('GET /docs', () => {
  it('answers 200 with the HTML of the UI, and the UI loads this document', async () => {
    const res = await gateway.request('GET', '/docs');
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<html[\s>]/i);
    expect(res.text).toMatch(/swagger-ui/i);
    // Every script and stylesheet the page names is served.
    const assets = [...res.text.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map(
      (m) => new URL(m[1], 'http://gateway/docs').pathname,
    );
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const served = await gateway.request('GET', asset);
      expect({ asset, status: served.status }).toEqual({ asset, status: 200 });
    }
  });
});
