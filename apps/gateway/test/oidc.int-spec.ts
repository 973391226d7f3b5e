/**
 * OpenID Connect sign-in and bearer tokens against a real OpenID provider (oidc-provider, run
 * by ./oidc-provider.mjs in a child process), through the whole gateway on a real Postgres. The
 * test plays the browser: it follows the redirects over HTTP, fills in the provider's login and
 * consent pages, and hands the callback to the gateway with the gateway's sign-in cookie.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  AUTH_EVENT_SINK,
  AuthEvent,
  AuthEventSink,
  OidcSignInService,
  PROVIDER_CHECK_MS,
  Role,
} from '@junction/auth';
import { DataSource } from 'typeorm';
import { loadGatewayConfig } from '../src/config';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';
jest.setTimeout(60_000);

const REDIRECT_URI = 'http://127.0.0.1:8080/api/v1/auth/oidc/callback';
const CLI_REDIRECT_URI = 'http://127.0.0.1:9/cli/callback';
const API_AUDIENCE = 'urn:junction:api';
const CLIENT_SECRET = `gateway-secret-${randomBytes(8).toString('hex')}`;
const REFUSED = 'OpenID Connect sign-in failed; start again';

const SETUP = {
  clients: [
    {
      client_id: 'junction-gateway',
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      // The gateway as a client that may refresh: with offline_access, the provider check.
      client_id: 'junction-offline',
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      // A command line tool of the user's, to get an access token for the API.
      client_id: 'junction-cli',
      redirect_uris: [CLI_REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
  ],
  accounts: {
    grace: {
      name: 'Grace Hopper',
      email: 'grace@idp.test',
      email_verified: true,
      groups: ['gateway-admins', 'gateway-viewers'],
    },
    // Typed grace's address at a provider that lets anyone set an unverified one.
    mallory: {
      name: 'Mallory',
      email: 'grace@idp.test',
      email_verified: false,
      groups: ['gateway-viewers'],
    },
    henry: { name: 'Henry Auditor', email: 'henry@idp.test', groups: ['gateway-auditors'] },
    ivan: { name: 'Ivan Outsider', groups: ['somebody-else'] },
    kate: { name: 'Kate Leaver', groups: ['gateway-admins', 'gateway-viewers'] },
    leo: { name: 'Leo Mover', groups: ['gateway-admins', 'gateway-viewers'] },
    mia: { name: 'Mia Stayer', groups: ['gateway-admins'] },
    nina: { name: 'Nina Outage', groups: ['gateway-admins'] },
    otto: { name: 'Otto Policy', groups: ['gateway-viewers'] },
    pia: { name: 'Pia Policy', groups: ['gateway-viewers'] },
    quinn: { name: 'Quinn Bystander', groups: ['gateway-viewers'] },
  },
  apiAudience: API_AUDIENCE,
};

let provider: ChildProcess;
let issuer: string;
let gateway: TestGateway;
let adminToken: string;
const events: AuthEvent[] = [];

function oidcEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    JUNCTION_OIDC_ISSUER: issuer,
    JUNCTION_OIDC_CLIENT_ID: 'junction-gateway',
    JUNCTION_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    JUNCTION_OIDC_REDIRECT_URI: REDIRECT_URI,
    JUNCTION_OIDC_SCOPES: 'openid profile email groups',
    JUNCTION_OIDC_CLAIM_ROLES:
      'gateway-admins=admin;gateway-viewers=viewer;gateway-auditors=auditor',
    JUNCTION_OIDC_ACCEPT_BEARER: 'true',
    JUNCTION_OIDC_BEARER_AUDIENCE: API_AUDIENCE,
    ...extra,
  };
}

async function startProvider(): Promise<void> {
  provider = spawn(process.execPath, [join(__dirname, 'oidc-provider.mjs')], {
    env: { ...process.env, OIDC_TEST_SETUP: JSON.stringify(SETUP) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  provider.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: provider.stdout! });
  issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider did not start: ${stderr}`)), 20_000);
    provider.once('exit', (code) => reject(new Error(`provider exited (${code}): ${stderr}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { issuer: string }).issuer);
    });
  });
}

/** The browser's cookies at the provider (all sent everywhere: the names do not collide). */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(at + 1));
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const unescapeHtml = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&#x2F;/gi, '/')
    .replace(/&quot;/g, '"');

