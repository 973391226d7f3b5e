/**
 * LDAP sign-in against a real OpenLDAP (scripts/ldap.sh: slapd on 127.0.0.1:3389 with StartTLS
 * and ldaps on 3636, seeded with alice, bob, carol, dave, frank and the gateway-* groups), through
 * the whole gateway on a real Postgres. Started here when it is not running already.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AUTH_EVENT_SINK,
  AuthEvent,
  AuthEventSink,
  LdapDirectory,
  LdapSettings,
  LdapSignInService,
  LdapUnavailableError,
  Permission,
  permits,
  Role,
  RoleMapping,
  normalizeDn,
} from '@junction/auth';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';
jest.setTimeout(60_000);

const ROOT = join(__dirname, '../../..');
const LDAP_SH = join(ROOT, 'scripts/ldap.sh');
const BASE = 'dc=junction,dc=test';
const GROUPS = `ou=groups,${BASE}`;
const ADMIN_DN = `cn=admin,${BASE}`;
const ADMIN_PASSWORD = 'admin-secret';
// The ports scripts/ldap.sh listens on (its defaults unless the same variables say otherwise).
const LDAP_URL = `ldap://127.0.0.1:${process.env.JUNCTION_LDAP_PORT ?? 3389}`;
const LDAPS_URL = `ldaps://127.0.0.1:${process.env.JUNCTION_LDAPS_PORT ?? 3636}`;
const INVALID = 'invalid user name or password';

/** Spelled unlike the directory on purpose (case, spaces): DNs are compared normalised. */
const GROUP_ROLES = [
  `CN=Gateway-Admins, OU=Groups, DC=junction, DC=test=admin`,
  `cn=gateway-editors,${GROUPS}=editor`,
  `cn=gateway-operators,${GROUPS}=operator`,
  `cn=gateway-auditors,${GROUPS}=auditor`,
  `cn=gateway-viewers,${GROUPS}=viewer`,
].join(';');

let caFile: string;

function ldapEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    JUNCTION_LDAP_URL: LDAP_URL,
    JUNCTION_LDAP_BIND_DN: `cn=junction-svc,ou=services,${BASE}`,
    JUNCTION_LDAP_BIND_PASSWORD: 'svc-secret',
    JUNCTION_LDAP_USER_BASE: `ou=people,${BASE}`,
    JUNCTION_LDAP_GROUP_ROLES: GROUP_ROLES,
    ...extra,
  };
}

/** The test directory's own facts, from the script (starting it when it is not running). */
function ensureSlapd(): void {
  const status = spawnSync('bash', [LDAP_SH, 'status'], { encoding: 'utf8' });
  if (status.status !== 0) execFileSync('bash', [LDAP_SH, 'start'], { stdio: 'ignore' });
  const env = execFileSync('bash', [LDAP_SH, 'env'], { encoding: 'utf8' });
  caFile = /JUNCTION_LDAP_CA_CERT='([^']+)'/.exec(env)![1];
}

