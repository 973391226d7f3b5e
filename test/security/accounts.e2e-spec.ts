import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { dictionary } from '@zxcvbn-ts/language-common';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { eventually, freePort, MASTER_KEY } from '../gateway-process';
import { Spawned, spawnNode } from '../process';

/**
 * Issue #11, classes 8, 9 and 12, against the built gateway as a process on real Postgres (and
 * the test directory's slapd for the LDAP cases):
 *  8. credentials die with their owner (keys and sessions of disabled, deleted, demoted users);
 *  9. sign-in resists spraying (per-address limit, per-account lockout with backoff, both held
 *     across two gateway processes on one database), look-alike and reserved user names, common
 *     passwords, and every local user can change their own password;
 * 12. anonymous 401s grow the append-only audit trail by a bounded number of rows, and the
 *     auditor still sees how many there were.
 */
const ROOT = join(__dirname, '..', '..');
const ADMIN_PASSWORD = `gw-admin-${randomBytes(6).toString('hex')}`;
const LDAP_BASE = 'dc=junction,dc=test';
const LDAP_ENV = {
  JUNCTION_LDAP_URL: 'ldap://127.0.0.1:3389',
  JUNCTION_LDAP_BIND_DN: `cn=junction-svc,ou=services,${LDAP_BASE}`,
  JUNCTION_LDAP_BIND_PASSWORD: 'svc-secret',
  JUNCTION_LDAP_USER_BASE: `ou=people,${LDAP_BASE}`,
  JUNCTION_LDAP_GROUP_ROLES: [
    `cn=gateway-admins,ou=groups,${LDAP_BASE}=admin`,
    `cn=gateway-editors,ou=groups,${LDAP_BASE}=editor`,
    `cn=gateway-operators,ou=groups,${LDAP_BASE}=operator`,
    `cn=gateway-auditors,ou=groups,${LDAP_BASE}=auditor`,
    `cn=gateway-viewers,ou=groups,${LDAP_BASE}=viewer`,
  ].join(';'),
};
const ROLES = ['admin', 'editor', 'operator', 'auditor', 'viewer'] as const;
type Role = (typeof ROLES)[number];

interface Res {
  status: number;
  body: Record<string, unknown> & { message?: string };
  headers: Headers;
}

type Auth = { token?: string; key?: string };