/**
 * Plays the user at the provider: follows redirects, signs in as `login` on the provider's
 * login page, consents, and returns the URL the provider sends the browser back to.
 */
async function authorize(authorizationUrl: string, login: string, back: string): Promise<URL> {
  const jar = new CookieJar();
  let url = authorizationUrl;
  let body: string | undefined;
  for (let hop = 0; hop < 20; hop++) {
    const res = await fetch(url, {
      method: body ? 'POST' : 'GET',
      body,
      redirect: 'manual',
      headers: {
        cookie: jar.header(),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
    });
    jar.store(res);
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, url);
      if (next.href.startsWith(back)) return next;
      url = next.href;
      body = undefined;
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`provider answered ${res.status}: ${html}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`unexpected provider page: ${html.slice(0, 500)}`);
    body = new URLSearchParams(
      prompt === 'login' ? { prompt, login, password: 'any password' } : { prompt },
    ).toString();
    url = new URL(unescapeHtml(action), url).href;
  }
  throw new Error('too many redirects at the provider');
}

interface Started {
  cookie: string;
  setCookie: string;
  location: URL;
}

async function startLogin(gw: TestGateway): Promise<Started> {
  const res = await gw.request('GET', '/api/v1/auth/oidc/login');
  expect({ status: res.status, body: res.body }).toMatchObject({ status: 302 });
  const setCookie = String(res.headers['set-cookie']);
  return {
    setCookie,
    cookie: setCookie.split(';')[0],
    location: new URL(String(res.headers.location)),
  };
}

const callbackPath = (callback: URL) => `${callback.pathname}${callback.search}`;

async function finish(gw: TestGateway, cookie: string | undefined, callback: URL) {
  return gw.request('GET', callbackPath(callback), { headers: cookie ? { cookie } : {} });
}

async function signIn(gw: TestGateway, login: string): Promise<TestResponse> {
  const started = await startLogin(gw);
  const callback = await authorize(started.location.href, login, REDIRECT_URI);
  return finish(gw, started.cookie, callback);
}

function expectRefused(res: TestResponse, what: string): void {
  expect({ what, status: res.status, body: res.body }).toEqual({
    what,
    status: 401,
    body: { statusCode: 401, error: 'Unauthorized', message: REFUSED },
  });
}

/** An access token for the API, as the user's own tool (public client, PKCE) gets it. */
async function accessToken(login: string): Promise<{ access: string; id: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL(`${issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: 'junction-cli',
    redirect_uri: CLI_REDIRECT_URI,
    response_type: 'code',
    scope: 'openid api:read',
    resource: API_AUDIENCE,
    state: randomBytes(8).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  const back = await authorize(auth.href, login, CLI_REDIRECT_URI);
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: 'junction-cli',
      code: back.searchParams.get('code')!,
      redirect_uri: CLI_REDIRECT_URI,
      code_verifier: verifier,
      resource: API_AUDIENCE,
    }).toString(),
  });
  const tokens = (await res.json()) as { access_token: string; id_token: string };
  expect(res.status).toBe(200);
  return { access: tokens.access_token, id: tokens.id_token };
}

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;

/** Keeps what the gateway's auth event sink records in `events`, as well as recording it. */
function recordEvents(gw: TestGateway): void {
  const sink = gw.app.get<AuthEventSink>(AUTH_EVENT_SINK);
  const record = sink.record.bind(sink);
  jest.spyOn(sink, 'record').mockImplementation((event) => {
    events.push(event);
    return record(event);
  });
}

beforeAll(async () => {
  await startProvider();
  gateway = await startTestGateway(oidcEnv());
  recordEvents(gateway);
  adminToken = await gateway.login('admin', gateway.adminPassword);
});

afterAll(async () => {
  await gateway?.close();
  provider?.kill('SIGTERM');
});

