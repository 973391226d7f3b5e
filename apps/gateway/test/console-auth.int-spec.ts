/**
 * The console's browser session against the real gateway on a real Postgres: the session cookie
 * set at sign-in, the CSRF double submit on every change made with it, what /auth/me tells the
 * console, and how a session ends (logout, expiry).
 */
import { DataSource } from 'typeorm';
import { PERMISSIONS, permits, ROLES, type Role } from '@junction/auth';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';
jest.setTimeout(60_000);

const PASSWORD = 'console-password-0123456789';
let gateway: TestGateway;
let adminToken: string;

function setCookies(res: TestResponse): string[] {
  return [res.headers['set-cookie'] ?? []].flat().map(String);
}

interface BrowserSession {
  cookie: string;
  csrf: string;
  session: string;
  lines: string[];
}

async function browserLogin(username: string, password = PASSWORD): Promise<BrowserSession> {
  const res = await gateway.request('POST', '/api/v1/auth/login', {
    body: { username, password },
  });
  expect(res.status).toBe(200);
  const lines = setCookies(res);
  const value = (name: string) =>
    lines
      .find((l) => l.startsWith(`${name}=`))!
      .split(';')[0]
      .slice(name.length + 1);
  const session = value('junction_session');
  const csrf = value('junction_csrf');
  return { cookie: `junction_session=${session}; junction_csrf=${csrf}`, csrf, session, lines };
}

beforeAll(async () => {
  gateway = await startTestGateway();
  adminToken = await gateway.login('admin', gateway.adminPassword);
  for (const role of ROLES)
    await gateway.create(adminToken, '/api/v1/users', {
      username: `console-${role}`,
      password: PASSWORD,
      roles: [role],
    });
});

afterAll(async () => {
  await gateway?.close();
});