/** One gateway process with its own settings, talked to over HTTP. */
class Gateway {
  private proc?: Spawned;
  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    this.proc = spawnNode(
      ['bin/gateway.js'],
      {
        JUNCTION_MASTER_KEY: MASTER_KEY,
        JUNCTION_ADMIN_PASSWORD: ADMIN_PASSWORD,
        JUNCTION_SEED_DEMO: 'false',
        JUNCTION_LOG: 'silent',
        PORT: String(this.port),
        ...this.env,
      },
      ROOT,
    );
    await this.proc.waitFor(/listening on/, 90_000);
  }

  async stop(): Promise<void> {
    this.proc?.child.kill('SIGTERM');
    await this.proc?.exited().catch(() => this.proc?.child.kill('SIGKILL'));
  }

  async call(method: string, path: string, body?: unknown, auth: Auth = {}): Promise<Res> {
    const headers: Record<string, string> = {};
    if (auth.token) headers.authorization = `Bearer ${auth.token}`;
    if (auth.key) headers['x-api-key'] = auth.key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Res['body'] = {};
    try {
      parsed = text ? (JSON.parse(text) as Res['body']) : {};
    } catch {
      parsed = { text };
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  login(username: string, password: string, provider?: 'ldap'): Promise<Res> {
    return this.call('POST', '/api/v1/auth/login', { username, password, provider });
  }

  async token(username: string, password: string, provider?: 'ldap'): Promise<string> {
    const res = await this.login(username, password, provider);
    if (res.status !== 200)
      throw new Error(`sign-in of ${username}: ${res.status} ${res.body.message}`);
    return res.body.token as string;
  }

  /** Fails unless the answer has the expected status. */
  async expect(
    status: number,
    method: string,
    path: string,
    body: unknown,
    auth: Auth,
  ): Promise<Res> {
    const res = await this.call(method, path, body, auth);
    if (res.status !== status)
      throw new Error(
        `${method} ${path}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`,
      );
    return res;
  }
}

const name = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const strongPassword = () => `pw-${randomBytes(12).toString('base64url')}`;

function randomRoles(): Role[] {
  const roles = ROLES.filter(() => randomInt(2) === 1);
  return roles.length > 0 ? roles : [ROLES[randomInt(ROLES.length)]];
}

/** Roles a key of `keyRoles` keeps while its user holds `userRoles` (admin covers everything). */
function keptRoles(keyRoles: readonly Role[], userRoles: readonly Role[]): Role[] {
  return keyRoles.filter((r) => userRoles.includes(r) || userRoles.includes('admin')).sort();
}

async function startGateway(db: TestDatabase, env: Record<string, string>): Promise<Gateway> {
  const gw = new Gateway(await freePort(), { DATABASE_URL: db.url, ...env });
  await gw.start();
  return gw;
}

describe('accounts, sign-in and credentials (gateway process, real Postgres)', () => {
  let db: TestDatabase;
  let gw: Gateway;
  let admin: Auth;

  beforeAll(async () => {
    db = await createTestDatabase('accounts');
    gw = await startGateway(db, {
      ...LDAP_ENV,
      JUNCTION_LOGIN_SOURCE_FAILURES: '100000',
      JUNCTION_LOGIN_ACCOUNT_FAILURES: '1000',
      JUNCTION_AUDIT_DENIAL_WINDOW_SECONDS: '2',
    });
    admin = { token: await gw.token('admin', ADMIN_PASSWORD) };
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  async function newUser(roles: Role[], prefix = 'u') {
    const username = name(prefix);
    const password = strongPassword();
    const res = await gw.expect(201, 'POST', '/api/v1/users', { username, password, roles }, admin);
    return { id: res.body.id as string, username, password };
  }

  async function newKey(roles: Role[], auth: Auth) {
    const res = await gw.expect(
      201,
      'POST',
      '/api/v1/api-keys',
      { name: name('key'), roles },
      auth,
    );
    return { id: res.body.id as string, key: res.body.key as string, ownerId: res.body.ownerId };
  }

  const me = (auth: Auth) => gw.call('GET', '/api/v1/auth/me', undefined, auth);
  /** Revokes a key and what was made through it; fails unless the answer is `status`. */
  const cascade = (id: string, auth: Auth, status: number) =>
    gw.expect(status, 'DELETE', `/api/v1/api-keys/${id}?cascade=true`, undefined, auth);

  describe('class 8: credentials die with their owner', () => {
    it('an admin key stops working once its admin is disabled or deleted, and cannot make an admin of its own first', async () => {
      const owner = await newUser(['admin'], 'owner');
      const ownerToken = await gw.token(owner.username, owner.password);
      const adminKey = await newKey(['admin'], { token: ownerToken });
      expect(adminKey.ownerId).toBe(owner.id);
      // A key made with the key acts for the same user.
      const minted = await newKey(['viewer', 'editor'], { key: adminKey.key });
      expect(minted.ownerId).toBe(owner.id);
      // What the reported attack did: a key making an admin to replace the humans.
      for (const roles of [['admin'], ['admin', 'viewer']])
        await gw.expect(
          403,
          'POST',
          '/api/v1/users',
          { username: name('shadow'), password: strongPassword(), roles },
          { key: adminKey.key },
        );
      const plain = await newUser(['viewer']);
      await gw.expect(
        403,
        'PATCH',
        `/api/v1/users/${plain.id}`,
        { roles: ['admin'] },
        { key: adminKey.key },
      );
      const me0 = (await me(admin)).body.id as string;
      await gw.expect(
        403,
        'PATCH',
        `/api/v1/users/${me0}`,
        { disabled: true },
        { key: adminKey.key },
      );
      await gw.expect(403, 'DELETE', `/api/v1/users/${me0}`, undefined, { key: adminKey.key });
      // It may still do ordinary admin work while its owner is there.
      await gw.expect(
        201,
        'POST',
        '/api/v1/users',
        { username: name('made'), password: strongPassword(), roles: ['viewer'] },
        { key: adminKey.key },
      );

      // Disabled: every key and session of the owner ends, for good.
      await gw.expect(200, 'PATCH', `/api/v1/users/${owner.id}`, { disabled: true }, admin);
      for (const auth of [{ key: adminKey.key }, { key: minted.key }, { token: ownerToken }])
        expect((await me(auth)).status).toBe(401);
      await gw.expect(200, 'PATCH', `/api/v1/users/${owner.id}`, { disabled: false }, admin);
      for (const auth of [{ key: adminKey.key }, { key: minted.key }, { token: ownerToken }])
        expect((await me(auth)).status).toBe(401);
      const keys = (await gw.expect(200, 'GET', '/api/v1/api-keys', undefined, admin))
        .body as unknown as {
        id: string;
        revokedAt: string | null;
      }[];
      for (const id of [adminKey.id, minted.id])
        expect(keys.find((k) => k.id === id)?.revokedAt).toEqual(expect.any(String));

      // Deleted: the same, for the keys of a second admin.
      const second = await newUser(['admin'], 'second');
      const secondKey = await newKey(['admin'], {
        token: await gw.token(second.username, second.password),
      });
      expect((await me({ key: secondKey.key })).status).toBe(200);
      await gw.expect(204, 'DELETE', `/api/v1/users/${second.id}`, undefined, admin);
      expect((await me({ key: secondKey.key })).status).toBe(401);
      // The trail says whose credentials ended, and why.
      const events = await auditEvents('credentials.revoked');
      expect(events.map((e) => e.details)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ user: owner.username, reason: 'user disabled' }),
          expect.objectContaining({ user: second.username, reason: 'user deleted' }),
        ]),
      );
    }, 120_000);

    it('revoking a leaked key with cascade ends every key and user made through it, and nothing else', async () => {
      const owner = await newUser(['admin'], 'owner');
      const ownerToken = await gw.token(owner.username, owner.password);
      const leaked = await newKey(['admin'], { token: ownerToken });
      const rotated = await newKey(['admin'], { token: ownerToken }); // made by the human: kept
      // The attacker's harvest: a key from the key, a user from the key (whose password the
      // attacker set). A key cannot be given admin, so what it makes makes nothing in turn.
      const minted = await newKey(['editor', 'operator'], { key: leaked.key });
      const madeByKey = await gw.expect(
        201,
        'POST',
        '/api/v1/users',
        { username: name('sleeper'), password: strongPassword(), roles: ['editor', 'viewer'] },
        { key: leaked.key },
      );
      const sleeper = { id: madeByKey.body.id as string, username: madeByKey.body.username };
      expect(madeByKey.body.createdByKeyId).toBe(leaked.id);
      const sleeperPassword = strongPassword();
      await gw.expect(
        200,
        'PATCH',
        `/api/v1/users/${sleeper.id}`,
        { password: sleeperPassword },
        {
          key: leaked.key,
        },
      );
      const sleeperToken = await gw.token(sleeper.username as string, sleeperPassword);
      const innocent = await newUser(['viewer']); // made by a human admin: kept

      // cascade is true or false, nothing else.
      await gw.expect(400, 'DELETE', `/api/v1/api-keys/${leaked.id}?cascade=yes`, undefined, admin);
      const ended = await cascade(leaked.id, admin, 200);
      expect([...(ended.body.revokedKeys as string[])].sort()).toEqual(
        [leaked.id, minted.id].sort(),
      );
      expect([...(ended.body.disabledUsers as string[])].sort()).toEqual([sleeper.id]);
      for (const auth of [{ key: leaked.key }, { key: minted.key }, { token: sleeperToken }])
        expect((await me(auth)).status).toBe(401);
      expect((await gw.login(sleeper.username as string, sleeperPassword)).status).toBe(401);
      // What a human made stays.
      expect((await me({ key: rotated.key })).status).toBe(200);
      expect((await me({ token: ownerToken })).status).toBe(200);
      const users = (await gw.expect(200, 'GET', '/api/v1/users', undefined, admin))
        .body as unknown as { id: string; disabled: boolean }[];
      expect(users.find((u) => u.id === innocent.id)?.disabled).toBe(false);
      // Again: nothing left to end, still an answer (the key may be revoked already).
      const again = await cascade(leaked.id, admin, 200);
      expect(again.body).toEqual({ revokedKeys: [], disabledUsers: [] });
      // The trail names what the cascade ended.
      const revoked = (await auditEvents('apikey.revoked')).find(
        (e) => (e.details.cascade as { revokedKeys?: string[] } | undefined)?.revokedKeys?.length,
      );
      expect(revoked?.details.cascade).toEqual(ended.body);
      // A key without apikeys.manage revokes nothing; a key cannot end its own lineage.
      const other = await newKey(['admin'], { token: ownerToken });
      const child = await newKey(['viewer'], { key: other.key });
      const editorKey = await newKey(['editor'], { token: ownerToken });
      await cascade(child.id, { key: editorKey.key }, 403);
      await cascade(other.id, { key: other.key }, 400);
    }, 120_000);

    it('a user whose password a leaked key set comes from that key: revoking it with cascade disables the user', async () => {
      const owner = await newUser(['admin'], 'owner');
      const ownerToken = await gw.token(owner.username, owner.password);
      const leaked = await newKey(['admin'], { token: ownerToken });
      // Made by a human admin; the attacker takes it over by its password instead of making one.
      const victim = await newUser(['editor', 'viewer'], 'victim');
      const bystander = await newUser(['viewer'], 'bystander');
      const taken = strongPassword();
      const patched = await gw.expect(
        200,
        'PATCH',
        `/api/v1/users/${victim.id}`,
        { password: taken },
        { key: leaked.key },
      );
      expect(patched.body.createdByKeyId).toBe(leaked.id);
      // A change that hands over no password records nothing.
      const renamed = await gw.expect(
        200,
        'PATCH',
        `/api/v1/users/${bystander.id}`,
        { displayName: 'renamed' },
        { key: leaked.key },
      );
      expect(renamed.body.createdByKeyId).toBeNull();
      const attackerToken = await gw.token(victim.username, taken);
      const ended = await cascade(leaked.id, admin, 200);
      expect(ended.body.disabledUsers).toEqual([victim.id]);
      expect((await me({ token: attackerToken })).status).toBe(401);
      expect((await gw.login(victim.username, taken)).status).toBe(401);
      expect(
        (await me({ token: await gw.token(bystander.username, bystander.password) })).status,
      ).toBe(200);
    }, 120_000);

    it('a cascade that a key may not finish (an admin made through the leaked key) ends nothing', async () => {
      const owner = await newUser(['admin'], 'owner');
      const ownerToken = await gw.token(owner.username, owner.password);
      const leaked = await newKey(['admin'], { token: ownerToken });
      const made = await gw.expect(
        201,
        'POST',
        '/api/v1/users',
        { username: name('made'), password: strongPassword(), roles: ['viewer'] },
        { key: leaked.key },
      );
      const madeId = made.body.id as string;
      // A human makes it an admin later: a key may not disable it.
      await gw.expect(200, 'PATCH', `/api/v1/users/${madeId}`, { roles: ['admin'] }, admin);
      const adminKey = await newKey(['admin'], { token: ownerToken });
      const refused = await cascade(leaked.id, { key: adminKey.key }, 403);
      expect(refused.body.message).toMatch(/sign in as an admin .*nothing was ended/);
      // Nothing half done: the trail's failed revoke is true, the key is still to be revoked.
      expect((await me({ key: leaked.key })).status).toBe(200);
      const ended = await cascade(leaked.id, admin, 200);
      expect(ended.body).toEqual({ revokedKeys: [leaked.id], disabledUsers: [madeId] });
      expect((await me({ key: leaked.key })).status).toBe(401);
    }, 120_000);

    it('the last enabled admin cannot be disabled, demoted or deleted, and a key does not count as one', async () => {
      // A fresh database: admin is the only human admin; an admin key of it exists.
      const lone = await createTestDatabase('accounts-lone');
      const g = await startGateway(lone, { JUNCTION_LOGIN_SOURCE_FAILURES: '100000' });
      try {
        const token = await g.token('admin', ADMIN_PASSWORD);
        const key = (
          await g.expect(
            201,
            'POST',
            '/api/v1/api-keys',
            { name: 'ops', roles: ['admin'] },
            { token },
          )
        ).body.key as string;
        const id = (await g.call('GET', '/api/v1/auth/me', undefined, { token })).body.id as string;
        const other = (
          await g.expect(
            201,
            'POST',
            '/api/v1/users',
            { username: 'helper', password: strongPassword(), roles: ['editor'] },
            { token },
          )
        ).body.id as string;
        await g.expect(409, 'PATCH', `/api/v1/users/${id}`, { disabled: true }, { token });
        for (const roles of [['viewer'], [], ['editor', 'operator', 'auditor', 'viewer']])
          await g.expect(409, 'PATCH', `/api/v1/users/${id}`, { roles }, { token });
        await g.expect(400, 'DELETE', `/api/v1/users/${id}`, undefined, { token });
        // The key may not remove or demote its own user, nor the last admin.
        await g.expect(403, 'PATCH', `/api/v1/users/${id}`, { disabled: true }, { key });
        // Nor copy itself: a key makes no admin key (a leaked one would outlive its revoking),
        // though it makes the keys below it.
        const copy = await g.expect(
          403,
          'POST',
          '/api/v1/api-keys',
          { name: 'copy', roles: ['admin'] },
          { key },
        );
        expect(JSON.stringify(copy.body)).toContain('cannot grant the admin role');
        await g.expect(
          201,
          'POST',
          '/api/v1/api-keys',
          { name: 'reader', roles: ['viewer'] },
          { key },
        );
        await g.expect(400, 'DELETE', `/api/v1/users/${id}`, undefined, { key });
        // A second human admin makes the first one removable; its key dies with it.
        await g.expect(200, 'PATCH', `/api/v1/users/${other}`, { roles: ['admin'] }, { token });
        await g.expect(
          200,
          'PATCH',
          `/api/v1/users/${id}`,
          { disabled: true },
          { token: await g.token('helper', await resetPassword(g, other, token)) },
        );
        expect((await g.call('GET', '/api/v1/auth/me', undefined, { key })).status).toBe(401);
      } finally {
        await g.stop();
        await lone.drop();
      }
    }, 120_000);

    it('a key keeps only the roles its user still holds (generated role sets), and cannot be made more powerful than its maker', async () => {
      for (let round = 0; round < 6; round++) {
        const owner = await newUser(['admin'], 'keys');
        const ownerToken = await gw.token(owner.username, owner.password);
        const keyRoles = randomRoles();
        const key = await newKey(keyRoles, { token: ownerToken });
        const reduced = randomRoles().filter((r) => r !== 'admin');
        const userRoles = reduced.length > 0 ? reduced : (['viewer'] as Role[]);
        await gw.expect(200, 'PATCH', `/api/v1/users/${owner.id}`, { roles: userRoles }, admin);
        const asKey = await me({ key: key.key });
        expect({ round, keyRoles, userRoles, roles: asKey.body.roles }).toEqual({
          round,
          keyRoles,
          userRoles,
          roles: keptRoles(keyRoles, userRoles),
        });
        // The session follows the user's roles too.
        expect((await me({ token: ownerToken })).body.roles).toEqual([...userRoles].sort());
        // No admin any more: neither the key nor the session may make keys.
        expect(
          (
            await gw.call(
              'POST',
              '/api/v1/api-keys',
              { name: 'x', roles: ['viewer'] },
              { key: key.key },
            )
          ).status,
        ).toBe(403);
        // Restored, the key has its roles back (it was never revoked, only held to its user's).
        await gw.expect(200, 'PATCH', `/api/v1/users/${owner.id}`, { roles: ['admin'] }, admin);
        expect((await me({ key: key.key })).body.roles).toEqual([...keyRoles].sort());
      }
    }, 120_000);

    it('an LDAP user disabled here loses its session and its keys, and cannot sign in', async () => {
      const res = await gw.login('alice', 'alice-pass', 'ldap');
      expect(res.status).toBe(200);
      const alice = { token: res.body.token as string };
      const aliceId = (res.body.user as { id: string }).id;
      const key = await newKey(['editor'], alice);
      expect((await me({ key: key.key })).body).toMatchObject({ roles: ['editor'] });
      await gw.expect(200, 'PATCH', `/api/v1/users/${aliceId}`, { disabled: true }, admin);
      expect((await me(alice)).status).toBe(401);
      expect((await me({ key: key.key })).status).toBe(401);
      expect((await gw.login('alice', 'alice-pass', 'ldap')).status).toBe(401);
      // LDAP users' passwords are the directory's.
      await gw.expect(200, 'PATCH', `/api/v1/users/${aliceId}`, { disabled: false }, admin);
      const again = { token: await gw.token('alice', 'alice-pass', 'ldap') };
      const change = await gw.call(
        'POST',
        '/api/v1/auth/password',
        { currentPassword: 'alice-pass', newPassword: strongPassword() },
        again,
      );
      expect(change.status).toBe(400);
      expect(change.body.message).toMatch(/ldap user is kept by its provider/);
      expect((await me({ key: key.key })).status).toBe(401); // re-enabling brings no key back
    }, 60_000);
  });

  describe('class 9: user names and passwords', () => {
    it('refuses reserved, control-character, surrounding-space and look-alike user names (generated)', async () => {
      const taken: string[] = [];
      for (let i = 0; i < 4; i++) {
        const base = `${['ada', 'paul', 'cora', 'pepe'][i]}${randomBytes(2).toString('hex').replace(/\d/g, 'x')}`;
        await newUserNamed(base);
        taken.push(base);
        const cyr: Record<string, string> = {
          a: '\u0430',
          e: '\u0435',
          o: '\u043e',
          p: '\u0440',
          c: '\u0441',
          x: '\u0445',
        };
        const looks = [
          base.toUpperCase(),
          base[0].toUpperCase() + base.slice(1),
          [...base].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join(''),
          ...[...base].flatMap((c, j) =>
            cyr[c] ? [base.slice(0, j) + cyr[c] + base.slice(j + 1)] : [],
          ),
        ];
        for (const look of looks) {
          const res = await createNamed(look);
          expect({ look, status: res.status, message: res.body.message }).toMatchObject({
            status: 409,
            message: expect.stringMatching(/looks like|exists already/),
          });
        }
      }
      // Admin itself, in its usual disguises.
      for (const look of [
        'Admin',
        'ADMIN',
        '\u0430dmin',
        '\uff41\uff44\uff4d\uff49\uff4e',
        'adm\u0456n',
        'adrnin',
      ])
        expect({ look, status: (await createNamed(look)).status }).toEqual({ look, status: 409 });
      for (const bad of [
        'system',
        'root',
        'anonymous',
        'Root',
        'SYSTEM',
        '\u0455ystem',
        '(anonymous)',
      ])
        expect({ bad, status: (await createNamed(bad)).status }).toEqual({ bad, status: 400 });
      for (const bad of [
        ` ${name('sp')}`,
        `${name('sp')} `,
        `${name('c')}\u0000`,
        `x\u200b${name('z')}`,
        `${name('t')}\tz`,
        `a\u202e${name('r')}`,
        `${name('n')}\n`,
      ])
        expect({ bad, status: (await createNamed(bad)).status }).toEqual({ bad, status: 400 });
      // A look-alike is no way into the account it imitates.
      expect((await gw.login(taken[0].toUpperCase(), 'whatever-password')).status).toBe(401);
      // Nor are names Postgres text cannot hold: refused like any wrong sign-in, not a 500.
      for (const odd of ['admin\u0000', '\ud800admin', `${taken[1]}\u0000`])
        expect({ odd, status: (await gw.login(odd, 'whatever-password')).status }).toEqual({
          odd,
          status: 401,
        });
    }, 120_000);

    it('refuses common passwords (sampled from the list), short ones and the user name', async () => {
      const common = dictionary['passwords-common'].filter((p) => p.length >= 12);
      const sample = Array.from({ length: 6 }, () => common[randomInt(common.length)]);
      for (const password of [...sample, 'password1234', 'PASSWORD1234', '123456789012'])
        expect({ password, status: (await createNamed(name('cp'), password)).status }).toEqual({
          password,
          status: 400,
        });
      const username = `${name('self')}-long-enough`;
      expect((await createNamed(username, username)).status).toBe(400);
      expect((await createNamed(username, username.toUpperCase())).status).toBe(400);
      expect((await createNamed(username, 'short-pw')).status).toBe(400);
      const user = await newUser(['viewer']);
      for (const password of [sample[0], user.username, 'short'])
        await gw.expect(400, 'PATCH', `/api/v1/users/${user.id}`, { password }, admin);
    }, 60_000);

    it('every local user changes their own password: other sessions end, this one goes on, audited', async () => {
      for (const roles of [['viewer'], ['auditor'], ['editor', 'operator']] as Role[][]) {
        const user = await newUser(roles);
        const here = { token: await gw.token(user.username, user.password) };
        const elsewhere = { token: await gw.token(user.username, user.password) };
        const next = strongPassword();
        const wrong = await gw.call(
          'POST',
          '/api/v1/auth/password',
          { currentPassword: 'not-the-password', newPassword: next },
          here,
        );
        expect(wrong.status).toBe(403);
        for (const weak of ['password1234', user.username, user.password])
          expect(
            (
              await gw.call(
                'POST',
                '/api/v1/auth/password',
                { currentPassword: user.password, newPassword: weak },
                here,
              )
            ).status,
          ).toBe(400);
        const ok = await gw.call(
          'POST',
          '/api/v1/auth/password',
          { currentPassword: user.password, newPassword: next },
          here,
        );
        expect({ status: ok.status, body: ok.body }).toEqual({
          status: 200,
          body: { sessionsEnded: 1 },
        });
        expect((await me(here)).status).toBe(200);
        expect((await me(elsewhere)).status).toBe(401);
        expect((await gw.login(user.username, user.password)).status).toBe(401);
        expect((await gw.login(user.username, next)).status).toBe(200);
        const events = await auditEvents('password.changed');
        expect(events.map((e) => e.actor)).toContain(user.username);
        const failures = await auditEvents('login.failed');
        expect(failures).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              actor: user.username,
              details: expect.objectContaining({
                reason: 'wrong current password at a password change',
              }),
            }),
          ]),
        );
      }
      // An API key has no password.
      const key = await newKey(['viewer'], admin);
      expect(
        (
          await gw.call(
            'POST',
            '/api/v1/auth/password',
            { currentPassword: 'x', newPassword: strongPassword() },
            { key: key.key },
          )
        ).status,
      ).toBe(403);
    }, 120_000);
  });

  describe('class 12: anonymous 401s are counted, not written one by one', () => {
    it('1000 anonymous 401s add a bounded number of audit rows; the auditor sees the count', async () => {
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        const rows = async () =>
          Number((await pg.query(`SELECT count(*) AS n FROM audit_events`)).rows[0].n);
        const auditor = await newUser(['auditor'], 'auditor');
        const auditorAuth = { token: await gw.token(auditor.username, auditor.password) };
        const before = await rows();
        const started = Date.now();
        const paths = [
          '/api/v1/routes',
          '/api/v1/users',
          '/api/v1/audit/events',
          '/api/v1/connections',
        ];
        const sends: Array<() => Promise<Res>> = [];
        for (let i = 0; i < 1000; i++) {
          const path = paths[i % paths.length];
          const auth: Auth =
            i % 3 === 0
              ? {}
              : i % 3 === 1
                ? { token: `not.a.${randomBytes(6).toString('hex')}` }
                : {
                    key: `jk_${randomBytes(6).toString('hex')}_${randomBytes(24).toString('base64url')}`,
                  };
          sends.push(() => gw.call('GET', path, undefined, auth));
        }
        for (let i = 0; i < sends.length; i += 25) {
          const batch = await Promise.all(sends.slice(i, i + 25).map((s) => s()));
          for (const r of batch) expect(r.status).toBe(401);
        }
        const seconds = (Date.now() - started) / 1000;
        // Counted from the flood's first window on, on the flood's paths (earlier tests' denials were elsewhere).
        const since = Math.floor(started / 2000) * 2000;
        await eventually(
          async () => {
            const n = await sumAnonymous(auditorAuth, since, paths);
            if (n !== 1000) throw new Error(`counted ${n} of 1000`);
          },
          30_000,
          'the 1000 denials counted in the trail',
        );
        const added = (await rows()) - before;
        // One row per 2-second window the flood spanned, +1 for the edges, +1 for a window of earlier denials.
        expect(added).toBeLessThanOrEqual(Math.ceil(seconds / 2) + 3);
        // A signed-in caller's first denials of a window are one event each.
        const viewer = await newUser(['viewer']);
        const viewerAuth = { token: await gw.token(viewer.username, viewer.password) };
        for (let i = 0; i < 5; i++)
          await gw.expect(403, 'GET', '/api/v1/users', undefined, viewerAuth);
        const own = await eventually(async () => {
          const events = (await auditEvents('request.denied')).filter(
            (e) => e.actor === viewer.username,
          );
          if (events.length < 5) throw new Error(`${events.length} of 5`);
          return events;
        }, 20_000);
        expect(own).toHaveLength(5);
        expect(
          (await gw.expect(200, 'GET', '/api/v1/audit/verify', undefined, auditorAuth)).body,
        ).toMatchObject({ ok: true });
      } finally {
        await pg.end();
      }
    }, 180_000);
  });

  async function createNamed(username: string, password = strongPassword()): Promise<Res> {
    return gw.call('POST', '/api/v1/users', { username, password, roles: ['viewer'] }, admin);
  }

  async function newUserNamed(username: string): Promise<void> {
    const res = await createNamed(username);
    expect({ username, status: res.status }).toEqual({ username, status: 201 });
  }

  async function auditEvents(type: string, auth: Auth = admin) {
    const res = await gw.expect(
      200,
      'GET',
      `/api/v1/audit/events?type=${encodeURIComponent(type)}&limit=500`,
      undefined,
      auth,
    );
    return res.body.items as {
      actor: string;
      actorKind: string | null;
      ip: string | null;
      details: Record<string, unknown>;
    }[];
  }

  /** Anonymous 401s on `paths` the trail has counted in windows from `since` on, over every page. */
  async function sumAnonymous(auth: Auth, since: number, paths: string[]): Promise<number> {
    let total = 0;
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/audit/events?type=request.denied&actor=${encodeURIComponent('(anonymous)')}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = (await gw.expect(200, 'GET', q, undefined, auth)).body as {
        items: { details: { windowStart?: string; paths?: Record<string, number> } }[];
        nextCursor: string | null;
      };
      for (const e of page.items) {
        if (!e.details.windowStart || Date.parse(e.details.windowStart) < since) continue;
        for (const p of paths) total += e.details.paths?.[`GET ${p}`] ?? 0;
      }
      cursor = page.nextCursor;
    } while (cursor);
    return total;
  }
});