/** Changes a group's members as the directory admin, with ldapmodify. */
function ldapmodify(ldif: string): void {
  execFileSync('ldapmodify', ['-x', '-H', LDAP_URL, '-D', ADMIN_DN, '-w', ADMIN_PASSWORD], {
    input: ldif,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}
const member = (op: 'add' | 'delete', group: string, uid: string) =>
  ldapmodify(
    `dn: cn=${group},${GROUPS}\nchangetype: modify\n${op}: member\nmember: uid=${uid},ou=people,${BASE}\n`,
  );

let gateway: TestGateway;
let adminToken: string;
const events: AuthEvent[] = [];

const signIn = (gw: TestGateway, username: string, password: string) =>
  gw.request('POST', '/api/v1/auth/login', { body: { username, password, provider: 'ldap' } });

async function ldapLogin(gw: TestGateway, username: string, password: string) {
  const res = await signIn(gw, username, password);
  expect({ username, status: res.status, body: res.body }).toMatchObject({ status: 200 });
  return res.body as {
    token: string;
    user: { id: string; name: string; provider: string; roles: Role[] };
  };
}

function expectRefused(res: TestResponse, what: string): void {
  expect({ what, status: res.status, body: res.body }).toEqual({
    what,
    status: 401,
    body: { statusCode: 401, error: 'Unauthorized', message: INVALID },
  });
}

beforeAll(async () => {
  ensureSlapd();
  gateway = await startTestGateway(ldapEnv());
  const sink = gateway.app.get<AuthEventSink>(AUTH_EVENT_SINK);
  const record = sink.record.bind(sink);
  jest.spyOn(sink, 'record').mockImplementation((event) => {
    events.push(event);
    return record(event);
  });
  adminToken = await gateway.login('admin', gateway.adminPassword);
  const route = {
    id: 'ldap-orders',
    source: { type: 'http', path: 'ldap/orders', mode: 'async', auth: 'apiKey' },
    pipeline: [{ transform: '{ "id": id }' }],
    destinations: [{ type: 'log' }],
  };
  const created = await gateway.request('POST', '/api/v1/routes', {
    token: adminToken,
    body: route,
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await gateway?.close();
});

describe('LDAP sign-in, groups mapped to roles', () => {
  /** A GET each and the permission it needs: every user may do what its roles allow, nothing more. */
  const PROBES: [string, Permission | 'signed-in'][] = [
    ['/api/v1/auth/me', 'signed-in'],
    ['/api/v1/routes', 'routes.read'],
    ['/api/v1/routes/ldap-orders/status', 'routes.read'],
    ['/api/v1/connections', 'connections.read'],
    ['/api/v1/users', 'users.manage'],
    ['/api/v1/api-keys', 'apikeys.manage'],
    ['/api/v1/sessions', 'sessions.manage'],
  ];

  it.each([
    ['alice', 'alice-pass', 'Alice Admin', ['admin', 'viewer']],
    ['bob', 'bob-pass', 'Bob Editor', ['editor', 'viewer']],
    ['carol', 'carol-pass', 'Carol Auditor', ['auditor']],
    ['frank', 'frank-pass', 'Frank (Ops), Jr', ['operator']],
  ] as [string, string, string, Role[]][])(
    '%s gets the mapped roles and can do exactly what they allow',
    async (username, password, displayName, roles) => {
      const login = await ldapLogin(gateway, username, password);
      expect(login.user).toMatchObject({ kind: 'user', name: username, provider: 'ldap', roles });
      const me = await gateway.request('GET', '/api/v1/auth/me', { token: login.token });
      expect(me.body).toMatchObject({ name: username, provider: 'ldap', roles });
      for (const [url, need] of PROBES) {
        const res = await gateway.request('GET', url, { token: login.token });
        const allowed = need === 'signed-in' || permits(roles, need);
        expect({ username, url, status: res.status }).toEqual({
          username,
          url,
          status: allowed ? 200 : 403,
        });
      }
      const users = (await gateway.request('GET', '/api/v1/users', { token: adminToken })).body as {
        username: string;
        provider: string;
        displayName: string;
        email: string;
        roles: Role[];
      }[];
      expect(users.find((u) => u.provider === 'ldap' && u.username === username)).toMatchObject({
        displayName,
        email: `${username}@junction.test`,
        roles,
      });
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'login.succeeded', actor: username, provider: 'ldap' }),
      );
    },
  );

  it('the user name is the directory\'s spelling: "ALICE" is alice', async () => {
    const login = await ldapLogin(gateway, 'ALICE', 'alice-pass');
    expect(login.user.name).toBe('alice');
    const users = (await gateway.request('GET', '/api/v1/users', { token: adminToken })).body as {
      username: string;
      provider: string;
    }[];
    expect(users.filter((u) => u.provider === 'ldap' && /^alice$/i.test(u.username))).toHaveLength(
      1,
    );
  });

  it('dave, in no mapped group, is refused like a wrong password, and gets no account', async () => {
    expectRefused(await signIn(gateway, 'dave', 'dave-pass'), 'dave');
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'login.failed',
        actor: 'dave',
        provider: 'ldap',
        reason: 'no group that maps to a role',
      }),
    );
    const users = (await gateway.request('GET', '/api/v1/users', { token: adminToken })).body as {
      username: string;
    }[];
    expect(users.map((u) => u.username)).not.toContain('dave');
  });

  it.each([
    ['wrong password', 'alice', 'not-alice-pass', 'wrong password'],
    ['unknown user', 'zoe', 'alice-pass', 'unknown user'],
    ['empty password', 'alice', '', 'empty user name or password'],
    ['empty user name', '', 'alice-pass', 'empty user name or password'],
    ['a lone *', '*', 'alice-pass', 'unknown user'],
    ['a * with any password', '*', '', 'empty user name or password'],
    ['alice)(uid=*', 'alice)(uid=*', 'alice-pass', 'unknown user'],
    ['*)(|(uid=*', '*)(|(uid=*', 'alice-pass', 'unknown user'],
    ['a wildcard prefix', 'al*', 'alice-pass', 'unknown user'],
    ['a NUL byte', 'alice\u0000', 'alice-pass', 'unknown user'],
    ['a backslash escape', 'alic\\65', 'alice-pass', 'unknown user'],
  ])('%s -> 401 with the one message', async (_what, username, password, reason) => {
    const before = events.length;
    expectRefused(await signIn(gateway, username, password), `${username}/${password}`);
    expect(events.slice(before)).toContainEqual(
      expect.objectContaining({ type: 'login.failed', provider: 'ldap', reason }),
    );
  });

  it('a user an admin disabled here cannot sign in, whatever the directory says', async () => {
    const carol = await ldapLogin(gateway, 'carol', 'carol-pass');
    const id = carol.user.id;
    const disabled = await gateway.request('PATCH', `/api/v1/users/${id}`, {
      token: adminToken,
      body: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    expect((await gateway.request('GET', '/api/v1/auth/me', { token: carol.token })).status).toBe(
      401,
    );
    const before = events.length;
    expectRefused(await signIn(gateway, 'carol', 'carol-pass'), 'disabled carol');
    expect(events.slice(before)).toContainEqual(
      expect.objectContaining({ type: 'login.failed', actor: 'carol', reason: 'user disabled' }),
    );
    await gateway.request('PATCH', `/api/v1/users/${id}`, {
      token: adminToken,
      body: { disabled: false },
    });
    expect((await ldapLogin(gateway, 'carol', 'carol-pass')).user.roles).toEqual(['auditor']);
  });

  it('the local admin cannot sign in through LDAP, nor alice locally', async () => {
    expectRefused(await signIn(gateway, 'admin', gateway.adminPassword), 'admin via ldap');
    const local = await gateway.request('POST', '/api/v1/auth/login', {
      body: { username: 'alice', password: 'alice-pass' },
    });
    expectRefused(local, 'alice locally');
  });
});

