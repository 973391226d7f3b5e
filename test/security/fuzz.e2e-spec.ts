import * as amqp from 'amqplib';
import fc from 'fast-check';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, eventually, freePort, GatewayProcess } from '../gateway-process';
import {
  Body,
  bodies,
  deepText,
  fromSchema,
  hostileParam,
  hostileValue,
  jsonText,
  Schema,
  Value,
} from './fuzz-inputs';

/**
 * Class 11 of issue #11: bad input gets a 4xx with the API's error shape, never a 5xx, and never
 * takes the process down. Every operation of the gateway's own OpenAPI document is fuzzed with
 * fast-check (fixed seed, bounded runs) as an admin, so that permission is never what stops a
 * request; fixtures give each operation real ids to reach past its lookups.
 */
jest.setTimeout(240_000);

const SEED = 11_2026;
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** Runs per operation: enough to reach each class of input, few enough for ~1 min on 2 busy cores. */
const RUNS = 24;
const RUNS_WITH_BODY = 36;

interface Operation {
  method: string;
  template: string;
  parameters: Array<{ name: string; in: string; schema?: Schema; required?: boolean }>;
  body?: Schema;
}

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Body;
}

interface Received {
  status: number;
  text: string;
}

/** Why an operation is fuzzed differently; nothing is left out without a line here. */
const SPECIAL: Record<string, string> = {
  'POST /api/v1/auth/logout':
    "sent with an admin API key, not the admin's session token: logout would end the session the rest of the fuzz runs on (an API key has no session to end)",
  'POST /api/v1/auth/logout-everywhere':
    'sent with an admin API key, as logout is: a success would end every session of the admin, the one the rest of the fuzz runs on included; a key gets 403 (it has no sessions). Its success is tested in apps/gateway/test/rbac.int-spec.ts and test/console/console-sign-out.e2e-spec.ts',
  'DELETE /api/v1/users/{id}':
    'fuzzed with hostile and unknown ids only, never a fixture (the admin or the fixture user), which later operations need',
  'DELETE /api/v1/api-keys/{id}':
    'fuzzed with hostile and unknown ids only: revoking the admin key would turn the logout fuzz into 401s',
  'DELETE /api/v1/sessions/{id}':
    "fuzzed with hostile and unknown ids only: ending the admin's session would turn every later request into a 401",
  'DELETE /api/v1/connections/{name}':
    'hostile and unknown names only: the fixture connection is in use by later operations',
  'DELETE /api/v1/routes/{id}':
    'hostile and unknown ids only: the fixture route is needed by later operations',
  'DELETE /api/v1/dead-letters/{id}':
    'hostile and unknown ids only: replay needs the fixture dead letter',
  'DELETE /api/v1/routes/{id}/samples/{name}':
    'hostile and unknown names only, like every delete: the fixture route keeps its samples',
  'POST /api/v1/auth/password':
    "fuzzed with generated bodies only: a success would change the admin's password under the rest of the fuzz (test/security/accounts.e2e-spec.ts changes passwords)",
  'DELETE /api/v1/audit/searches/{id}': 'hostile and unknown ids only, like every delete',
  'POST /api/v1/dead-letters/replay-jobs/{id}/cancel':
    'the fixture job has no dead letter and is over at once, so cancelling it is refused (409); cancelling a running job is tested in apps/gateway/test/dead-letter-replay-jobs.int-spec.ts',
  'GET /api/v1/auth/oidc/login':
    'OIDC is not configured here: every request is a 404, which the fuzz still checks',
  'GET /api/v1/auth/oidc/callback':
    'OIDC is not configured here: every request is a 404, which the fuzz still checks',
};

/** Operations that cannot answer 2xx in this setup (see SPECIAL); every other one must, at least once. */
const NO_SUCCESS_EXPECTED = new Set(
  Object.keys(SPECIAL).filter(
    (k) =>
      k.startsWith('DELETE') ||
      k.includes('/oidc/') ||
      k === 'POST /api/v1/auth/password' ||
      k === 'POST /api/v1/auth/logout-everywhere' ||
      k === 'POST /api/v1/dead-letters/replay-jobs/{id}/cancel',
  ),
);

const INGEST_PATH = 'fuzz/in';

function ingestRoute(id: string, path: string, mode: 'sync' | 'async'): Record<string, Value> {
  return {
    id,
    description: 'fuzz target',
    source: { type: 'http', path, auth: 'none', mode },
    pipeline: [
      { validate: { schema: { type: 'object' } } },
      { filter: '$not(drop = true)' },
      { transform: '$merge([$, { "seen": true }])' },
      { mask: [{ path: 'card.pan', with: 'pan' }] },
    ],
    destinations: [{ type: 'log' }],
  };
}