async function resetPassword(g: Gateway, id: string, token: string): Promise<string> {
  const password = strongPassword();
  await g.expect(200, 'PATCH', `/api/v1/users/${id}`, { password }, { token });
  return password;
}

describe('class 9: sign-in limits hold across two gateway processes on one database', () => {
  let db: TestDatabase;
  let one: Gateway;
  let two: Gateway;

  beforeAll(async () => {
    db = await createTestDatabase('accounts-throttle');
    const env = {
      DATABASE_URL: db.url,
      JUNCTION_LOGIN_WINDOW_SECONDS: '3600',
      JUNCTION_LOGIN_SOURCE_FAILURES: '30',
      JUNCTION_LOGIN_ACCOUNT_FAILURES: '3',
      JUNCTION_LOGIN_LOCKOUT_SECONDS: '2',
      JUNCTION_LOGIN_LOCKOUT_MAX_SECONDS: '60',
    };
    one = new Gateway(await freePort(), env);
    await one.start(); // migrates and makes the admin; the second joins it
    two = new Gateway(await freePort(), env);
    await two.start();
  }, 180_000);

  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await db?.drop();
  });

  const retryAfter = (res: Res) => Number(res.headers.get('retry-after'));

  it('locks an account after failures split over both processes, for its look-alikes too, with a lock that doubles', async () => {
    const token = await one.token('admin', ADMIN_PASSWORD);
    const username = name('victim');
    const password = strongPassword();
    await one.expect(
      201,
      'POST',
      '/api/v1/users',
      { username, password, roles: ['viewer'] },
      { token },
    );
    const gateways = [one, two];
    const locks: number[] = [];
    for (let lock = 0; lock < 3; lock++) {
      // After a lock has ended, the probe that found it ended was the first failure already.
      for (let i = lock === 0 ? 0 : 1; i < 3; i++)
        expect(
          (
            await gateways[(lock + i) % 2].login(
              username,
              `wrong-${i}-${randomBytes(4).toString('hex')}`,
            )
          ).status,
        ).toBe(401);
      const refused = await gateways[lock % 2].login(username, password);
      expect({ status: refused.status, message: refused.body.message }).toEqual({
        status: 429,
        message: expect.stringMatching(/too many failed sign-ins for this account/),
      });
      locks.push(retryAfter(refused));
      // Its look-alikes are the same account to the counter, on either process.
      for (const look of [username.toUpperCase(), username.replace(/e/g, '\u0435')])
        expect((await gateways[(lock + 1) % 2].login(look, password)).status).toBe(429);
      // Other accounts are not held back.
      expect((await two.login('admin', ADMIN_PASSWORD)).status).toBe(200);
      if (lock < 2)
        await eventually(
          async () => {
            const res = await gateways[lock % 2].login(
              username,
              `probe-${randomBytes(4).toString('hex')}`,
            );
            if (res.status !== 401) throw new Error(`still ${res.status}`);
          },
          30_000,
          `lock ${lock} to end`,
        );
    }
    // 2 s, 4 s, 8 s: each within a second of its nominal length.
    expect(locks[0]).toBeGreaterThanOrEqual(1);
    expect(locks[0]).toBeLessThanOrEqual(2);
    expect(locks[1]).toBeGreaterThan(locks[0]);
    expect(locks[1]).toBeLessThanOrEqual(4);
    expect(locks[2]).toBeGreaterThan(locks[1]);
    expect(locks[2]).toBeLessThanOrEqual(8);
  }, 120_000);

  it('holds back an address that sprays many user names, across both processes, with 429 and Retry-After', async () => {
    // The earlier test's failures from this address count too: read how many are left.
    const names = Array.from({ length: 60 }, () => name(randomBytes(1)[0] % 2 ? 'spray' : 'guess'));
    const statuses: number[] = [];
    let limited: Res | undefined;
    for (const [i, user] of names.entries()) {
      const res = await [one, two][i % 2].login(user, 'Summer2024!spray');
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
    const first429 = statuses.indexOf(429);
    expect(statuses.slice(first429).every((s) => s === 429)).toBe(true);
    expect(first429).toBeLessThanOrEqual(30);
    expect(limited!.body.message).toMatch(/too many failed sign-ins from this address/);
    expect(retryAfter(limited!)).toBeGreaterThan(0);
    expect(retryAfter(limited!)).toBeLessThanOrEqual(3600);
    // The right password does not get through either, on either process, until the window ends.
    for (const g of [one, two]) {
      const res = await g.login('admin', ADMIN_PASSWORD);
      expect(res.status).toBe(429);
      expect(retryAfter(res)).toBeGreaterThan(0);
    }
  }, 120_000);
});