describe('roles are refreshed at every sign-in', () => {
  afterAll(() => {
    // Leave the directory as seeded, whatever happened.
    for (const [group, uid] of [
      ['gateway-admins', 'bob'],
      ['gateway-viewers', 'dave'],
    ])
      try {
        member('delete', group, uid);
      } catch {
        /* not a member */
      }
  });

  it('bob joins gateway-admins, signs in as admin; leaves it, and is an editor again', async () => {
    const before = await ldapLogin(gateway, 'bob', 'bob-pass');
    expect(before.user.roles).toEqual(['editor', 'viewer']);
    expect((await gateway.request('GET', '/api/v1/users', { token: before.token })).status).toBe(
      403,
    );

    member('add', 'gateway-admins', 'bob');
    const promoted = await ldapLogin(gateway, 'bob', 'bob-pass');
    expect(promoted.user.roles).toEqual(['admin', 'editor', 'viewer']);
    expect((await gateway.request('GET', '/api/v1/users', { token: promoted.token })).status).toBe(
      200,
    );

    member('delete', 'gateway-admins', 'bob');
    const demoted = await ldapLogin(gateway, 'bob', 'bob-pass');
    expect(demoted.user.roles).toEqual(['editor', 'viewer']);
    // The grants are the user's: every session of bob's now has the refreshed roles.
    for (const token of [promoted.token, demoted.token])
      expect((await gateway.request('GET', '/api/v1/users', { token })).status).toBe(403);
  });

  it('dave joins gateway-viewers and may sign in; leaves it, and his session ends', async () => {
    member('add', 'gateway-viewers', 'dave');
    const login = await ldapLogin(gateway, 'dave', 'dave-pass');
    expect(login.user.roles).toEqual(['viewer']);
    expect((await gateway.request('GET', '/api/v1/routes', { token: login.token })).status).toBe(
      200,
    );

    member('delete', 'gateway-viewers', 'dave');
    expectRefused(await signIn(gateway, 'dave', 'dave-pass'), 'dave after leaving');
    expect((await gateway.request('GET', '/api/v1/routes', { token: login.token })).status).toBe(
      401,
    );
    const users = (await gateway.request('GET', '/api/v1/users', { token: adminToken })).body as {
      username: string;
      provider: string;
      roles: Role[];
    }[];
    expect(users.find((u) => u.provider === 'ldap' && u.username === 'dave')?.roles).toEqual([]);
  });
});