describe('sign-in sets the browser session cookies', () => {
  it('HttpOnly SameSite=Strict session cookie and a readable CSRF cookie, beside the token', async () => {
    const res = await gateway.request('POST', '/api/v1/auth/login', {
      body: { username: 'console-editor', password: PASSWORD },
    });
    expect(res.body).toMatchObject({ token: expect.any(String), user: { name: 'console-editor' } });
    const lines = setCookies(res);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^junction_session=[\w.-]+; Path=\/; Max-Age=(28[0-9]{3}|2799\d); HttpOnly; SameSite=Strict$/,
    );
    expect(lines[1]).toMatch(/^junction_csrf=[\w-]{43}; Path=\/; Max-Age=\d+; SameSite=Strict$/);
    expect(lines[1]).not.toMatch(/HttpOnly/);
    // The cookie is the session itself: the same token the answer carries.
    expect(lines[0].split(';')[0]).toBe(
      `junction_session=${(res.body as { token: string }).token}`,
    );
  });

  it('a failed sign-in sets no cookie', async () => {
    const res = await gateway.request('POST', '/api/v1/auth/login', {
      body: { username: 'console-editor', password: 'wrong-password-000000' },
    });
    expect(res.status).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});

describe('the session cookie as a credential, with CSRF double submit on changes', () => {
  const route = (id: string) => ({
    id,
    source: { type: 'http', path: `console/${id}`, mode: 'async', auth: 'apiKey' },
    pipeline: [],
    destinations: [{ type: 'log' }],
  });

  it('reads need only the cookie', async () => {
    const b = await browserLogin('console-editor');
    for (const url of ['/api/v1/auth/me', '/api/v1/routes', '/api/v1/connections']) {
      const res = await gateway.request('GET', url, { headers: { cookie: b.cookie } });
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
    }
  });

  it('a change without the header, or with a wrong, foreign or cookie-less token, is 403 and changes nothing', async () => {
    const b = await browserLogin('console-editor');
    const other = await browserLogin('console-editor');
    const cases: Array<[string, Record<string, string>]> = [
      ['no header', { cookie: b.cookie }],
      ['empty header', { cookie: b.cookie, 'x-csrf-token': '' }],
      ['wrong header', { cookie: b.cookie, 'x-csrf-token': 'x'.repeat(43) }],
      ['other session', { cookie: b.cookie, 'x-csrf-token': other.csrf }],
      [
        'header without csrf cookie',
        { cookie: `junction_session=${b.session}`, 'x-csrf-token': b.csrf },
      ],
      [
        'both from another session',
        {
          cookie: `junction_session=${b.session}; junction_csrf=${other.csrf}`,
          'x-csrf-token': other.csrf,
        },
      ],
      [
        'one character off',
        {
          cookie: b.cookie,
          'x-csrf-token': b.csrf.slice(0, -1) + (b.csrf.endsWith('A') ? 'B' : 'A'),
        },
      ],
    ];
    for (const [what, headers] of cases) {
      for (const [method, url, body] of [
        ['POST', '/api/v1/routes', route(`csrf-${what.replace(/\W/g, '-')}`)],
        [
          'PUT',
          '/api/v1/connections/csrf-conn',
          { type: 'http', config: { baseUrl: 'http://127.0.0.1:9/' } },
        ],
        ['DELETE', '/api/v1/routes/nothing-here', undefined],
        ['POST', '/api/v1/auth/logout', undefined],
      ] as const) {
        const res = await gateway.request(method, url, { headers, body });
        expect({ what, method, url, status: res.status }).toEqual({
          what,
          method,
          url,
          status: 403,
        });
        expect(res.body).toMatchObject({
          statusCode: 403,
          error: 'Forbidden',
          message: expect.stringMatching(/X-CSRF-Token/),
        });
      }
    }
    // Nothing was created, and the session still works (logout was refused).
    const routes = await gateway.request('GET', '/api/v1/routes', { token: adminToken });
    expect((routes.body as { id: string }[]).filter((r) => r.id.startsWith('csrf-'))).toEqual([]);
    expect(
      (await gateway.request('GET', '/api/v1/auth/me', { headers: { cookie: b.cookie } })).status,
    ).toBe(200);
  });

  it('with the matching header the change goes through', async () => {
    const b = await browserLogin('console-editor');
    const headers = { cookie: b.cookie, 'x-csrf-token': b.csrf };
    const created = await gateway.request('POST', '/api/v1/routes', {
      headers,
      body: route('csrf-ok'),
    });
    expect(created.status).toBe(201);
    const deleted = await gateway.request('DELETE', '/api/v1/routes/csrf-ok', { headers });
    expect(deleted.status).toBe(204);
  });

  it('Bearer and X-API-Key callers need no CSRF token', async () => {
    const token = await gateway.login('console-editor', PASSWORD);
    const a = await gateway.request('POST', '/api/v1/routes', {
      token,
      body: route('csrf-bearer'),
    });
    expect(a.status).toBe(201);
    const key = (
      await gateway.create(adminToken, '/api/v1/api-keys', {
        name: 'console-key',
        roles: ['editor'],
      })
    ).body as { key: string };
    const b = await gateway.request('DELETE', '/api/v1/routes/csrf-bearer', { apiKey: key.key });
    expect(b.status).toBe(204);
  });

  it('the cookie still needs the permission', async () => {
    const b = await browserLogin('console-viewer');
    const res = await gateway.request('POST', '/api/v1/routes', {
      headers: { cookie: b.cookie, 'x-csrf-token': b.csrf },
      body: route('csrf-viewer'),
    });
    expect(res.status).toBe(403);
    expect((res.body as { message: string }).message).toMatch(/routes\.write/);
  });

  it('logout ends the session and clears both cookies', async () => {
    const b = await browserLogin('console-operator');
    const res = await gateway.request('POST', '/api/v1/auth/logout', {
      headers: { cookie: b.cookie, 'x-csrf-token': b.csrf },
    });
    expect(res.status).toBe(204);
    const lines = setCookies(res);
    expect(lines).toContainEqual(
      expect.stringMatching(/^junction_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^junction_csrf=; Path=\/; Max-Age=0; SameSite=Strict/),
    );
    const me = await gateway.request('GET', '/api/v1/auth/me', { headers: { cookie: b.cookie } });
    expect(me.status).toBe(401);
  });

  it('an expired session answers 401 on /auth/me (cookie and Bearer alike)', async () => {
    const b = await browserLogin('console-auditor');
    expect(
      (await gateway.request('GET', '/api/v1/auth/me', { headers: { cookie: b.cookie } })).status,
    ).toBe(200);
    const db = new DataSource({ type: 'postgres', url: gateway.databaseUrl });
    await db.initialize();
    try {
      const { sid } = JSON.parse(Buffer.from(b.session.split('.')[1], 'base64url').toString()) as {
        sid: string;
      };
      await db.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [
        sid,
      ]);
    } finally {
      await db.destroy();
    }
    const me = await gateway.request('GET', '/api/v1/auth/me', { headers: { cookie: b.cookie } });
    expect(me.status).toBe(401);
    expect((me.body as { message: string }).message).toMatch(/session expired/);
    const bearer = await gateway.request('GET', '/api/v1/auth/me', { token: b.session });
    expect(bearer.status).toBe(401);
  });

  it('a forged or tampered cookie is 401', async () => {
    const b = await browserLogin('console-viewer');
    const tampered = b.session.slice(0, -2) + (b.session.endsWith('AA') ? 'BB' : 'AA');
    for (const cookie of [
      `junction_session=${tampered}`,
      'junction_session=abc',
      'junction_session=',
    ]) {
      const res = await gateway.request('GET', '/api/v1/auth/me', { headers: { cookie } });
      expect({ cookie, status: res.status }).toEqual({ cookie, status: 401 });
    }
  });
});