describe('bad input never gets a 5xx (fuzzed from the OpenAPI document)', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let apiKey = '';
  const operations: Operation[] = [];
  let components: Record<string, Schema> = {};
  /** Real ids per `template:param`, so that generated requests get past their lookups. */
  const fixtures: Record<string, string[]> = {};
  /** Valid bodies where the schema alone cannot make one (route documents, dry runs). */
  const validBodies: Record<string, fc.Arbitrary<Value>> = {};

  async function send(req: Sent): Promise<Received> {
    const init: RequestInit = {
      method: req.method,
      headers: {
        ...req.headers,
        ...(req.body?.contentType ? { 'content-type': req.body.contentType } : {}),
      },
      body: req.body?.text,
      signal: AbortSignal.timeout(60_000),
    };
    const res = await fetch(`${gw.base}${req.url}`, init);
    return { status: res.status, text: await res.text() };
  }

  /** What every answer must be: below 500, and a 4xx in the error shape. */
  function problemWith(res: Received): string | undefined {
    if (res.status >= 500) return `answered ${res.status}: ${res.text.slice(0, 300)}`;
    if (res.status < 400 || res.status === 431) return undefined; // 431: Node's own, before any handler
    let body: { statusCode?: unknown; error?: unknown; message?: unknown };
    try {
      body = JSON.parse(res.text) as typeof body;
    } catch {
      return `answered ${res.status} without a JSON error body: ${res.text.slice(0, 200)}`;
    }
    if (
      body.statusCode !== res.status ||
      typeof body.error !== 'string' ||
      typeof body.message !== 'string'
    )
      return `answered ${res.status} with a body not in the error shape: ${res.text.slice(0, 200)}`;
    return undefined;
  }

  async function expectAlive(): Promise<void> {
    const live = await fetch(`${gw.base}/health/live`, { signal: AbortSignal.timeout(30_000) });
    expect(live.status).toBe(200);
    expect(gw.process?.child.exitCode).toBeNull();
  }

  async function api(method: string, path: string, body?: unknown) {
    const res = await gw.api(method, path, body);
    if (res.status >= 300)
      throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Record<string, unknown>;
  }

  beforeAll(async () => {
    db = await createTestDatabase('fuzz');
    gw = new GatewayProcess(await freePort(), db.url);
    await gw.start();
    const spec = (await (await fetch(`${gw.base}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: Operation['parameters'];
            requestBody?: { content?: Record<string, { schema?: Schema }> };
          }
        >
      >;
      components: { schemas: Record<string, Schema> };
    };
    components = spec.components.schemas;
    for (const [template, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        operations.push({
          method: method.toUpperCase(),
          template,
          parameters: op.parameters ?? [],
          body: op.requestBody?.content?.['application/json']?.schema,
        });
      }
    }

    // Fixtures: one of everything an id can name.
    apiKey = (await api('POST', '/api-keys', { name: 'fuzz-admin-key', roles: ['admin'] }))
      .key as string;
    const apiKeyDisposable = await api('POST', '/api-keys', {
      name: 'fuzz-key',
      roles: ['viewer'],
    });
    const user = await api('POST', '/users', {
      username: 'fuzz-user',
      password: 'fuzz-user-password',
      roles: ['viewer'],
    });
    // Signs in during the fuzz of POST /auth/login; no other operation is given its id.
    await api('POST', '/users', {
      username: 'fuzz-login',
      password: 'fuzz-login-password',
      roles: ['viewer'],
    });
    await api('POST', '/connections', {
      name: 'fuzz-http',
      type: 'http',
      config: { baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 },
      secrets: { bearerToken: 'fuzz-token' },
    });
    await api('POST', '/routes', ingestRoute('fuzz-route', 'fuzz/route', 'sync'));
    await api('PUT', '/routes/fuzz-route', {
      ...ingestRoute('fuzz-route', 'fuzz/route', 'sync'),
      description: 'v2',
    });
    await api('POST', '/routes', ingestRoute('fuzz-ingest', INGEST_PATH, 'sync'));
    await api('POST', '/routes', ingestRoute('fuzz-ingest-async', 'fuzz/async', 'async'));
    // Ingest that authenticates: an HMAC signature, an API key (their headers are fuzzed too).
    await api('POST', '/connections', {
      name: 'fuzz-signer',
      type: 'http',
      config: { baseUrl: 'http://127.0.0.1:9' },
      secrets: { hmacKey: 'fuzz-hmac-key' },
    });
    await api('POST', '/routes', {
      ...ingestRoute('fuzz-signed', 'fuzz/signed', 'sync'),
      source: { type: 'http', path: 'fuzz/signed', auth: 'hmac', connection: 'fuzz-signer' },
    });
    await api('POST', '/routes', {
      ...ingestRoute('fuzz-keyed', 'fuzz/keyed', 'async'),
      source: { type: 'http', path: 'fuzz/keyed', auth: 'apiKey' },
    });
    const delivered = await fetch(`${gw.base}/ingest/${INGEST_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'fuzz-message-1' },
      body: JSON.stringify({ id: 1, card: { pan: '4111111111111111' } }),
    });
    expect(delivered.status).toBe(200);
    const rejected = await fetch(`${gw.base}/ingest/${INGEST_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'not json',
    });
    expect(rejected.status).toBe(422);
    const deadLetterId = ((await rejected.json()) as { details: { deadLetterId: string } }).details
      .deadLetterId;

    // A replay job over no dead letter: it can be read, and is over at once.
    const job = await api('POST', '/dead-letters/replay-jobs', {
      filter: { routeId: 'fuzz-no-such-route' },
    });

    Object.assign(fixtures, {
      '/api/v1/dead-letters/replay-jobs/{id}:id': [job.id as string],
      '/api/v1/dead-letters/replay-jobs/{id}/cancel:id': [job.id as string],
      '/api/v1/users/{id}:id': [user.id as string],
      '/api/v1/api-keys/{id}:id': [apiKeyDisposable.id as string],
      '/api/v1/connections/{name}:name': ['fuzz-http'],
      '/api/v1/connections/{name}/test:name': ['fuzz-http'],
      '/api/v1/connections/{name}/impact:name': ['fuzz-http'],
      '/api/v1/connections/{name}/names:name': ['fuzz-http'],
      '/api/v1/audit/messages/{id}:id': ['fuzz-message-1'],
      '/api/v1/dead-letters/{id}:id': [deadLetterId],
      '/api/v1/dead-letters/{id}/replay:id': [deadLetterId],
      '/api/v1/routes/{id}/samples/{name}:name': ['fuzz-sample'],
      '/ingest/{path}:path': [INGEST_PATH, 'fuzz/async', 'fuzz/signed', 'fuzz/keyed'],
      ':id': ['fuzz-route'], // every other {id}: the routes'
      ':version': ['1', '2'],
      ':diffFrom': ['1', '2'],
      ':limit': ['1', '10', '500'],
      ':format': ['csv', 'ndjson'],
      ':from': ['2000-01-01T00:00:00Z'],
      ':to': ['2100-01-01T00:00:00Z'],
      ':before': ['2100-01-01T00:00:00Z'],
      ':routeId': ['fuzz-ingest'],
      ':activate': ['true', 'false'],
    });
    validBodies['POST /api/v1/auth/login'] = fc.constant({
      username: 'fuzz-login',
      password: 'fuzz-login-password',
    });
    const route = fc.record({
      description: fc.string({ maxLength: 40 }),
      path: fc.stringMatching(/^fuzz\/[a-z0-9]{1,8}$/),
      filter: fc.constantFrom('true', 'total > 1', '$exists(id)'),
    });
    validBodies['POST /api/v1/routes'] = fc
      .tuple(fc.stringMatching(/^fz-[a-z0-9]{1,12}$/), route)
      .map(([id, r]) => ({
        ...ingestRoute(id, r.path, 'async'),
        description: r.description,
      }));
    validBodies['PUT /api/v1/routes/{id}'] = route.map((r) => ({
      ...ingestRoute('fuzz-route', 'fuzz/route', 'sync'),
      description: r.description,
    }));
    validBodies['POST /api/v1/routes/validate'] = validBodies['POST /api/v1/routes'];
    validBodies['POST /api/v1/dead-letters/preview'] = fc.record({
      filter: fc.constant({ routeId: 'fuzz-ingest' }),
      limit: fc.integer({ min: 1, max: 20 }),
    });
    // Valid bodies of their own, so that a success does not hang on the seed an operation's place
    // in the document gives it (an added operation moves every later one's).
    validBodies['POST /api/v1/dead-letters/replay-jobs'] = fc.record({
      filter: fc.constant({ routeId: 'fuzz-ingest' }),
      dryRun: fc.boolean(),
    });
    validBodies['POST /api/v1/api-keys'] = fc.record({
      name: fc.uuid().map((u) => `fuzz-key-${u.slice(0, 8)}`),
      roles: fc.constantFrom<Value[]>(['viewer'], ['ingest'], ['operator', 'viewer']),
    });
    validBodies['PUT /api/v1/routes/{id}/samples/{name}'] = fc.record({
      body: fc.record({ id: fc.integer(), total: fc.integer({ min: 0, max: 1000 }) }),
    });
    validBodies['POST /api/v1/routes/test'] = validBodies['POST /api/v1/routes'].map(
      (document) => ({
        document,
        message: { body: { id: 1, total: 2 } },
      }),
    );
    validBodies['POST /api/v1/routes/{id}/test'] = fc.record(
      {
        message: fc.record({
          body: fc.oneof(
            fc.jsonValue({ maxDepth: 4 }),
            fc.record({
              id: fc.integer(),
              card: fc.record({ pan: fc.constant('4111111111111111') }),
            }),
          ),
          headers: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), {
            maxKeys: 3,
          }),
        }),
        version: fc.constantFrom(1, 2),
      },
      { requiredKeys: ['message'] },
    ) as fc.Arbitrary<Value>;
    const connection = fc.record({
      type: fc.constant('http'),
      config: fc.record({
        baseUrl: fc.constantFrom('http://127.0.0.1:9', 'https://erp.example.com'),
      }),
      secrets: fc.record({ bearerToken: fc.string({ maxLength: 20 }) }),
    });
    validBodies['POST /api/v1/connections'] = fc
      .tuple(fc.stringMatching(/^fz-[a-z0-9]{1,12}$/), connection)
      .map(([name, c]) => ({ name, ...c }));
    validBodies['PUT /api/v1/connections/{name}'] = connection as fc.Arbitrary<Value>;
    validBodies['POST /ingest/{path}'] = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record({
        id: fc.integer(),
        drop: fc.boolean(),
        card: fc.record({ pan: fc.constant('4111111111111111') }),
      }),
    ) as fc.Arbitrary<Value>;
  }, 120_000);

  afterAll(async () => {
    if (gw?.process && gw.process.child.exitCode === null) await gw.stop();
    await db?.drop();
  });

  function key(op: Operation): string {
    return `${op.method} ${op.template}`;
  }

  /** Real values for a parameter (none for deletes: see SPECIAL). */
  function fixtureValues(op: Operation, name: string): string[] {
    if (op.method === 'DELETE') return [];
    return fixtures[`${op.template}:${name}`] ?? fixtures[`:${name}`] ?? [];
  }

  function paramValues(op: Operation, name: string, clean: boolean): fc.Arbitrary<string> {
    const usable = fixtureValues(op, name);
    if (usable.length === 0) return hostileParam;
    return clean
      ? fc.constantFrom(...usable)
      : fc.oneof(
          { weight: 1, arbitrary: fc.constantFrom(...usable) },
          { weight: 3, arbitrary: hostileParam },
        );
  }

  /**
   * One generated request for an operation. A clean request has only real ids, known query
   * values and a valid body (it shows the fuzz reaches the handler); the others break something.
   */
  function requests(op: Operation): fc.Arbitrary<Sent> {
    return fc.oneof(
      { weight: 1, arbitrary: requestsOf(op, true) },
      { weight: 3, arbitrary: requestsOf(op, false) },
    );
  }

  function requestsOf(op: Operation, clean: boolean): fc.Arbitrary<Sent> {
    const pathParams = op.parameters.filter((p) => p.in === 'path');
    const queryParams = op.parameters.filter((p) => p.in === 'query');
    const pathArb = fc.tuple(...pathParams.map((p) => paramValues(op, p.name, clean)));
    const queryArb = fc.tuple(
      ...queryParams.map((p): fc.Arbitrary<string[]> => {
        if (clean)
          return fixtureValues(op, p.name).length > 0
            ? fc.option(paramValues(op, p.name, true)).map((v) => (v === null ? [] : [v]))
            : fc.constant([]);
        return fc.oneof(
          { weight: 2, arbitrary: fc.constant<string[]>([]) },
          { weight: 2, arbitrary: paramValues(op, p.name, false).map((v) => [v]) },
          {
            weight: 1,
            arbitrary: fc
              .tuple(paramValues(op, p.name, false), paramValues(op, p.name, false))
              .map(([a, b]) => [a, b]),
          },
        );
      }),
    );
    const extraQuery = clean
      ? fc.constant('')
      : fc.oneof(
          { weight: 4, arbitrary: fc.constant('') },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              'a[b][c][d][e][f]=1',
              `${'x['.repeat(200)}=1`,
              'limit[]=1&limit[]=2',
              '__proto__[polluted]=1',
              '%00=%00',
              '&&&==&',
            ),
          },
        );
    const valid =
      validBodies[key(op)] ?? (op.body ? fromSchema(op.body, components) : fc.constant<Value>({}));
    // fetch sends no body with GET (nor would a browser): those get none.
    const bodyArb: fc.Arbitrary<Body | undefined> = op.body
      ? clean
        ? valid.map((v) => ({ contentType: 'application/json', text: jsonText(v) }))
        : bodies(valid)
      : op.method === 'GET' || clean
        ? fc.constant(undefined)
        : fc.oneof(
            { weight: 4, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: bodies(hostileValue) },
          );
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 40,
    });
    const header = (...odd: string[]) =>
      fc.option(
        fc.oneof(printable, fc.constantFrom('x'.repeat(201), 'x'.repeat(8000), ' ', ...odd)),
      );
    // Idempotency-Key, X-Junction-Signature, X-API-Key: only ingest reads them.
    const headerArb: fc.Arbitrary<Array<string | null>> =
      op.template === '/ingest/{path}' && !clean
        ? fc.tuple(
            header('99999999999'),
            header(
              't=99999999999999999999,v1=00',
              't=-1,v1=',
              't=1e400,v1=' + 'a'.repeat(64),
              `t=${Math.floor(Date.now() / 1000)},${'v1=ab,'.repeat(1000)}`,
              't=,v1=,t=,v1=',
            ),
            header('jk_', 'jk_zz_zz', `jk_${'a'.repeat(3000)}_b`),
          )
        : fc.constant([null, null, null]);
    return fc
      .tuple(pathArb, queryArb, extraQuery, bodyArb, headerArb)
      .map(([path, query, extra, body, ingestHeaders]) => {
        let url = op.template;
        pathParams.forEach((p, i) => (url = url.replace(`{${p.name}}`, path[i])));
        const pairs = queryParams.flatMap((p, i) => query[i].map((v) => `${p.name}=${v}`));
        if (extra) pairs.push(extra);
        if (pairs.length > 0) url += `?${pairs.join('&')}`;
        const headers: Record<string, string> =
          key(op) === 'POST /api/v1/auth/logout' ||
          key(op) === 'POST /api/v1/auth/logout-everywhere'
            ? { 'x-api-key': apiKey }
            : { authorization: `Bearer ${gw.token}` };
        const [idem, signature, apiKeyHeader] = ingestHeaders;
        if (idem !== null) headers['idempotency-key'] = idem;
        if (signature !== null) headers['x-junction-signature'] = signature;
        if (apiKeyHeader !== null) headers['x-api-key'] = apiKeyHeader;
        return { method: op.method, url, headers, body };
      });
  }

  it('fuzzes every operation: no 5xx, errors in the error shape, the process stays up and the admin signed in', async () => {
    expect(operations.length).toBeGreaterThan(40);
    const failures: string[] = [];
    const successes = new Map<string, number>();
    for (const [index, op] of operations.entries()) {
      const name = key(op);
      let ok = 0;
      const property = fc.asyncProperty(requests(op), async (req) => {
        const res = await send(req);
        if (res.status < 300) ok++;
        const problem = problemWith(res);
        if (problem) throw new Error(problem);
      });
      const result = await fc.check(property, {
        seed: SEED + index,
        numRuns: op.body ? RUNS_WITH_BODY : RUNS,
        endOnFailure: true,
      });
      if (result.failed) {
        const [req] = result.counterexample ?? [];
        const shown = req
          ? `${req.method} ${req.url.slice(0, 200)} ${req.body?.contentType ?? ''} ${(req.body?.text ?? '').slice(0, 200)}`
          : '';
        failures.push(
          `${name}: ${String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance)} <- ${shown}`,
        );
      }
      successes.set(name, ok);
      await expectAlive();
    }
    expect(failures).toEqual([]);
    // The fuzz reached past validation: every operation that can succeed did, at least once.
    const neverSucceeded = [...successes]
      .filter(([name, n]) => n === 0 && !NO_SUCCESS_EXPECTED.has(name))
      .map(([name]) => name);
    expect(neverSucceeded).toEqual([]);
    // The session it ran on is still good: no 401 hid anything.
    expect((await gw.api('GET', '/auth/me')).status).toBe(200);
    // Nothing was skipped silently: every special case names an operation that exists.
    const names = new Set(operations.map(key));
    expect(Object.keys(SPECIAL).filter((k) => !names.has(k))).toEqual([]);
  });
});

describe('bad input: the examples of issue #11, class 11, and their neighbours', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;

  beforeAll(async () => {
    db = await createTestDatabase('fuzz_examples');
    gw = new GatewayProcess(await freePort(), db.url);
    await gw.start();
    for (const res of [
      await gw.api('POST', '/routes', ingestRoute('deep', 'deep/in', 'sync')),
      await gw.api('PUT', '/routes/deep', {
        ...ingestRoute('deep', 'deep/in', 'sync'),
        description: 'v2',
      }),
    ])
      expect(res.status).toBeLessThan(300);
  }, 120_000);

  afterAll(async () => {
    if (gw?.process && gw.process.child.exitCode === null) await gw.stop();
    await db?.drop();
  });

  async function raw(
    method: string,
    url: string,
    text?: string,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${gw.base}${url}`, {
      method,
      headers: { authorization: `Bearer ${gw.token}`, ...headers },
      body: text,
    });
    const body = (await res.json()) as Record<string, unknown>;
    return { status: res.status, body };
  }

  function expectError(
    res: { status: number; body: Record<string, unknown> },
    status: number,
    message: RegExp,
  ) {
    expect(res).toEqual({
      status,
      body: expect.objectContaining({
        statusCode: status,
        error: expect.any(String),
        message: expect.stringMatching(message),
      }),
    });
  }

  const DEEP_ENDPOINTS = [
    '/api/v1/auth/login',
    '/api/v1/routes/deep/test',
    '/api/v1/connections',
    '/api/v1/users',
    '/api/v1/routes',
    '/api/v1/routes/validate',
    '/api/v1/api-keys',
  ];

  it.each(DEEP_ENDPOINTS)(
    '10,000 levels of JSON to %s: 400, before any validator recurses',
    async (url) => {
      for (const levels of [129, 10_000, 50_000]) {
        for (const kind of ['array', 'object'] as const) {
          expectError(
            await raw('POST', url, deepText(levels, kind)),
            400,
            /nested deeper than 128 levels/,
          );
          // Deep under a field the DTO knows (the validation pipe walks into it).
          const under = `{"message":${deepText(levels, kind)},"username":${deepText(levels, kind)}}`;
          expectError(await raw('POST', url, under), 400, /nested deeper than 128 levels/);
        }
      }
      expect((await fetch(`${gw.base}/health/live`)).status).toBe(200);
    },
  );

  it('nesting within the limit still works: a dry run of a 60-level message', async () => {
    const body = `{"message":{"body":{"wrap":${deepText(60, 'object')}}}}`;
    const res = await raw('POST', '/api/v1/routes/deep/test', body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: 1, outcome: 'deliver' });
  });

  it('a NUL in a user name: 400 on create user and on sign-in, never a 500; the same for every string that reaches Postgres', async () => {
    for (const name of ['a\u0000b', '\u0000', 'admin\u0000']) {
      expectError(
        await gw
          .api('POST', '/users', {
            username: name,
            password: 'long-enough-password',
            roles: ['viewer'],
          })
          .then((r) => ({ status: r.status, body: r.body as Record<string, unknown> })),
        400,
        /NUL|control/,
      );
      const login = await fetch(`${gw.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: name, password: 'whatever' }),
      });
      expect([400, 401, 429]).toContain(login.status);
    }
    const cases: Array<[string, string, unknown]> = [
      [
        'POST',
        '/connections',
        { name: 'c1', type: 'http', config: { baseUrl: 'http://127.0.0.1:9', note: 'a\u0000b' } },
      ],
      [
        'POST',
        '/connections',
        { name: 'c2', type: 'http', config: { baseUrl: 'http://127.0.0.1:9', ['k\u0000']: 1 } },
      ],
      [
        'PUT',
        '/routes/deep',
        { ...ingestRoute('deep', 'deep/in', 'sync'), description: 'x\u0000y' },
      ],
      ['POST', '/api-keys', { name: 'k\u0000', roles: ['viewer'] }],
      ['PATCH', '/users/00000000-0000-4000-8000-000000000000', { displayName: 'a\u0000' }],
    ];
    for (const [method, url, body] of cases) {
      const res = await gw.api(method, url, body);
      expect({ url, status: res.status }).toEqual({ url, status: expect.any(Number) });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    for (const url of [
      '/routes/a%00b',
      '/connections/a%00b',
      '/dead-letters?routeId=a%00b',
      '/routes?comment=%00',
      '/audit/messages?q=%00',
      '/audit/events?actor=%00',
    ]) {
      const res = await gw.api('GET', url);
      expect({ url, status: res.status < 500 }).toEqual({ url, status: true });
    }
  });

  it('version 99999999999 (beyond int4) in versions/{v}, activate, diffFrom and a dry run: 400; an int4 that is no version: 404', async () => {
    for (const v of [
      '99999999999',
      '2147483648',
      '9'.repeat(30),
      '1e10',
      '1.5',
      'NaN',
      'Infinity',
      '-1',
      '0',
    ]) {
      expectError(
        await raw('GET', `/api/v1/routes/deep/versions/${v}`),
        400,
        /version must be a whole number/,
      );
      expectError(
        await raw('POST', `/api/v1/routes/deep/versions/${v}/activate`, undefined, {}),
        400,
        /version/,
      );
      expectError(
        await raw('GET', `/api/v1/routes/deep/versions/1?diffFrom=${v}`),
        400,
        /diffFrom/,
      );
    }
    for (const version of [99_999_999_999, 2 ** 31, 1.5, -1, '1']) {
      const res = await gw.api('POST', '/routes/deep/test', { message: { body: {} }, version });
      expect(res.status).toBe(400);
    }
    expect((await raw('GET', '/api/v1/routes/deep/versions/2147483647')).status).toBe(404);
    expect(
      (await raw('POST', '/api/v1/routes/deep/versions/2147483647/activate', undefined, {})).status,
    ).toBe(404);
    expect((await raw('GET', '/api/v1/routes/deep/versions/2?diffFrom=1')).status).toBe(200);
  });

  it('cursors and dates at and beyond the edges: 400 (or a page), never a 5xx', async () => {
    const cursors = [
      '999999999999999.9999999999999999999',
      '0.9223372036854775808',
      '8640000000000000.1',
      '1.0',
      '0.0',
      '-1.1',
      '1.1.1',
      '',
    ].map((c) => Buffer.from(c).toString('base64url'));
    cursors.push('%00', '!!!', 'x'.repeat(200), '%ED%A0%80');
    const dates = [
      '0000-01-01T00:00:00Z',
      '0001-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999Z',
      '%2B275760-09-13T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-13-01',
      '1969-12-31T23:59:59.999999999Z',
    ];
    const urls = [
      ...cursors.flatMap((c) => [`/audit/messages?cursor=${c}`, `/audit/events?cursor=${c}`]),
      ...dates.flatMap((d) => [
        `/audit/messages?from=${d}`,
        `/audit/events?to=${d}`,
        `/audit/verify?from=${d}&to=${d}`,
        `/audit/verify/report?from=${d}&to=${d}`,
        `/audit/export?format=ndjson&from=${d}`,
        `/dead-letters?before=${d}`,
      ]),
    ];
    for (const url of urls) {
      const res = await fetch(`${gw.base}/api/v1${url}`, {
        headers: { authorization: `Bearer ${gw.token}` },
      });
      const text = await res.text();
      expect({ url, status: res.status }).toEqual({ url, status: expect.any(Number) });
      expect({ url, ok: res.status < 500 && res.status !== 401 }).toEqual({ url, ok: true });
      if (res.status >= 400)
        expect(JSON.parse(text)).toMatchObject({
          statusCode: res.status,
          message: expect.any(String),
        });
    }
  });

  it('bodies that are not JSON, not labelled JSON, empty, or poisoned: 400 or 415 in the error shape', async () => {
    const cases: Array<[string | undefined, Record<string, string>, number]> = [
      ['{"__proto__":{"admin":true}}', { 'content-type': 'application/json' }, 400],
      ['{"constructor":{"prototype":{"a":1}}}', { 'content-type': 'application/json' }, 400],
      ['{"a":', { 'content-type': 'application/json' }, 400],
      ['', { 'content-type': 'application/json' }, 400],
      ['a=1&a[b][c]=2', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
      ['{}', { 'content-type': 'text/plain' }, 415],
      ['{}', { 'content-type': 'garbage' }, 415],
    ];
    for (const [text, headers, status] of cases) {
      const res = await raw('POST', '/api/v1/routes/validate', text, headers);
      expect({ text, status: res.status }).toEqual({ text, status });
      expect(res.body).toMatchObject({ statusCode: status, message: expect.any(String) });
    }
    // The parser's own message quotes a piece of the body (part of a card number, say): not ours.
    for (const text of ['{"card": x4111111111111111}', '4111111111111111x', '{"c":"5555 4444']) {
      const res = await raw('POST', '/api/v1/routes/validate', text, {
        'content-type': 'application/json',
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).not.toMatch(/4111|5555|4444/);
    }
    // Route documents may be YAML; every other endpoint refuses it.
    const yaml = await raw('POST', '/api/v1/users', 'username: x', {
      'content-type': 'application/yaml',
    });
    expect(yaml.status).toBe(415);
    expect(yaml.body).toMatchObject({ statusCode: 415, message: expect.any(String) });
  });

  it('the router answers in the error shape too, and a 200-character message id can be looked up', async () => {
    expectError(await raw('GET', `/api/v1/routes/${'x'.repeat(2000)}`), 414, /longer than 1024/);
    expectError(await raw('GET', '/api/v1/routes/%E0%A4%A'), 400, /not valid/);
    const res = await raw('GET', `/api/v1/audit/messages/${'m'.repeat(200)}`);
    expect(res.status).toBe(404);
  });

  it('ingest: a too-deep, NUL-laden or malformed body is dead-lettered (422), a storable one taken; never a 5xx', async () => {
    const cases: Array<[string, number[]]> = [
      [deepText(10_000, 'array'), [422]],
      [deepText(100_000, 'object'), [422]],
      [`{"a":${deepText(65, 'object')}}`, [422]],
      ['{"a":', [422]],
      ['\u0000', [422]],
      ['a\u0000b', [422]],
      ['\ud800{', [422]],
      ['x4111111111111111', [422]],
      ['', [400, 422]],
      ['{"a":"\\u0000","\\u0000":"\\ud800"}', [200]],
      [jsonText({ id: 1, card: { pan: '4111111111111111' } }), [200]],
    ];
    const parked: string[] = [];
    for (const [body, statuses] of cases) {
      for (const contentType of ['application/json', 'text/plain']) {
        const res = await fetch(`${gw.base}/ingest/deep/in`, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body,
        });
        const answer = (await res.json()) as { details?: { deadLetterId?: string } };
        const allowed = statuses.includes(res.status);
        expect({ body: body.slice(0, 20), contentType, status: res.status, allowed }).toEqual({
          body: body.slice(0, 20),
          contentType,
          status: res.status,
          allowed: true,
        });
        if (res.status === 422) parked.push(answer.details!.deadLetterId!);
      }
    }
    expect(parked.length).toBeGreaterThanOrEqual(16);
    expect((await fetch(`${gw.base}/health/live`)).status).toBe(200);
    // Each is kept, readable, with a reason that holds no NUL and no card number.
    for (const id of parked) {
      const dl = await gw.api('GET', `/dead-letters/${id}`);
      expect(dl.status).toBe(200);
      const { reason } = dl.body as { reason: string };
      expect(reason).not.toContain('\u0000');
      expect(reason).not.toContain('4111111111111111');
    }
  });

  it('a broker message with a NUL in its id and body, or nested 10,000 deep, is dead-lettered and the queue moves on', async () => {
    const queue = `fuzz.in.${Date.now()}`;
    const connection = await amqp.connect(AMQP_URL);
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true });
      expect(
        (
          await gw.api('POST', '/connections', {
            name: 'rabbit',
            type: 'amqp',
            config: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
            secrets: { password: 'guest' },
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await gw.api('POST', '/routes', {
            id: 'fuzz-amqp',
            source: { type: 'amqp', connection: 'rabbit', queue },
            pipeline: [{ validate: { schema: { type: 'object' } } }],
            destinations: [{ type: 'log' }],
          })
        ).status,
      ).toBe(201);
      const bad: Array<[string, string]> = [
        ['nul\u0000id', 'a\u0000b 4111111111111111'],
        ['deep', deepText(10_000, 'object')],
        ['surrogate\ud800', '{"a":'],
      ];
      for (const [messageId, body] of bad)
        channel.sendToQueue(queue, Buffer.from(body), { messageId, persistent: true });
      channel.sendToQueue(queue, Buffer.from('{"ok":true}'), {
        messageId: 'fine',
        persistent: true,
      });
      await channel.waitForConfirms();
      const parked = await eventually(
        async () => {
          const res = await gw.api('GET', '/dead-letters?routeId=fuzz-amqp');
          const rows = res.body as Array<{ messageId: string; reason: string }>;
          if (rows.length < bad.length) throw new Error(`${rows.length} dead letters`);
          return rows;
        },
        60_000,
        'three dead letters',
      );
      expect(parked).toHaveLength(bad.length);
      for (const row of parked) {
        expect(row.messageId).not.toContain('\u0000');
        expect(row.reason).not.toContain('4111111111111111');
      }
      await eventually(
        async () => {
          const { messageCount } = await channel.checkQueue(queue);
          if (messageCount !== 0) throw new Error(`${messageCount} still queued`);
          if ((await gw.processed('fuzz-amqp')) < 1)
            throw new Error('the good one not yet through');
        },
        60_000,
        'the queue drained',
      );
      expect((await fetch(`${gw.base}/health/live`)).status).toBe(200);
      await channel.deleteQueue(queue);
    } finally {
      await connection.close();
    }
  });

  it('the admin password still signs in after all of it', async () => {
    const res = await fetch(`${gw.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(res.status).toBe(200);
  });
});