describe('the directory check', () => {
  it('withdraws the roles a directory user lost, and ends its sessions once it has none', async () => {
    const uid = `gone-${randomBytes(4).toString('hex')}`;
    ldapmodify(
      `dn: uid=${uid},ou=people,${BASE}\nchangetype: add\nobjectClass: inetOrgPerson\n` +
        `uid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: ${uid}-pass\n`,
    );
    member('add', 'gateway-editors', uid);
    member('add', 'gateway-viewers', uid);
    const login = await ldapLogin(gateway, uid, `${uid}-pass`);
    expect(login.user.roles).toEqual(['editor', 'viewer']);
    const check = () => gateway.app.get(LdapSignInService).checkDirectory();
    const status = async (url: string) =>
      (await gateway.request('GET', url, { token: login.token })).status;

    await check();
    expect(await status('/api/v1/connections')).toBe(200);
    // Left a group: that role goes at the next check, without a sign-in; the session goes on.
    member('delete', 'gateway-editors', uid);
    await check();
    expect(await status('/api/v1/connections')).toBe(403);
    expect(await status('/api/v1/routes')).toBe(200);
    // Gone from the directory (the leaver never signs in again): no role, no session.
    member('delete', 'gateway-viewers', uid);
    ldapmodify(`dn: uid=${uid},ou=people,${BASE}\nchangetype: delete\n`);
    await check();
    expect(await status('/api/v1/routes')).toBe(401);
    const users = (await gateway.request('GET', '/api/v1/users', { token: adminToken })).body as {
      username: string;
      provider: string;
      roles: Role[];
    }[];
    expect(users.find((u) => u.provider === 'ldap' && u.username === uid)?.roles).toEqual([]);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'credentials.revoked',
        user: uid,
        reason: 'gone from the directory',
      }),
    );
  });

  it('a user whose entry no longer meets the user filter (a disabled account) is gone to the check', async () => {
    const uid = `off-${randomBytes(4).toString('hex')}`;
    ldapmodify(
      `dn: uid=${uid},ou=people,${BASE}\nchangetype: add\nobjectClass: inetOrgPerson\n` +
        `uid: ${uid}\ncn: ${uid}\nsn: ${uid}\nemployeeType: active\nuserPassword: ${uid}-pass\n`,
    );
    const settings = (userFilter: string): LdapSettings => ({
      url: LDAP_URL,
      bindDn: `cn=junction-svc,ou=services,${BASE}`,
      bindPassword: 'svc-secret',
      userBase: `ou=people,${BASE}`,
      userFilter,
      usernameAttribute: 'uid',
      groupMembership: 'memberOf',
      groupFilter: '(member={dn})',
      startTls: false,
      timeoutMs: 5000,
    });
    const strict = new LdapDirectory(settings('(&(uid={username})(!(employeeType=disabled)))'));
    const plain = new LdapDirectory(settings('(uid={username})'));
    expect((await strict.lookup([uid])).get(uid)).toMatchObject({ username: uid });
    // Disabled in the directory: sign-in's filter refuses it, and so does the check now.
    ldapmodify(
      `dn: uid=${uid},ou=people,${BASE}\nchangetype: modify\nreplace: employeeType\nemployeeType: disabled\n`,
    );
    expect((await strict.lookup([uid])).get(uid)).toBeNull();
    expect((await plain.lookup([uid])).get(uid)).toMatchObject({ username: uid });
  });
});

