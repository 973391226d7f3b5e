/**
 * Role-based access control of the whole API, against the real gateway on a real Postgres:
 * every endpoint under /api/v1 x every role (and no role, and no credentials), with session
 * tokens and with API keys. The expected outcome of each call comes from the permission table
 * (`ROLE_PERMISSIONS` / `permits`) and the endpoint's `@RequirePermission`, written out below and
 * checked against the controllers' own metadata, so a new endpoint cannot slip in unchecked.
 */
import { JwtService } from '@nestjs/jwt';
import { createHmac, randomBytes } from 'node:crypto';
import { Permission, PERMISSIONS, permits, Role, ROLE_PERMISSIONS, ROLES } from '@junction/auth';
import { registeredEndpoints } from './registered-endpoints';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

// Every denied request is logged by the auth event sink: hundreds here. JUNCTION_LOG=... shows them.
process.env.JUNCTION_LOG ??= 'silent';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Every endpoint under /api/v1, as the controllers declare it, and what it requires:
 * a permission (its `@RequirePermission`, on the method or the controller), `signed-in`
 * (neither decorator: any authenticated caller) or `public` (`@Public()`).
 */
const ENDPOINTS: Record<string, Permission | 'signed-in' | 'public'> = {
  // libs/auth/src/auth.controller.ts: AuthController
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/logout': 'signed-in',
  'POST /api/v1/auth/logout-everywhere': 'signed-in',
  'POST /api/v1/auth/password': 'signed-in',
  'GET /api/v1/auth/me': 'signed-in',
  'GET /api/v1/auth/providers': 'public',
  // OidcController (404 when OIDC is not configured, as here)
  'GET /api/v1/auth/oidc/login': 'public',
  'GET /api/v1/auth/oidc/callback': 'public',
  // AuditController (@RequirePermission('audit.read') on the class)
  'GET /api/v1/audit/messages': 'audit.read',
  'GET /api/v1/audit/messages/:id': 'audit.read',
  'GET /api/v1/audit/events': 'audit.read',
  'GET /api/v1/audit/export': 'audit.read',
  'GET /api/v1/audit/verify': 'audit.read',
  'GET /api/v1/audit/verify/report': 'audit.read',
  // SavedSearchesController (@RequirePermission('audit.read') on the class)
  'GET /api/v1/audit/searches': 'audit.read',
  'POST /api/v1/audit/searches': 'audit.read',
  'DELETE /api/v1/audit/searches/:id': 'audit.read',
  // DeadLettersController
  'GET /api/v1/dead-letters': 'deadletters.read',
  'GET /api/v1/dead-letters/counts': 'deadletters.read',
  'POST /api/v1/dead-letters/preview': 'deadletters.read',
  // ReplayJobsController
  'POST /api/v1/dead-letters/replay-jobs': 'deadletters.write',
  'GET /api/v1/dead-letters/replay-jobs': 'deadletters.read',
  'GET /api/v1/dead-letters/replay-jobs/:id': 'deadletters.read',
  'POST /api/v1/dead-letters/replay-jobs/:id/cancel': 'deadletters.write',
  'GET /api/v1/dead-letters/:id': 'deadletters.read',
  'POST /api/v1/dead-letters/:id/replay': 'deadletters.write',
  'DELETE /api/v1/dead-letters/:id': 'deadletters.write',
  // libs/audit/src/stats.controller.ts: counts only, for viewers
  'GET /api/v1/stats': 'routes.read',
  // libs/audit/src/chain-status.controller.ts: heads and the newest anchor, for dashboards
  'GET /api/v1/audit/chain-status': 'routes.read',
  // SessionsController (@RequirePermission('sessions.manage') on the class)
  'GET /api/v1/sessions': 'sessions.manage',
  'DELETE /api/v1/sessions/:id': 'sessions.manage',
  // UsersController (@RequirePermission('users.manage') on the class)
  'GET /api/v1/users': 'users.manage',
  'POST /api/v1/users': 'users.manage',
  'GET /api/v1/users/:id': 'users.manage',
  'PATCH /api/v1/users/:id': 'users.manage',
  'DELETE /api/v1/users/:id': 'users.manage',
  // ApiKeysController (@RequirePermission('apikeys.manage') on the class)
  'GET /api/v1/api-keys': 'apikeys.manage',
  'POST /api/v1/api-keys': 'apikeys.manage',
  'DELETE /api/v1/api-keys/:id': 'apikeys.manage',
  // libs/registry/src/connections.controller.ts
  'GET /api/v1/connections': 'connections.read',
  'POST /api/v1/connections': 'connections.write',
  'GET /api/v1/connections/:name': 'connections.read',
  'PUT /api/v1/connections/:name': 'connections.write',
  'DELETE /api/v1/connections/:name': 'connections.write',
  'GET /api/v1/connections/:name/impact': 'connections.read',
  'GET /api/v1/connections/:name/names': 'connections.read',
  // libs/runtime/src/connection-test.controller.ts
  'POST /api/v1/connections/:name/test': 'connections.write',
  // libs/registry/src/routes.controller.ts
  'POST /api/v1/routes/validate': 'routes.read',
  'GET /api/v1/routes': 'routes.read',
  'POST /api/v1/routes': 'routes.write',
  'GET /api/v1/routes/:id': 'routes.read',
  'PUT /api/v1/routes/:id': 'routes.write',
  'DELETE /api/v1/routes/:id': 'routes.write',
  'GET /api/v1/routes/:id/versions': 'routes.read',
  'GET /api/v1/routes/:id/versions/:version': 'routes.read',
  'POST /api/v1/routes/:id/versions/:version/activate': 'routes.activate',
  'POST /api/v1/routes/:id/start': 'routes.run',
  'POST /api/v1/routes/:id/stop': 'routes.run',
  'POST /api/v1/routes/:id/test': 'routes.read',
  'GET /api/v1/routes/:id/status': 'routes.read',
  'POST /api/v1/routes/test': 'routes.read',
  'GET /api/v1/routes/:id/samples': 'routes.read',
  'PUT /api/v1/routes/:id/samples/:name': 'routes.write',
  'DELETE /api/v1/routes/:id/samples/:name': 'routes.write',
  // libs/registry/src/expressions.controller.ts
  'POST /api/v1/expressions/evaluate': 'routes.read',
};