describe('GET /auth/me tells the console what the server allows', () => {
  it('per role: exactly the permissions the table grants, and when the session expires', async () => {
    for (const role of ROLES) {
      const b = await browserLogin(`console-${role}`);
      const me = await gateway.request('GET', '/api/v1/auth/me', { headers: { cookie: b.cookie } });
      expect(me.body).toEqual({
        kind: 'user',
        id: expect.any(String),
        name: `console-${role}`,
        provider: 'local',
        roles: [role],
        permissions: PERMISSIONS.filter((p) => permits([role as Role], p)),
        expiresAt: expect.any(String),
      });
      const expires = Date.parse((me.body as { expiresAt: string }).expiresAt);
      expect(expires).toBeGreaterThan(Date.now());
    }
  });

  it('an API key: its roles and permissions, no expiry unless it has one', async () => {
    const key = (
      await gateway.create(adminToken, '/api/v1/api-keys', {
        name: 'me-key',
        roles: ['operator', 'auditor'],
      })
    ).body as { key: string };
    const me = await gateway.request('GET', '/api/v1/auth/me', { apiKey: key.key });
    expect(me.body).toEqual({
      kind: 'apiKey',
      id: expect.any(String),
      name: 'me-key',
      provider: 'apiKey',
      roles: ['auditor', 'operator'],
      permissions: [
        'routes.read',
        'routes.run',
        'deadletters.read',
        'deadletters.write',
        'audit.read',
      ],
    });
  });

  it('GET /auth/providers is public: local only here', async () => {
    const res = await gateway.request('GET', '/api/v1/auth/providers');
    expect(res.body).toEqual({ local: true, ldap: false, oidc: false });
  });
});

describe('the sessions an admin lists', () => {
  it('show no card number a signing-in client wrote into its User-Agent', async () => {
    const res = await gateway.request('POST', '/api/v1/auth/login', {
      body: { username: 'console-viewer', password: PASSWORD },
      headers: { 'user-agent': 'Agent/1.0 (card 4111 1111 1111 1111)' },
    });
    expect(res.status).toBe(200);
    const sessions = await gateway.request('GET', '/api/v1/sessions', { token: adminToken });
    const agents = (sessions.body as Array<{ userAgent: string | null }>).map((s) => s.userAgent);
    expect(agents).toContain('Agent/1.0 (card [PAN REDACTED])');
    // In any spelling (a session's random id may hold "4111" by chance).
    expect(sessions.text).not.toMatch(/4111[ -]?1111[ -]?1111[ -]?1111/);
  });
});