describe('sessions of every provider', () => {
  it('admins list live sessions with user, provider, times and address, and revoke them', async () => {
    const frank = await ldapLogin(gateway, 'frank', 'frank-pass');
    const listed = await gateway.request('GET', '/api/v1/sessions', { token: adminToken });
    expect(listed.status).toBe(200);
    const sessions = listed.body as {
      id: string;
      userId: string;
      username: string;
      provider: string;
      createdAt: string;
      expiresAt: string;
      ip: string | null;
    }[];
    const mine = JSON.parse(Buffer.from(frank.token.split('.')[1], 'base64url').toString()) as {
      sid: string;
    };
    const row = sessions.find((s) => s.id === mine.sid);
    expect(row).toMatchObject({
      username: 'frank',
      provider: 'ldap',
      ip: '127.0.0.1',
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
    });
    expect(Date.parse(row!.expiresAt)).toBeGreaterThan(Date.now());
    expect(sessions.some((s) => s.provider === 'local' && s.username === 'admin')).toBe(true);
    // Newest first.
    const created = sessions.map((s) => Date.parse(s.createdAt));
    expect([...created].sort((a, b) => b - a)).toEqual(created);

    // Only admins (sessions.manage): frank the operator may not look.
    expect((await gateway.request('GET', '/api/v1/sessions', { token: frank.token })).status).toBe(
      403,
    );

    const before = events.length;
    const revoked = await gateway.request('DELETE', `/api/v1/sessions/${mine.sid}`, {
      token: adminToken,
    });
    expect(revoked.status).toBe(204);
    expect(events.slice(before)).toContainEqual(
      expect.objectContaining({
        type: 'session.revoked',
        actor: 'admin',
        sessionId: mine.sid,
        user: 'frank',
        provider: 'ldap',
      }),
    );
    const refused = await gateway.request('GET', '/api/v1/auth/me', { token: frank.token });
    expect(refused.status).toBe(401);
    const after = (await gateway.request('GET', '/api/v1/sessions', { token: adminToken }))
      .body as { id: string }[];
    expect(after.map((s) => s.id)).not.toContain(mine.sid);
    // Gone already: 404, and not a UUID: 400.
    expect(
      (await gateway.request('DELETE', `/api/v1/sessions/${mine.sid}`, { token: adminToken }))
        .status,
    ).toBe(404);
    expect(
      (await gateway.request('DELETE', '/api/v1/sessions/nope', { token: adminToken })).status,
    ).toBe(400);
    // A new sign-in works again.
    await ldapLogin(gateway, 'frank', 'frank-pass');
  });
});