describe('OIDC sign-in (authorization code flow with PKCE)', () => {
  it('redirects to the provider with PKCE S256, state and nonce kept in a sealed cookie', async () => {
    const { location, setCookie, cookie } = await startLogin(gateway);
    expect(location.origin + location.pathname).toBe(`${issuer}/auth`);
    const q = location.searchParams;
    expect(Object.fromEntries(q)).toMatchObject({
      client_id: 'junction-gateway',
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid profile email groups',
      code_challenge_method: 'S256',
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      state: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/),
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/),
    });
    expect(setCookie).toMatch(
      /^junction_oidc=[^;]+; Path=\/api\/v1\/auth\/oidc; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );
    // Sealed: neither the state nor the nonce can be read from it.
    const value = decodeURIComponent(cookie.split('=')[1]);
    expect(value).not.toContain(q.get('state'));
    expect(value).not.toContain(q.get('nonce'));
  });

  it('a valid sign-in gets the mapped roles and the same session token as a local sign-in', async () => {
    const started = await startLogin(gateway);
    const callback = await authorize(started.location.href, 'grace', REDIRECT_URI);
    expect(callback.searchParams.get('state')).toBe(started.location.searchParams.get('state'));
    const res = await finish(gateway, started.cookie, callback);
    expect({ status: res.status, body: res.body }).toMatchObject({
      status: 200,
      body: {
        token: expect.any(String),
        expiresAt: expect.any(String),
        user: { kind: 'user', name: 'grace', provider: 'oidc', roles: ['admin', 'viewer'] },
      },
    });
    // The cookie is spent.
    expect(String(res.headers['set-cookie'])).toMatch(/^junction_oidc=; .*Max-Age=0/);
    const { token } = res.body as { token: string };
    expect(claimsOf(token)).toMatchObject({ sub: expect.any(String), prv: 'oidc' });
    const me = await gateway.request('GET', '/api/v1/auth/me', { token });
    expect(me.body).toMatchObject({ name: 'grace', provider: 'oidc', roles: ['admin', 'viewer'] });
    expect((await gateway.request('GET', '/api/v1/users', { token })).status).toBe(200);
    const users = (await gateway.request('GET', '/api/v1/users', { token: adminToken })).body as {
      username: string;
      provider: string;
    }[];
    expect(users.find((u) => u.provider === 'oidc' && u.username === 'grace')).toMatchObject({
      displayName: 'Grace Hopper',
      email: 'grace@idp.test',
      roles: ['admin', 'viewer'],
    });
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'login.succeeded', actor: 'grace', provider: 'oidc' }),
    );
    // The same callback again (a replayed code and cookie) is refused.
    expectRefused(await finish(gateway, started.cookie, callback), 'replay');
  });

  it('henry the auditor may do what an auditor may, and nothing more', async () => {
    const res = await signIn(gateway, 'henry');
    expect(res.status).toBe(200);
    const { token, user } = res.body as { token: string; user: { roles: Role[] } };
    expect(user.roles).toEqual(['auditor']);
    expect((await gateway.request('GET', '/api/v1/auth/me', { token })).status).toBe(200);
    for (const url of ['/api/v1/routes', '/api/v1/users', '/api/v1/sessions'])
      expect({ url, status: (await gateway.request('GET', url, { token })).status }).toEqual({
        url,
        status: 403,
      });
  });

  it('a user in no mapped group is refused and gets no account', async () => {
    expectRefused(await signIn(gateway, 'ivan'), 'ivan');
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'login.failed',
        actor: 'ivan',
        provider: 'oidc',
        reason: 'no group that maps to a role',
      }),
    );
    const users = (await gateway.request('GET', '/api/v1/users', { token: adminToken })).body as {
      username: string;
    }[];
    expect(users.map((u) => u.username)).not.toContain('ivan');
  });

  it.each([
    ['a tampered signature', 'signature', /signature verification failed/],
    ['a wrong audience', 'audience', /"aud"/],
    ['an expired ID token', 'expired', /"exp"/],
    ['a wrong nonce', 'nonce', /"nonce"/],
    ['a wrong issuer', 'issuer', /"iss"/],
    ['an HS256 token signed with the client secret', 'alg-hs256', /"alg"/],
    ['an unsigned (alg none) token', 'alg-none', /"alg"/],
  ])('an ID token with %s -> 401', async (_what, mode, reason) => {
    const started = await startLogin(gateway);
    const callback = await authorize(started.location.href, 'grace', REDIRECT_URI);
    const tamper = await fetch(`${issuer}/__test/tamper?mode=${mode}`, { method: 'POST' });
    expect(tamper.status).toBe(204);
    const before = events.length;
    expectRefused(await finish(gateway, started.cookie, callback), mode);
    // Refused for that reason (recorded for the audit trail, never told to the caller).
    expect(events.slice(before)).toEqual([
      expect.objectContaining({
        type: 'login.failed',
        provider: 'oidc',
        reason: expect.stringMatching(reason),
      }),
    ]);
  });

  it('a state that does not match the cookie -> 401', async () => {
    const a = await startLogin(gateway);
    const b = await startLogin(gateway);
    const callback = await authorize(a.location.href, 'grace', REDIRECT_URI);
    // Another sign-in's cookie (login CSRF: an attacker's code in the victim's browser).
    const before = events.length;
    expectRefused(await finish(gateway, b.cookie, callback), "another sign-in's cookie");
    expect(events.slice(before)).toEqual([
      expect.objectContaining({ type: 'login.failed', reason: expect.stringMatching(/"state"/) }),
    ]);
    // The right cookie, but the state in the URL changed.
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-state');
    expectRefused(await finish(gateway, a.cookie, forged), 'forged state');
    // No cookie at all, or a cookie that is not ours.
    expectRefused(await finish(gateway, undefined, callback), 'no cookie');
    expectRefused(await finish(gateway, 'junction_oidc=v1%3Aforged', callback), 'forged cookie');
  });

  it('an error answer from the provider (the user said no) -> 401', async () => {
    const { cookie, location } = await startLogin(gateway);
    const denied = new URL(REDIRECT_URI);
    denied.search = new URLSearchParams({
      error: 'access_denied',
      state: location.searchParams.get('state')!,
      iss: issuer,
    }).toString();
    expectRefused(await finish(gateway, cookie, denied), 'access_denied');
  });

  it("an OIDC user's session is listed and can be revoked", async () => {
    const res = await signIn(gateway, 'grace');
    const { token } = res.body as { token: string };
    const sid = claimsOf(token).sid as string;
    const sessions = (await gateway.request('GET', '/api/v1/sessions', { token: adminToken }))
      .body as { id: string; username: string; provider: string }[];
    expect(sessions.find((s) => s.id === sid)).toMatchObject({
      username: 'grace',
      provider: 'oidc',
    });
    expect(
      (await gateway.request('DELETE', `/api/v1/sessions/${sid}`, { token: adminToken })).status,
    ).toBe(204);
    expect((await gateway.request('GET', '/api/v1/auth/me', { token })).status).toBe(401);
  });
});