describe('what the console does for an admin, through the cookie and the CSRF token', () => {
  it('create a user, assign roles, disable; issue a key (shown once) and revoke it; list and end sessions', async () => {
    const b = await browserLogin('admin', gateway.adminPassword);
    const headers = { cookie: b.cookie, 'x-csrf-token': b.csrf };
    const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) =>
      gateway.request(method, url, { headers, body });

    const created = await call('POST', '/api/v1/users', {
      username: 'console-made',
      password: PASSWORD,
      roles: ['viewer'],
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    const userToken = await gateway.login('console-made', PASSWORD);
    const roles = await call('PATCH', `/api/v1/users/${id}`, { roles: ['editor', 'operator'] });
    expect(roles.body).toMatchObject({ roles: ['editor', 'operator'] });
    const disabled = await call('PATCH', `/api/v1/users/${id}`, { disabled: true });
    expect(disabled.body).toMatchObject({ disabled: true });
    // Disabling ended the user's sessions.
    expect((await gateway.request('GET', '/api/v1/auth/me', { token: userToken })).status).toBe(
      401,
    );

    const key = await call('POST', '/api/v1/api-keys', {
      name: 'console-key-2',
      roles: ['viewer'],
    });
    expect(key.status).toBe(201);
    const { key: secret, id: keyId } = key.body as { key: string; id: string };
    expect(secret).toMatch(/^jk_/);
    const listed = await call('GET', '/api/v1/api-keys');
    expect(listed.text).not.toContain(secret);
    expect((await gateway.request('GET', '/api/v1/auth/me', { apiKey: secret })).status).toBe(200);
    expect((await call('DELETE', `/api/v1/api-keys/${keyId}`)).status).toBe(204);
    expect((await gateway.request('GET', '/api/v1/auth/me', { apiKey: secret })).status).toBe(401);

    const other = await browserLogin('console-operator');
    const sessions = (await call('GET', '/api/v1/sessions')).body as Array<{
      id: string;
      username: string;
      current: boolean;
    }>;
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(sessions.find((s) => s.current)!.username).toBe('admin');
    const target = sessions.find((s) => s.username === 'console-operator' && !s.current)!;
    // Without the CSRF token the console cannot end it...
    const refused = await gateway.request('DELETE', `/api/v1/sessions/${target.id}`, {
      headers: { cookie: b.cookie },
    });
    expect(refused.status).toBe(403);
    // ...with it, it can.
    for (const s of sessions.filter((x) => x.username === 'console-operator'))
      expect((await call('DELETE', `/api/v1/sessions/${s.id}`)).status).toBe(204);
    const gone = await gateway.request('GET', '/api/v1/auth/me', {
      headers: { cookie: other.cookie },
    });
    expect(gone.status).toBe(401);
  });
});

// Last: a second gateway on the same database replaces the first one's passport strategies
// (passport keeps them process-wide), so nothing may run on the first one after it.
describe('configuration', () => {
  it('Secure when configured with JUNCTION_COOKIE_SECURE=true', async () => {
    const secure = await startTestGateway(
      { JUNCTION_COOKIE_SECURE: 'true' },
      { databaseUrl: gateway.databaseUrl, masterKey: gateway.masterKey },
    );
    try {
      const res = await secure.request('POST', '/api/v1/auth/login', {
        body: { username: 'console-viewer', password: PASSWORD },
      });
      for (const line of setCookies(res)) expect(line).toMatch(/; Secure$/);
    } finally {
      await secure.app.close();
    }
  });
});