describe('TLS', () => {
  it('ldaps:// with the CA file', async () => {
    const gw = await startTestGateway(
      ldapEnv({ JUNCTION_LDAP_URL: LDAPS_URL, JUNCTION_LDAP_CA_FILE: caFile }),
    );
    try {
      expect((await ldapLogin(gw, 'frank', 'frank-pass')).user.roles).toEqual(['operator']);
      expectRefused(await signIn(gw, 'frank', 'wrong'), 'ldaps wrong password');
    } finally {
      await gw.close();
    }
  });

  it('StartTLS with the CA file', async () => {
    const gw = await startTestGateway(
      ldapEnv({ JUNCTION_LDAP_STARTTLS: 'true', JUNCTION_LDAP_CA_FILE: caFile }),
    );
    try {
      expect((await ldapLogin(gw, 'alice', 'alice-pass')).user.roles).toEqual(['admin', 'viewer']);
    } finally {
      await gw.close();
    }
  });

  const settings = (over: Partial<LdapSettings>): LdapSettings => ({
    url: LDAP_URL,
    bindDn: `cn=junction-svc,ou=services,${BASE}`,
    bindPassword: 'svc-secret',
    userBase: `ou=people,${BASE}`,
    userFilter: '(uid={username})',
    usernameAttribute: 'uid',
    groupMembership: 'memberOf',
    groupFilter: '(member={dn})',
    startTls: false,
    timeoutMs: 5000,
    ...over,
  });

  it('without our CA, ldaps and StartTLS refuse the server certificate', async () => {
    for (const over of [{ url: LDAPS_URL }, { startTls: true }]) {
      const directory = new LdapDirectory(settings(over));
      await expect(directory.authenticate('alice', 'alice-pass')).rejects.toThrow(
        LdapUnavailableError,
      );
    }
  });

  it('a user found by two spellings (uid or mail) has one lockout budget, not one per spelling', async () => {
    const gw = await startTestGateway({
      ...ldapEnv({ JUNCTION_LDAP_USER_FILTER: '(|(uid={username})(mail={username}))' }),
      JUNCTION_LOGIN_ACCOUNT_FAILURES: '3',
    });
    try {
      // Three wrong passwords, spread over the spellings: no spelling failed three times alone.
      for (const name of ['carol', 'carol@junction.test', 'CAROL@junction.test'])
        expectRefused(await signIn(gw, name, 'not-her-password'), name);
      // The user is locked under every spelling, the right password included.
      for (const name of ['carol@junction.test', 'Carol@Junction.test', 'carol']) {
        const locked = await signIn(gw, name, 'carol-pass');
        expect({ name, status: locked.status }).toEqual({ name, status: 429 });
      }
      // Another user of the directory is not held back by it.
      expect((await ldapLogin(gw, 'alice@junction.test', 'alice-pass')).user.name).toBe('alice');
    } finally {
      await gw.close();
    }
  });

  it('a directory that cannot be reached answers 503, not 401', async () => {
    const gw = await startTestGateway(
      ldapEnv({ JUNCTION_LDAP_URL: 'ldap://127.0.0.1:9', JUNCTION_LDAP_TIMEOUT_MS: '2000' }),
    );
    try {
      const res = await signIn(gw, 'alice', 'alice-pass');
      expect(res.status).toBe(503);
      expect(JSON.stringify(res.body)).not.toMatch(/svc-secret|alice-pass/);
    } finally {
      await gw.close();
    }
  });
});

describe('group search instead of memberOf', () => {
  it("finds frank's groups with his escaped DN in the filter", async () => {
    const directory = new LdapDirectory({
      url: LDAPS_URL,
      ca: readFileSync(caFile),
      bindDn: `cn=junction-svc,ou=services,${BASE}`,
      bindPassword: 'svc-secret',
      userBase: `ou=people,${BASE}`,
      userFilter: '(uid={username})',
      usernameAttribute: 'uid',
      groupMembership: 'search',
      groupBase: GROUPS,
      groupFilter: '(&(objectClass=groupOfNames)(member={dn}))',
      startTls: false,
      timeoutMs: 5000,
    });
    const frank = await directory.authenticate('frank', 'frank-pass');
    expect(frank).toEqual({
      ok: true,
      user: {
        dn: `cn=Frank (Ops)\\2C Jr,ou=people,${BASE}`,
        username: 'frank',
        displayName: 'Frank (Ops), Jr',
        email: 'frank@junction.test',
        groups: [`cn=gateway-operators,${GROUPS}`],
      },
    });
    const alice = await directory.authenticate('alice', 'alice-pass');
    const roles = RoleMapping.parse(GROUP_ROLES, normalizeDn);
    expect(alice.ok && roles.rolesFor(alice.user.groups)).toEqual(['admin', 'viewer']);
    expect(await directory.authenticate('alice', 'nope')).toEqual({
      ok: false,
      reason: 'wrong password',
      account: 'alice',
    });
  });
});