describe('OIDC sign-in from the console (browser)', () => {
  /** Cookies a Set-Cookie list leaves, as a Cookie header. */
  const cookiesOf = (setCookie: unknown): Record<string, string> =>
    Object.fromEntries(
      [setCookie]
        .flat()
        .map((line) => String(line).split(';')[0])
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    );

  async function browserSignIn(query: string, accept?: string) {
    const start = await gateway.request('GET', `/api/v1/auth/oidc/login${query}`);
    expect(start.status).toBe(302);
    const cookie = String(start.headers['set-cookie']).split(';')[0];
    const callback = await authorize(String(start.headers.location), 'grace', REDIRECT_URI);
    return gateway.request('GET', callbackPath(callback), {
      headers: { cookie, ...(accept ? { accept } : {}) },
    });
  }

  it('with returnTo under /console: session + CSRF cookies and a 302 back there', async () => {
    for (const returnTo of ['/console/routes/orders-eu', '/console', '/console/?tab=versions']) {
      const res = await browserSignIn(`?returnTo=${encodeURIComponent(returnTo)}`);
      expect({ returnTo, status: res.status, location: res.headers.location }).toEqual({
        returnTo,
        status: 302,
        location: returnTo,
      });
      const lines = [res.headers['set-cookie']].flat().map(String);
      expect(lines).toContainEqual(expect.stringMatching(/^junction_oidc=; .*Max-Age=0/));
      expect(lines).toContainEqual(
        expect.stringMatching(
          /^junction_session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/,
        ),
      );
      expect(lines).toContainEqual(
        expect.stringMatching(/^junction_csrf=[^;]+; Path=\/; Max-Age=\d+; SameSite=Strict$/),
      );
      expect(res.text).not.toMatch(/token/);
      const jar = cookiesOf(res.headers['set-cookie']);
      const cookie = `junction_session=${jar.junction_session}; junction_csrf=${jar.junction_csrf}`;
      const me = await gateway.request('GET', '/api/v1/auth/me', { headers: { cookie } });
      expect(me.body).toMatchObject({
        name: 'grace',
        provider: 'oidc',
        roles: ['admin', 'viewer'],
      });
      // A change through the cookie needs the CSRF token.
      const refused = await gateway.request('POST', '/api/v1/auth/logout', { headers: { cookie } });
      expect(refused.status).toBe(403);
      const out = await gateway.request('POST', '/api/v1/auth/logout', {
        headers: { cookie, 'x-csrf-token': jar.junction_csrf },
      });
      expect(out.status).toBe(204);
      expect(
        (await gateway.request('GET', '/api/v1/auth/me', { headers: { cookie } })).status,
      ).toBe(401);
    }
  });

  it('a returnTo outside /console is ignored: a browser lands on /console, an API client gets JSON', async () => {
    const foreign = [
      'https://evil.example/console',
      '//evil.example/console',
      '/consolex',
      '/console/../api/v1/users',
      '/console\\@evil.example',
      '/api/v1/users',
      'javascript:alert(1)',
      '/console//evil.example',
    ];
    for (const returnTo of foreign) {
      const api = await browserSignIn(`?returnTo=${encodeURIComponent(returnTo)}`);
      expect({ returnTo, status: api.status }).toEqual({ returnTo, status: 200 });
      expect(api.body).toMatchObject({ token: expect.any(String) });
    }
    const html = await browserSignIn(
      `?returnTo=${encodeURIComponent('https://evil.example/')}`,
      'text/html,application/xhtml+xml',
    );
    expect({ status: html.status, location: html.headers.location }).toEqual({
      status: 302,
      location: '/console',
    });
    expect(cookiesOf(html.headers['set-cookie'])).toMatchObject({
      junction_session: expect.any(String),
      junction_csrf: expect.any(String),
    });
  });

  it('GET /auth/providers tells the sign-in screen that OIDC is on', async () => {
    const res = await gateway.request('GET', '/api/v1/auth/providers');
    expect(res.body).toEqual({ local: true, ldap: false, oidc: true });
  });
});