const GUARDED = Object.keys(ENDPOINTS).filter((key) => ENDPOINTS[key] !== 'public');

/** An error leaves as `{statusCode, error, message, details?}` and never shows a stack or a file. */
const STACK_FRAME = /\bat \w+.*\(/;
const FILE_PATH = /(?:[A-Za-z]:)?(?:[\\/][\w.@-]+)+\.(?:ts|js|mjs|cjs)\b|node_modules/;

function expectErrorBody(res: TestResponse, status: number, what: string): void {
  expect({ what, status: res.status, body: res.body }).toMatchObject({ status });
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  expect(res.body).toEqual(
    expect.objectContaining({
      statusCode: status,
      error: expect.any(String),
      message: expect.any(String),
    }),
  );
  const extra = Object.keys(res.body as object).filter(
    (k) => !['statusCode', 'error', 'message', 'details'].includes(k),
  );
  expect({ what, extra }).toEqual({ what, extra: [] });
  expect(res.text).not.toMatch(STACK_FRAME);
  expect(res.text).not.toMatch(FILE_PATH);
  expect(res.text).not.toMatch(/"stack"/);
}

type Auth = { token: string } | { apiKey: string };
type CallerKind = 'session' | 'apiKey';
type RoleName = Role | 'none';
const ROLE_NAMES: RoleName[] = [...ROLES, 'none'];
const rolesOf = (name: RoleName): Role[] => (name === 'none' ? [] : [name]);
const PASSWORD = 'rbac-password-0123456789';

/** A route with an HTTP source and a `log` destination: runs with no broker. */
function routeDocument(id: string, description = 'RBAC fixture route'): Record<string, unknown> {
  return {
    id,
    description,
    source: { type: 'http', path: `rbac/${id}`, mode: 'async', auth: 'apiKey' },
    pipeline: [{ transform: '{ "orderId": id, "amount": total }' }],
    destinations: [{ type: 'log' }],
  };
}
const ERP_CONFIG = { baseUrl: 'http://127.0.0.1:9/' };

let gateway: TestGateway;
let limited: TestGateway | undefined;
let adminToken: string;
let seq = 0;
const next = () => `${++seq}-${randomBytes(3).toString('hex')}`;
const fixtures = { routeId: 'rbac-orders', userId: '', userIds: {} as Record<string, string> };
const callers: Record<CallerKind, Partial<Record<RoleName, Auth>>> = { session: {}, apiKey: {} };
const apiKeyIds: Partial<Record<RoleName, string>> = {};

/** A fresh dead letter: a payload that is not JSON, sent to the fixture ingest route. */
async function deadLetter(): Promise<string> {
  const res = await gateway.request('POST', '/ingest/rbac/dl', {
    body: `not json ${next()}`,
    headers: { 'content-type': 'text/plain' },
  });
  if (res.status !== 422) throw new Error(`dead letter fixture: ${res.status} ${res.text}`);
  return (res.body as { details: { deadLetterId: string } }).details.deadLetterId;
}

/** A replay job over no dead letter (it is done at once). */
async function replayJob(): Promise<string> {
  const job = (await admin('POST', '/api/v1/dead-letters/replay-jobs', {
    filter: { routeId: `no-such-route-${next()}` },
  })) as { id: string };
  return job.id;
}

/** An admin call that must succeed (fixtures). */
async function admin(method: Method, url: string, body?: unknown): Promise<unknown> {
  const res = await gateway.request(method, url, { token: adminToken, body });
  if (res.status >= 300) throw new Error(`fixture ${method} ${url}: ${res.status} ${res.text}`);
  return res.body;
}

interface Prepared {
  url: string;
  body?: unknown;
  /** Credentials to use instead of the caller's (logout ends the session it is called with). */
  auth?: Auth;
  /** For destructive calls: whether the target still exists (a refused call must leave it). */
  stillThere?: () => Promise<boolean>;
}

interface Call {
  /** The status a permitted, valid call answers with. */
  ok: number;
  /** Where it differs by kind of caller (an API key has no password to change). */
  okFor?: Partial<Record<CallerKind, number>>;
  prepare(kind: CallerKind | 'anonymous', role: RoleName | undefined): Promise<Prepared>;
}

const exists = async (url: string) =>
  (await gateway.request('GET', url, { token: adminToken })).status === 200;

/** A valid request for every guarded endpoint, so that permitted calls succeed. */
const CALLS: Record<string, Call> = {
  'POST /api/v1/auth/password': {
    ok: 200,
    okFor: { apiKey: 403 },
    async prepare(kind, role) {
      // A fresh user of the same roles, so that the fixtures' passwords and sessions live on.
      if (kind !== 'session' || !role)
        return {
          url: '/api/v1/auth/password',
          body: { currentPassword: PASSWORD, newPassword: `${PASSWORD}-new` },
        };
      const username = `pw-${role}-${next()}`;
      await admin('POST', '/api/v1/users', { username, password: PASSWORD, roles: rolesOf(role) });
      return {
        url: '/api/v1/auth/password',
        auth: { token: await login(username) },
        body: { currentPassword: PASSWORD, newPassword: `${PASSWORD}-new` },
      };
    },
  },
  'POST /api/v1/auth/logout': {
    ok: 204,
    async prepare(kind, role) {
      // A fresh session of the same user, so that the caller's own token lives on.
      if (kind === 'session' && role)
        return { url: '/api/v1/auth/logout', auth: { token: await login(`rbac-${role}`) } };
      return { url: '/api/v1/auth/logout' };
    },
  },
  'POST /api/v1/auth/logout-everywhere': {
    ok: 200,
    okFor: { apiKey: 403 },
    async prepare(kind, role) {
      // A fresh user of the same roles: the fixtures' sessions live on.
      if (kind !== 'session' || !role) return { url: '/api/v1/auth/logout-everywhere' };
      const username = `le-${role}-${next()}`;
      await admin('POST', '/api/v1/users', { username, password: PASSWORD, roles: rolesOf(role) });
      return { url: '/api/v1/auth/logout-everywhere', auth: { token: await login(username) } };
    },
  },
  'GET /api/v1/auth/me': { ok: 200, prepare: async () => ({ url: '/api/v1/auth/me' }) },
  'GET /api/v1/users': { ok: 200, prepare: async () => ({ url: '/api/v1/users' }) },
  'POST /api/v1/users': {
    ok: 201,
    prepare: async () => ({
      url: '/api/v1/users',
      body: { username: `new-${next()}`, password: PASSWORD, roles: ['viewer'] },
    }),
  },
  'GET /api/v1/users/:id': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/users/${fixtures.userId}` }),
  },
  'PATCH /api/v1/users/:id': {
    ok: 200,
    prepare: async () => ({
      url: `/api/v1/users/${fixtures.userId}`,
      body: { displayName: `Fixture ${next()}` },
    }),
  },
  'DELETE /api/v1/users/:id': {
    ok: 204,
    async prepare() {
      const user = (await admin('POST', '/api/v1/users', {
        username: `doomed-${next()}`,
        password: PASSWORD,
        roles: ['viewer'],
      })) as { id: string };
      const url = `/api/v1/users/${user.id}`;
      return { url, stillThere: () => exists(url) };
    },
  },
  'GET /api/v1/api-keys': { ok: 200, prepare: async () => ({ url: '/api/v1/api-keys' }) },
  'POST /api/v1/api-keys': {
    ok: 201,
    prepare: async () => ({
      url: '/api/v1/api-keys',
      body: { name: `new-${next()}`, roles: ['viewer'] },
    }),
  },
  'DELETE /api/v1/api-keys/:id': {
    ok: 204,
    async prepare() {
      const key = (await admin('POST', '/api/v1/api-keys', {
        name: `doomed-${next()}`,
        roles: ['viewer'],
      })) as { id: string; key: string };
      return {
        url: `/api/v1/api-keys/${key.id}`,
        stillThere: async () =>
          (await gateway.request('GET', '/api/v1/auth/me', { apiKey: key.key })).status === 200,
      };
    },
  },
  'GET /api/v1/audit/messages': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/audit/messages' }),
  },
  'GET /api/v1/audit/messages/:id': {
    ok: 200,
    prepare: async () => ({
      url: `/api/v1/audit/messages/${encodeURIComponent('rbac-audit-probe')}`,
    }),
  },
  'GET /api/v1/audit/events': { ok: 200, prepare: async () => ({ url: '/api/v1/audit/events' }) },
  'GET /api/v1/audit/export': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/audit/export?format=ndjson' }),
  },
  'GET /api/v1/audit/verify': { ok: 200, prepare: async () => ({ url: '/api/v1/audit/verify' }) },
  'GET /api/v1/audit/verify/report': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/audit/verify/report' }),
  },
  'GET /api/v1/audit/searches': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/audit/searches' }),
  },
  'POST /api/v1/audit/searches': {
    ok: 201,
    prepare: async () => ({
      url: '/api/v1/audit/searches',
      body: { name: `search-${next()}`, kind: 'messages', query: { outcome: 'dead-lettered' } },
    }),
  },
  'DELETE /api/v1/audit/searches/:id': {
    ok: 204,
    async prepare(kind, role) {
      // One can delete only one's own: the caller saves it first (refused callers cannot, and
      // are refused the delete before it is looked for).
      const auth = kind !== 'anonymous' && role ? callers[kind][role] : undefined;
      const created = auth
        ? await gateway.request('POST', '/api/v1/audit/searches', {
            ...auth,
            body: { name: `doomed-${next()}`, kind: 'events', query: {} },
          })
        : undefined;
      const id = (created?.body as { id?: string } | undefined)?.id ?? crypto.randomUUID();
      return { url: `/api/v1/audit/searches/${id}` };
    },
  },
  'GET /api/v1/dead-letters': { ok: 200, prepare: async () => ({ url: '/api/v1/dead-letters' }) },
  'GET /api/v1/dead-letters/counts': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/dead-letters/counts?reasonCode=SCHEMA_FAILED' }),
  },
  'POST /api/v1/dead-letters/preview': {
    ok: 200,
    prepare: async () => ({
      url: '/api/v1/dead-letters/preview',
      body: { filter: { reasonCode: ['SCHEMA_FAILED'] }, limit: 5 },
    }),
  },
  // A dry run: counts, creates nothing.
  'POST /api/v1/dead-letters/replay-jobs': {
    ok: 200,
    prepare: async () => ({
      url: '/api/v1/dead-letters/replay-jobs',
      body: { filter: { reasonCode: ['SCHEMA_FAILED'] }, dryRun: true },
    }),
  },
  'GET /api/v1/stats': { ok: 200, prepare: async () => ({ url: '/api/v1/stats?bucket=hour' }) },
  'GET /api/v1/audit/chain-status': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/audit/chain-status' }),
  },
  'GET /api/v1/dead-letters/replay-jobs': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/dead-letters/replay-jobs' }),
  },
  'GET /api/v1/dead-letters/replay-jobs/:id': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/dead-letters/replay-jobs/${await replayJob()}` }),
  },
  'POST /api/v1/dead-letters/replay-jobs/:id/cancel': {
    ok: 200,
    prepare: async () => ({
      url: `/api/v1/dead-letters/replay-jobs/${await replayJob()}/cancel`,
    }),
  },
  'GET /api/v1/dead-letters/:id': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/dead-letters/${await deadLetter()}` }),
  },
  'POST /api/v1/dead-letters/:id/replay': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/dead-letters/${await deadLetter()}/replay` }),
  },
  'DELETE /api/v1/dead-letters/:id': {
    ok: 204,
    async prepare() {
      const id = await deadLetter();
      return {
        url: `/api/v1/dead-letters/${id}`,
        stillThere: () => exists(`/api/v1/dead-letters/${id}`),
      };
    },
  },
  'GET /api/v1/sessions': { ok: 200, prepare: async () => ({ url: '/api/v1/sessions' }) },
  'DELETE /api/v1/sessions/:id': {
    ok: 204,
    async prepare() {
      const token = await login('fixture-user');
      const { sid } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as {
        sid: string;
      };
      return {
        url: `/api/v1/sessions/${sid}`,
        stillThere: async () =>
          (await gateway.request('GET', '/api/v1/auth/me', { token })).status === 200,
      };
    },
  },
  'GET /api/v1/connections': { ok: 200, prepare: async () => ({ url: '/api/v1/connections' }) },
  'POST /api/v1/connections': {
    ok: 201,
    prepare: async () => ({
      url: '/api/v1/connections',
      body: { name: `conn-${next()}`, type: 'http', config: ERP_CONFIG },
    }),
  },
  'GET /api/v1/connections/:name': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/connections/erp' }),
  },
  'PUT /api/v1/connections/:name': {
    ok: 200,
    prepare: async () => ({
      url: '/api/v1/connections/erp',
      body: { type: 'http', config: ERP_CONFIG },
    }),
  },
  'DELETE /api/v1/connections/:name': {
    ok: 204,
    async prepare() {
      const name = `doomed-${next()}`;
      await admin('POST', '/api/v1/connections', { name, type: 'http', config: ERP_CONFIG });
      const url = `/api/v1/connections/${name}`;
      return { url, stillThere: () => exists(url) };
    },
  },
  'GET /api/v1/connections/:name/impact': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/connections/erp/impact' }),
  },
  'GET /api/v1/connections/:name/names': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/connections/erp/names' }),
  },
  'POST /api/v1/connections/:name/test': {
    ok: 200,
    prepare: async () => ({ url: '/api/v1/connections/erp/test' }),
  },
  'POST /api/v1/routes/validate': {
    ok: 200,
    prepare: async () => ({
      url: '/api/v1/routes/validate',
      body: routeDocument('validate-me'),
    }),
  },
  'GET /api/v1/routes': { ok: 200, prepare: async () => ({ url: '/api/v1/routes' }) },
  'POST /api/v1/routes': {
    ok: 201,
    prepare: async () => ({ url: '/api/v1/routes', body: routeDocument(`new-${next()}`) }),
  },
  'GET /api/v1/routes/:id': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/routes/${fixtures.routeId}` }),
  },
  'PUT /api/v1/routes/:id': {
    ok: 200,
    prepare: async () => ({
      url: `/api/v1/routes/${fixtures.routeId}`,
      body: routeDocument(fixtures.routeId, `edited ${next()}`),
    }),
  },
  'DELETE /api/v1/routes/:id': {
    ok: 204,
    async prepare() {
      const id = `doomed-${next()}`;
      await admin('POST', '/api/v1/routes', routeDocument(id));
      const url = `/api/v1/routes/${id}`;
      return { url, stillThere: () => exists(url) };
    },
  },
  'GET /api/v1/routes/:id/versions': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/routes/${fixtures.routeId}/versions` }),
  },
  'GET /api/v1/routes/:id/versions/:version': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/routes/${fixtures.routeId}/versions/1` }),
  },
  'POST /api/v1/routes/:id/versions/:version/activate': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/routes/${fixtures.routeId}/versions/1/activate` }),
  },
  'POST /api/v1/routes/:id/start': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/routes/${fixtures.routeId}/start` }),
  },
  'POST /api/v1/routes/:id/stop': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/routes/${fixtures.routeId}/stop` }),
  },
  'POST /api/v1/routes/:id/test': {
    ok: 200,
    prepare: async () => ({
      url: `/api/v1/routes/${fixtures.routeId}/test`,
      body: { message: { body: { id: 'o-1', total: 150 }, headers: { 'x-channel': 'web' } } },
    }),
  },
  'GET /api/v1/routes/:id/status': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/routes/${fixtures.routeId}/status` }),
  },
  'POST /api/v1/routes/test': {
    ok: 200,
    prepare: async () => ({
      url: '/api/v1/routes/test',
      body: { document: routeDocument('unsaved'), message: { body: { id: 'o-1', total: 1 } } },
    }),
  },
  'GET /api/v1/routes/:id/samples': {
    ok: 200,
    prepare: async () => ({ url: `/api/v1/routes/${fixtures.routeId}/samples` }),
  },
  'PUT /api/v1/routes/:id/samples/:name': {
    ok: 200,
    prepare: async () => ({
      url: `/api/v1/routes/${fixtures.routeId}/samples/s-${next()}`,
      body: { body: { id: 'o-1', total: 150 } },
    }),
  },
  'DELETE /api/v1/routes/:id/samples/:name': {
    ok: 204,
    async prepare() {
      const name = `doomed-${next()}`;
      const url = `/api/v1/routes/${fixtures.routeId}/samples/${name}`;
      await admin('PUT', url, { body: { id: 'o-2', total: 1 } });
      return {
        url,
        stillThere: async () =>
          (
            (await admin('GET', `/api/v1/routes/${fixtures.routeId}/samples`)) as { name: string }[]
          ).some((s) => s.name === name),
      };
    },
  },
  'POST /api/v1/expressions/evaluate': {
    ok: 200,
    prepare: async () => ({
      url: '/api/v1/expressions/evaluate',
      body: { expression: 'total > 100', input: { total: 150 } },
    }),
  },
};

async function login(username: string, password = PASSWORD): Promise<string> {
  return gateway.login(username, password);
}

function expectedStatus(endpoint: string, roles: Role[]): number {
  const need = ENDPOINTS[endpoint];
  if (need === 'signed-in' || need === 'public') return CALLS[endpoint].ok;
  return permits(roles, need) ? CALLS[endpoint].ok : 403;
}

/** Runs one matrix cell: a caller (or nobody) on an endpoint, and checks the outcome. */
async function check(
  endpoint: string,
  kind: CallerKind | 'anonymous',
  role: RoleName | undefined,
): Promise<void> {
  const [method] = endpoint.split(' ') as [Method];
  const prepared = await CALLS[endpoint].prepare(kind, role);
  const auth = kind === 'anonymous' ? {} : (prepared.auth ?? callers[kind][role!]!);
  const res = await gateway.request(method, prepared.url, { ...auth, body: prepared.body });
  const what = `${kind} ${role ?? ''} ${method} ${prepared.url}`;
  const expected =
    kind === 'anonymous'
      ? 401
      : (CALLS[endpoint].okFor?.[kind] ?? expectedStatus(endpoint, rolesOf(role!)));
  if (expected === 401 || expected === 403) {
    expectErrorBody(res, expected, what);
    if (prepared.stillThere)
      expect({ what, stillThere: await prepared.stillThere() }).toEqual({
        what,
        stillThere: true,
      });
    return;
  }
  // Permitted: the guard let it through, and the valid request did what it says.
  expect({ what, refused: [401, 403].includes(res.status), body: res.body }).toMatchObject({
    refused: false,
  });
  expect({ what, status: res.status, body: res.body }).toMatchObject({ status: expected });
  if (expected === 204) expect(res.text).toBe('');
  else if (!endpoint.endsWith('/audit/export')) expect(typeof res.body).toBe('object');
  else expect(res.headers['content-type']).toMatch(/ndjson/); // a streamed export, not JSON
  if (prepared.stillThere)
    expect({ what, stillThere: await prepared.stillThere() }).toEqual({
      what,
      stillThere: false,
    });
}

beforeAll(async () => {
  gateway = await startTestGateway();
  adminToken = await gateway.login('admin', gateway.adminPassword);
  // Fixtures, as the admin.
  await admin('POST', '/api/v1/connections', { name: 'erp', type: 'http', config: ERP_CONFIG });
  await admin('POST', '/api/v1/routes', routeDocument(fixtures.routeId));
  await admin('POST', '/api/v1/routes', {
    ...routeDocument('rbac-dl'),
    source: { type: 'http', path: 'rbac/dl', auth: 'none' },
  });
  // The runtime starts routes on its own time: wait until the ingest route answers.
  for (let deadline = Date.now() + 10_000; ;) {
    try {
      await deadLetter();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // An audited message with a known id, for GET /audit/messages/:id.
  await gateway.request('POST', '/ingest/rbac/dl', {
    body: 'not json',
    headers: { 'content-type': 'text/plain', 'idempotency-key': 'rbac-audit-probe' },
  });
  const target = (await admin('POST', '/api/v1/users', {
    username: 'fixture-user',
    password: PASSWORD,
    roles: ['viewer'],
  })) as { id: string };
  fixtures.userId = target.id;
  // One local user and one API key per role, and one of each with no role at all.
  for (const role of ROLE_NAMES) {
    const user = (await admin('POST', '/api/v1/users', {
      username: `rbac-${role}`,
      password: PASSWORD,
      roles: rolesOf(role),
    })) as { id: string; roles: Role[] };
    expect(user.roles).toEqual(rolesOf(role));
    fixtures.userIds[role] = user.id;
    callers.session[role] = { token: await login(`rbac-${role}`) };
    const key = (await admin('POST', '/api/v1/api-keys', {
      name: `rbac-${role}`,
      roles: rolesOf(role),
    })) as { id: string; key: string; roles: Role[] };
    expect(key.key).toMatch(/^jk_[0-9a-f]{12}_/);
    apiKeyIds[role] = key.id;
    callers.apiKey[role] = { apiKey: key.key };
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([gateway?.close(), limited?.close()]);
});

describe('the endpoint table', () => {
  it('lists exactly the endpoints the app registers under /api/v1, with their decorators', () => {
    expect(registeredEndpoints(gateway.app)).toEqual(ENDPOINTS);
    const fastify = gateway.app.getHttpAdapter().getInstance();
    for (const key of Object.keys(ENDPOINTS)) {
      const [method, url] = key.split(' ');
      expect({ key, registered: fastify.hasRoute({ method: method as Method, url }) }).toEqual({
        key,
        registered: true,
      });
    }
  });

  it('has a valid request for every guarded endpoint', () => {
    expect(Object.keys(CALLS).sort()).toEqual([...GUARDED].sort());
  });

  it('uses only permissions that the permission table knows', () => {
    for (const need of Object.values(ENDPOINTS)) {
      if (need !== 'public' && need !== 'signed-in') expect(PERMISSIONS).toContain(need);
    }
    // admin holds every permission; everyone else holds a strict subset.
    expect([...ROLE_PERMISSIONS.admin].sort()).toEqual([...PERMISSIONS].sort());
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      for (const p of ROLE_PERMISSIONS[role]) expect(PERMISSIONS).toContain(p);
      expect(ROLE_PERMISSIONS[role].length).toBeLessThan(PERMISSIONS.length);
    }
  });
});

describe('who is calling', () => {
  it.each(ROLE_NAMES)('role %s: GET /api/v1/auth/me names the user and the key', async (role) => {
    const asUser = await gateway.request('GET', '/api/v1/auth/me', callers.session[role]);
    expect(asUser.status).toBe(200);
    expect(asUser.body).toMatchObject({
      kind: 'user',
      id: fixtures.userIds[role],
      name: `rbac-${role}`,
      provider: 'local',
      roles: rolesOf(role),
    });
    const asKey = await gateway.request('GET', '/api/v1/auth/me', callers.apiKey[role]);
    expect(asKey.status).toBe(200);
    expect(asKey.body).toMatchObject({
      kind: 'apiKey',
      id: apiKeyIds[role],
      name: `rbac-${role}`,
      provider: 'apiKey',
      roles: rolesOf(role),
    });
  });
});

describe('without credentials', () => {
  it.each(GUARDED)('%s -> 401', async (endpoint) => {
    await check(endpoint, 'anonymous', undefined);
  });
});

describe.each(['session', 'apiKey'] as const)('with a %s', (kind) => {
  describe.each(ROLE_NAMES)('role %s', (role) => {
    it.each(GUARDED)(`%s`, async (endpoint) => {
      await check(endpoint, kind, role);
    });
  });
});

describe('credentials that are no good', () => {
  const guardedUrls = ['/api/v1/auth/me', '/api/v1/routes', '/api/v1/users'];

  async function expectRefused(auth: { token?: string; apiKey?: string }, why: string) {
    for (const url of guardedUrls) {
      expectErrorBody(await gateway.request('GET', url, auth), 401, `${why}: GET ${url}`);
    }
  }

  it('a garbage bearer token -> 401', async () => {
    await expectRefused({ token: 'garbage' }, 'garbage token');
    await expectRefused({ token: 'eyJhbGciOiJIUzI1NiJ9.e30.AAAA' }, 'bad signature');
    const res = await gateway.request('GET', '/api/v1/auth/me', {
      headers: { authorization: `Basic ${Buffer.from('admin:x').toString('base64')}` },
    });
    expectErrorBody(res, 401, 'basic auth');
  });

  it('a token signed with another key -> 401', async () => {
    const real = callers.session.admin as { token: string };
    const [header, payload] = real.token.split('.');
    const signature = createHmac('sha256', randomBytes(32))
      .update(`${header}.${payload}`)
      .digest('base64url');
    await expectRefused({ token: `${header}.${payload}.${signature}` }, 'foreign key');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await expectRefused({ token: `${none}.${payload}.` }, 'alg none');
  });

  it('an expired token (right key, live session) -> 401', async () => {
    const real = (callers.session.admin as { token: string }).token;
    const claims = JSON.parse(Buffer.from(real.split('.')[1], 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const jwt = gateway.app.get(JwtService);
    const now = Math.floor(Date.now() / 1000);
    const expired = await jwt.signAsync({ ...claims, iat: now - 120, exp: now - 60 });
    await expectRefused({ token: expired }, 'expired token');
    // The same claims, still valid: only the expiry made the difference.
    const fresh = await jwt.signAsync({ ...claims, iat: now, exp: now + 60 });
    expect((await gateway.request('GET', '/api/v1/auth/me', { token: fresh })).status).toBe(200);
  });

  it('a garbage or unknown API key -> 401', async () => {
    await expectRefused({ apiKey: 'garbage' }, 'garbage key');
    await expectRefused(
      { apiKey: `jk_000000000000_${randomBytes(24).toString('base64url')}` },
      'unknown key',
    );
    // A real key's prefix with another secret.
    const real = (callers.apiKey.admin as { apiKey: string }).apiKey;
    await expectRefused(
      { apiKey: `${real.slice(0, 16)}${randomBytes(24).toString('base64url')}` },
      'forged key',
    );
  });

  it('a revoked API key -> 401', async () => {
    const key = (await admin('POST', '/api/v1/api-keys', {
      name: `revoked-${next()}`,
      roles: ['admin'],
    })) as { id: string; key: string };
    expect((await gateway.request('GET', '/api/v1/routes', { apiKey: key.key })).status).toBe(200);
    const revoke = await gateway.request('DELETE', `/api/v1/api-keys/${key.id}`, {
      token: adminToken,
    });
    expect(revoke.status).toBe(204);
    await expectRefused({ apiKey: key.key }, 'revoked key');
    const listed = (await admin('GET', '/api/v1/api-keys')) as { id: string; revokedAt: unknown }[];
    expect(listed.find((k) => k.id === key.id)?.revokedAt).toEqual(expect.any(String));
    // Revoking it again: there is no live key of that id.
    expectErrorBody(
      await gateway.request('DELETE', `/api/v1/api-keys/${key.id}`, { token: adminToken }),
      404,
      'revoke twice',
    );
  });

  it('a logged-out session -> 401', async () => {
    const token = await login('rbac-editor');
    expect((await gateway.request('GET', '/api/v1/routes', { token })).status).toBe(200);
    const out = await gateway.request('POST', '/api/v1/auth/logout', { token });
    expect(out.status).toBe(204);
    await expectRefused({ token }, 'logged out');
    expectErrorBody(
      await gateway.request('POST', '/api/v1/auth/logout', { token }),
      401,
      'logout twice',
    );
    // Only that session ended: the user's other session lives on.
    expect((await gateway.request('GET', '/api/v1/routes', callers.session.editor)).status).toBe(
      200,
    );
  });

  it("logout-everywhere ends every session of the caller's user, and only theirs", async () => {
    const user = (await admin('POST', '/api/v1/users', {
      username: `everywhere-${next()}`,
      password: PASSWORD,
      roles: ['viewer'],
    })) as { username: string };
    const laptop = await login(user.username);
    const phone = await login(user.username);
    const out = await gateway.request('POST', '/api/v1/auth/logout-everywhere', { token: phone });
    expect({ status: out.status, body: out.body }).toEqual({
      status: 200,
      body: { sessionsEnded: 2 },
    });
    expect(String(out.headers['set-cookie'])).toMatch(/junction_session=;.*Max-Age=0/);
    await expectRefused({ token: laptop }, 'the other session');
    await expectRefused({ token: phone }, 'this session');
    // Others' sessions live on; the user signs in again as usual.
    expect((await gateway.request('GET', '/api/v1/routes', callers.session.viewer)).status).toBe(
      200,
    );
    expect(await login(user.username)).toEqual(expect.any(String));
    const events = (
      await gateway.request('GET', '/api/v1/audit/events?type=logout.everywhere', {
        token: adminToken,
      })
    ).body as { items: { actor: string; details: Record<string, unknown> }[] };
    expect(events.items).toContainEqual(
      expect.objectContaining({ actor: user.username, details: { sessionsEnded: 2 } }),
    );
  });

  it("a disabled user's session -> 401, and it cannot sign in", async () => {
    const user = (await admin('POST', '/api/v1/users', {
      username: `disabled-${next()}`,
      password: PASSWORD,
      roles: ['viewer'],
    })) as { id: string; username: string };
    const token = await login(user.username);
    expect((await gateway.request('GET', '/api/v1/routes', { token })).status).toBe(200);
    await admin('PATCH', `/api/v1/users/${user.id}`, { disabled: true });
    await expectRefused({ token }, 'disabled user');
    expectErrorBody(
      await gateway.request('POST', '/api/v1/auth/login', {
        body: { username: user.username, password: PASSWORD },
      }),
      401,
      'disabled login',
    );
  });
});

describe('public endpoints', () => {
  it('answer without credentials (and ignore bad ones)', async () => {
    for (const auth of [{}, { token: 'garbage' }, { apiKey: 'garbage' }]) {
      const live = await gateway.request('GET', '/health/live', auth);
      expect(live).toMatchObject({ status: 200, body: { status: 'ok' } });
      const ready = await gateway.request('GET', '/health/ready', auth);
      expect(ready).toMatchObject({ status: 200, body: { status: 'ok' } });
      const spec = await gateway.request('GET', '/openapi.json', auth);
      expect(spec.status).toBe(200);
      expect(spec.body).toMatchObject({ openapi: expect.stringMatching(/^3\.1\./) });
    }
    const signIn = await gateway.request('POST', '/api/v1/auth/login', {
      body: { username: 'rbac-viewer', password: PASSWORD },
    });
    expect(signIn.status).toBe(200);
    expect(signIn.body).toMatchObject({
      token: expect.any(String),
      expiresAt: expect.any(String),
      user: { kind: 'user', name: 'rbac-viewer', roles: ['viewer'] },
    });
  });

  it('login refuses a wrong password or an unknown user alike, with the error shape', async () => {
    const wrong = await gateway.request('POST', '/api/v1/auth/login', {
      body: { username: 'rbac-viewer', password: 'not-the-password' },
    });
    expectErrorBody(wrong, 401, 'wrong password');
    const unknown = await gateway.request('POST', '/api/v1/auth/login', {
      body: { username: 'nobody-here', password: 'not-the-password' },
    });
    expectErrorBody(unknown, 401, 'unknown user');
    expect((unknown.body as { message: string }).message).toBe(
      (wrong.body as { message: string }).message,
    );
    expectErrorBody(
      await gateway.request('POST', '/api/v1/auth/login', { body: { username: 'x' } }),
      400,
      'no password',
    );
  });
});

describe('login rate limiting', () => {
  it('refuses the 4th attempt for one user name with 429; another name still gets 401', async () => {
    limited = await startTestGateway({ JUNCTION_LOGIN_ACCOUNT_FAILURES: '3' });
    const gw = limited;
    const attempt = (username: string, password = 'wrong-password-123') =>
      gw.request('POST', '/api/v1/auth/login', { body: { username, password } });
    const adminToken2 = await gw.login('admin', gw.adminPassword); // admin's 1st of 3
    const created = await gw.request('POST', '/api/v1/users', {
      token: adminToken2,
      body: { username: 'victim', password: PASSWORD, roles: ['viewer'] },
    });
    expect(created.status).toBe(201);

    for (let i = 1; i <= 3; i++) expectErrorBody(await attempt('victim'), 401, `attempt ${i}`);
    const fourth = await attempt('victim');
    expectErrorBody(fourth, 429, 'attempt 4');
    // Throttled by user name, whatever the password and the letter case.
    expectErrorBody(await attempt('victim', PASSWORD), 429, 'right password, throttled');
    expectErrorBody(await attempt('VICTIM'), 429, 'upper case');
    // Other user names are not held back.
    expectErrorBody(await attempt('someone-else'), 401, 'another user name');
    expect((await attempt('admin', gw.adminPassword)).status).toBe(200);
  }, 60_000);
});