describe('configuration', () => {
  it('names each bad or missing variable, never echoing the password', async () => {
    const { loadGatewayConfig } = await import('../src/config');
    expect(() =>
      loadGatewayConfig({
        JUNCTION_LDAP_URL: 'http://127.0.0.1:3389',
        JUNCTION_LDAP_BIND_PASSWORD: 'svc-secret',
      }),
    ).toThrow(/JUNCTION_LDAP_URL="http:\/\/127.0.0.1:3389": must be a ldap or ldaps URL/);
    let message = '';
    try {
      loadGatewayConfig({
        JUNCTION_LDAP_URL: LDAPS_URL,
        JUNCTION_LDAP_BIND_PASSWORD: 'svc-secret',
        JUNCTION_LDAP_STARTTLS: 'true',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/JUNCTION_LDAP_BIND_DN is required/);
    expect(message).toMatch(/JUNCTION_LDAP_USER_BASE is required/);
    expect(message).toMatch(/JUNCTION_LDAP_GROUP_ROLES is required/);
    expect(message).toMatch(/JUNCTION_LDAP_STARTTLS=true needs an ldap:\/\//);
    expect(message).not.toContain('svc-secret');
    expect(() =>
      loadGatewayConfig(ldapEnv({ JUNCTION_LDAP_GROUP_ROLES: 'gateway-admins=admin' })),
    ).toThrow(/JUNCTION_LDAP_GROUP_ROLES=.*not a distinguished name/);
    expect(() =>
      loadGatewayConfig(ldapEnv({ JUNCTION_LDAP_GROUP_ROLES: `cn=x,${GROUPS}=root` })),
    ).toThrow(/JUNCTION_LDAP_GROUP_ROLES=.*unknown role "root"/);
    expect(() => loadGatewayConfig(ldapEnv({ JUNCTION_LDAP_USER_FILTER: '(uid=alice)' }))).toThrow(
      /JUNCTION_LDAP_USER_FILTER=.*must contain \{username\}/,
    );
    expect(() =>
      loadGatewayConfig(ldapEnv({ JUNCTION_LDAP_CA_FILE: '/nonexistent/ca.crt' })),
    ).toThrow(/JUNCTION_LDAP_CA_FILE=.*cannot be read/);
    expect(() => loadGatewayConfig({ JUNCTION_LDAP_USER_BASE: `ou=people,${BASE}` })).toThrow(
      /JUNCTION_LDAP_USER_BASE is set but JUNCTION_LDAP_URL is not/,
    );
    // Valid: no LDAP at all, and the full set.
    expect(loadGatewayConfig({}).auth).toEqual({ ldap: undefined, oidc: undefined });
    expect(loadGatewayConfig(ldapEnv()).auth.ldap).toMatchObject({
      url: LDAP_URL,
      userFilter: '(uid={username})',
      groupMembership: 'memberOf',
    });
  });

  it('without LDAP configured, provider ldap is a bad request', async () => {
    const gw = await startTestGateway();
    try {
      const res = await signIn(gw, 'alice', 'alice-pass');
      expect(res.status).toBe(400);
      expect((res.body as { message: string }).message).toMatch(/'ldap' is not configured/);
    } finally {
      await gw.close();
    }
  });
});