describe("the provider's access tokens as Bearer", () => {
  it('are accepted with the roles their groups map to', async () => {
    const { access } = await accessToken('grace');
    expect(claimsOf(access)).toMatchObject({ aud: API_AUDIENCE, iss: issuer, sub: 'grace' });
    const me = await gateway.request('GET', '/api/v1/auth/me', { token: access });
    expect(me.body).toMatchObject({
      kind: 'user',
      name: 'grace',
      provider: 'oidc',
      roles: ['admin', 'viewer'],
    });
    expect((await gateway.request('GET', '/api/v1/users', { token: access })).status).toBe(200);
    const henry = await accessToken('henry');
    expect((await gateway.request('GET', '/api/v1/routes', { token: henry.access })).status).toBe(
      403,
    );
  });

  it('are refused when tampered, meant for another audience, or of a user in no group', async () => {
    const { access, id } = await accessToken('grace');
    const [h, p, s] = access.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[5] ^= 0x01;
    const forgedSignature = `${h}.${p}.${sig.toString('base64url')}`;
    // Claims changed (more groups), the provider's signature kept.
    const morePayload = Buffer.from(
      JSON.stringify({ ...claimsOf(access), groups: ['gateway-admins'], sub: 'henry' }),
    ).toString('base64url');
    const forgedClaims = `${h}.${morePayload}.${s}`;
    for (const [what, token] of [
      ['tampered signature', forgedSignature],
      ['tampered claims', forgedClaims],
      // Signed by the provider, but for the CLI (an ID token): not for this API.
      ['ID token of another client', id],
    ]) {
      const res = await gateway.request('GET', '/api/v1/auth/me', { token });
      expect({ what, status: res.status }).toEqual({ what, status: 401 });
    }
    const ivan = await accessToken('ivan');
    expect((await gateway.request('GET', '/api/v1/auth/me', { token: ivan.access })).status).toBe(
      401,
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'request.denied', status: 401, path: '/api/v1/auth/me' }),
    );
  });

  it('are refused when the gateway is not configured to accept them', async () => {
    const gw = await startTestGateway(
      oidcEnv({ JUNCTION_OIDC_ACCEPT_BEARER: 'false', JUNCTION_OIDC_BEARER_AUDIENCE: '' }),
    );
    try {
      const { access } = await accessToken('grace');
      expect((await gw.request('GET', '/api/v1/auth/me', { token: access })).status).toBe(401);
      // Sign-in still works there.
      expect((await signIn(gw, 'grace')).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});

describe('configuration and availability', () => {
  it('names each bad or missing variable, never echoing the secret', () => {
    let message = '';
    try {
      loadGatewayConfig({
        JUNCTION_OIDC_ISSUER: 'http://idp.example.com',
        JUNCTION_OIDC_ACCEPT_BEARER: 'true',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/JUNCTION_OIDC_ISSUER="http:\/\/idp.example.com": must be https/);
    message = '';
    try {
      loadGatewayConfig({
        JUNCTION_OIDC_ISSUER: 'https://idp.example.com',
        JUNCTION_OIDC_CLIENT_ID: 'junction',
        JUNCTION_OIDC_ACCEPT_BEARER: 'true',
        JUNCTION_OIDC_BEARER_AUDIENCE: 'junction',
        JUNCTION_OIDC_SCOPES: 'profile',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/JUNCTION_OIDC_SCOPES="profile": must include openid/);
    let second = '';
    try {
      loadGatewayConfig({
        JUNCTION_OIDC_ISSUER: 'https://idp.example.com',
        JUNCTION_OIDC_CLIENT_ID: 'junction',
        JUNCTION_OIDC_CLIENT_SECRET: CLIENT_SECRET,
        JUNCTION_OIDC_ACCEPT_BEARER: 'true',
        JUNCTION_OIDC_BEARER_AUDIENCE: 'junction',
      });
    } catch (err) {
      second = (err as Error).message;
    }
    expect(second).toMatch(/JUNCTION_OIDC_REDIRECT_URI is required/);
    expect(second).toMatch(/JUNCTION_OIDC_CLAIM_ROLES is required/);
    expect(second).toMatch(
      /JUNCTION_OIDC_BEARER_AUDIENCE must differ from JUNCTION_OIDC_CLIENT_ID/,
    );
    expect(second).not.toContain(CLIENT_SECRET);
    expect(() => loadGatewayConfig({ ...oidcEnv(), JUNCTION_OIDC_CLIENT_SECRET: '' })).toThrow(
      /JUNCTION_OIDC_CLIENT_SECRET is required/,
    );
    expect(() => loadGatewayConfig({ JUNCTION_OIDC_CLIENT_ID: 'x' })).toThrow(
      /JUNCTION_OIDC_CLIENT_ID is set but JUNCTION_OIDC_ISSUER is not/,
    );
    expect(loadGatewayConfig(oidcEnv()).auth.oidc).toMatchObject({
      issuer,
      clientId: 'junction-gateway',
      rolesClaim: 'groups',
      usernameClaim: 'sub',
      algorithm: 'RS256',
    });
  });

  it('OIDC endpoints answer 404 when OIDC is not configured, and 503 when the provider is down', async () => {
    const off = await startTestGateway();
    const down = await startTestGateway(
      oidcEnv({ JUNCTION_OIDC_ISSUER: 'http://127.0.0.1:9', JUNCTION_OIDC_TIMEOUT_MS: '2000' }),
    );
    try {
      expect((await off.request('GET', '/api/v1/auth/oidc/login')).status).toBe(404);
      expect((await off.request('GET', '/api/v1/auth/oidc/callback?code=x&state=y')).status).toBe(
        404,
      );
      const res = await down.request('GET', '/api/v1/auth/oidc/login');
      expect(res.status).toBe(503);
      expect(res.text).not.toContain(CLIENT_SECRET);
      // Sign-in by other means goes on.
      expect((await down.request('GET', '/health/ready')).status).toBe(200);
      await down.login('admin', down.adminPassword);
    } finally {
      await Promise.all([off.close(), down.close()]);
    }
  });
});

describe('the e-mail address as the user name', () => {
  it("signs in only an address the provider verified: another's unverified claim to it is refused", async () => {
    const byEmail = await startTestGateway(oidcEnv({ JUNCTION_OIDC_USERNAME_CLAIM: 'email' }));
    const trusting = await startTestGateway(
      oidcEnv({
        JUNCTION_OIDC_USERNAME_CLAIM: 'email',
        JUNCTION_OIDC_REQUIRE_VERIFIED_EMAIL: 'false',
      }),
    );
    try {
      recordEvents(byEmail);
      const grace = await signIn(byEmail, 'grace');
      expect({ status: grace.status, body: grace.body }).toMatchObject({
        status: 200,
        body: { user: { name: 'grace@idp.test', provider: 'oidc' } },
      });
      const before = events.length;
      expectRefused(await signIn(byEmail, 'mallory'), 'mallory');
      expect(events.slice(before)).toContainEqual(
        expect.objectContaining({
          type: 'login.failed',
          provider: 'oidc',
          reason: "the 'email' claim is not verified (email_verified)",
        }),
      );
      // Her bearer access tokens carry no verified address either.
      const { access } = await accessToken('mallory');
      expect((await byEmail.request('GET', '/api/v1/auth/me', { token: access })).status).toBe(401);
      // A provider whose addresses are all its own (the operator says so) signs her in.
      const taken = await signIn(trusting, 'mallory');
      expect({ status: taken.status, body: taken.body }).toMatchObject({
        status: 200,
        body: { user: { name: 'grace@idp.test' } },
      });
    } finally {
      await Promise.all([byEmail.close(), trusting.close()]);
    }
  });
});

/** The sealed refresh token the gateway keeps for an OIDC user (null: none). */
async function providerToken(gw: TestGateway, username: string): Promise<string | null> {
  const rows = (await gw.app
    .get(DataSource)
    .query(`SELECT provider_token FROM users WHERE provider = 'oidc' AND username = $1`, [
      username,
    ])) as { provider_token: string | null }[];
  return rows[0].provider_token;
}

describe('the provider check (offline_access): leavers lose what they held', () => {
  let offline: TestGateway;
  /** Makes kept grants due (all, or one user's), as if PROVIDER_CHECK_MS had passed by the database's clock. */
  const age = (gw: TestGateway, username?: string) =>
    gw.app.get(DataSource).query(
      `UPDATE users SET provider_checked_at = provider_checked_at - $1 * interval '1 millisecond'
          WHERE provider_checked_at IS NOT NULL AND ($2::text IS NULL OR username = $2)`,
      [PROVIDER_CHECK_MS + 1_000, username ?? null],
    );
  /** A run of the check once the grants (all, or one user's) are due; `checkNow` without that. */
  const check = async (gw: TestGateway = offline, username?: string) => {
    await age(gw, username);
    return gw.app.get(OidcSignInService).checkProvider();
  };
  const checkNow = () => offline.app.get(OidcSignInService).checkProvider();
  const atProvider = (method: 'PUT' | 'DELETE', query: string) =>
    fetch(`${issuer}/__test/account?${query}`, { method }).then((res) =>
      expect(res.status).toBe(204),
    );
  const kept = (gw: TestGateway, username: string) => providerToken(gw, username);

  beforeAll(async () => {
    offline = await startTestGateway(
      oidcEnv({
        JUNCTION_OIDC_CLIENT_ID: 'junction-offline',
        JUNCTION_OIDC_SCOPES: 'openid profile email groups offline_access',
      }),
    );
    recordEvents(offline);
  });

  afterAll(async () => {
    await offline?.close();
  });

  async function offlineSignIn(login: string): Promise<{ token: string; roles: Role[] }> {
    const res = await signIn(offline, login);
    expect({ login, status: res.status }).toEqual({ login, status: 200 });
    const { token, user } = res.body as { token: string; user: { roles: Role[] } };
    return { token, roles: user.roles };
  }

  it('a user removed at the provider loses its roles, sessions and API keys at the next check', async () => {
    const kate = await offlineSignIn('kate');
    expect(kate.roles).toEqual(['admin', 'viewer']);
    // The refresh token is kept sealed, never as the provider sent it.
    expect(await kept(offline, 'kate')).toMatch(/^v1:[A-Za-z0-9+/=]+$/);
    const key = (
      await offline.request('POST', '/api/v1/api-keys', {
        token: kate.token,
        body: { name: 'kate-script', roles: ['viewer'] },
      })
    ).body as { key: string };
    const withKey = async () =>
      (await offline.request('GET', '/api/v1/routes', { apiKey: key.key })).status;
    expect(await withKey()).toBe(200);

    expect(await checkNow()).toBe(0); // just signed in: not due yet
    expect(await check()).toBe(0); // due, asked, still granted
    await atProvider('DELETE', 'id=kate');
    expect(await check()).toBe(1);
    expect((await offline.request('GET', '/api/v1/auth/me', { token: kate.token })).status).toBe(
      401,
    );
    expect(await withKey()).toBe(403);
    expect(await kept(offline, 'kate')).toBeNull();
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'credentials.revoked',
        user: 'kate',
        provider: 'oidc',
        reason: expect.stringMatching(/identity provider ended the grant/),
      }),
    );
  });

  it('a user who left a mapped group loses that role only; the session goes on', async () => {
    const leo = await offlineSignIn('leo');
    expect(leo.roles).toEqual(['admin', 'viewer']);
    await atProvider('PUT', 'id=leo&groups=gateway-viewers');
    expect(await check()).toBe(1);
    const me = await offline.request('GET', '/api/v1/auth/me', { token: leo.token });
    expect(me.body).toMatchObject({ name: 'leo', roles: ['viewer'] });
    expect((await offline.request('GET', '/api/v1/users', { token: leo.token })).status).toBe(403);
    // The rotated refresh token was kept: the next check asks again and changes nothing.
    expect(await check()).toBe(0);
    expect(await check()).toBe(0);
  });

  it('a provider failing after it rotated the token (userinfo 503, a lost answer) withdraws nothing', async () => {
    const nina = await offlineSignIn('nina');
    const me = async () =>
      (await offline.request('GET', '/api/v1/auth/me', { token: nina.token })).body;
    // userinfo fails once after the token endpoint rotated the token: the new token was kept.
    await fetch(`${issuer}/__test/fail?what=userinfo`, { method: 'POST' });
    expect(await check(offline, 'nina')).toBe(0);
    expect(await check(offline, 'nina')).toBe(0);
    expect(await me()).toMatchObject({ roles: ['admin'] });
    // The token endpoint spends the token and its answer is lost: the kept one is in doubt, and
    // the provider's refusal of it next time drops it without withdrawing a role.
    await fetch(`${issuer}/__test/fail?what=token`, { method: 'POST' });
    expect(await check(offline, 'nina')).toBe(0);
    expect(await check(offline, 'nina')).toBe(0);
    expect(await me()).toMatchObject({ roles: ['admin'] });
    expect(await kept(offline, 'nina')).toBeNull();
    // A new sign-in keeps a new token, and the check goes on.
    await offlineSignIn('nina');
    expect(await kept(offline, 'nina')).toMatch(/^v1:/);
  });

  it('grants ended at once for many users (a provider policy) withdraw nothing', async () => {
    const signedIn = [];
    for (const login of ['otto', 'pia', 'quinn']) signedIn.push(await offlineSignIn(login));
    await atProvider('DELETE', 'id=otto');
    await atProvider('DELETE', 'id=pia');
    // Two of the users asked in one run lose everything: held back, and said so.
    expect(await check()).toBe(0);
    for (const { token } of signedIn)
      expect((await offline.request('GET', '/api/v1/auth/me', { token })).status).toBe(200);
  });

  it('without offline_access nothing is kept and nothing is checked', async () => {
    expect((await signIn(gateway, 'grace')).status).toBe(200);
    expect(await providerToken(gateway, 'grace')).toBeNull();
    expect(await gateway.app.get(OidcSignInService).checkProvider()).toBe(0);
  });
  // Last in the file: in one test process, closing a second app leaves passport's strategies
  // pointing at it, so no test may sign in after it.
  it('two processes checking at once spend the refresh token once (a reuse would look stolen)', async () => {
    const mia = await offlineSignIn('mia');
    // In one test process both apps share passport's strategies, so they share the key too.
    const other = await startTestGateway(
      oidcEnv({
        JUNCTION_OIDC_CLIENT_ID: 'junction-offline',
        JUNCTION_OIDC_SCOPES: 'openid profile email groups offline_access',
      }),
      { databaseUrl: offline.databaseUrl, masterKey: offline.masterKey },
    );
    try {
      await age(offline);
      const both = await Promise.all([
        checkNow(),
        other.app.get(OidcSignInService).checkProvider(),
      ]);
      expect(both).toEqual([0, 0]);
      expect(
        (await offline.request('GET', '/api/v1/auth/me', { token: mia.token })).body,
      ).toMatchObject({ name: 'mia', roles: ['admin'] });
      // The token kept is the one the provider handed out last: the next check is answered.
      await atProvider('PUT', 'id=mia&groups=gateway-viewers');
      expect(await check(other)).toBe(1);
    } finally {
      await other.close();
    }
  });
});
