/**
 * What a signed-in user can make the gateway keep by signing in again and again, on the built
 * gateway as a process on Postgres: every sign-in stored a session row for ever, with the whole
 * User-Agent header (up to 16 KB), and GET /sessions answered every live one. A viewer's script
 * grew the database by gigabytes an hour and the admin's sessions screen past what it can load.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { freePort, GatewayProcess } from '../gateway-process';

jest.setTimeout(180_000);

const PASSWORD = `viewer-${randomBytes(6).toString('hex')}`;
const SIGN_INS = 60;
const KEPT = 50;

describe('sign-in sessions', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;

  beforeAll(async () => {
    db = await createTestDatabase('security_sessions');
    gw = new GatewayProcess(await freePort(), db.url, {
      JUNCTION_MAX_SESSIONS_PER_USER: String(KEPT),
    });
    await gw.start();
  });

  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
  });

  const signIn = async (userAgent: string) => {
    const res = await fetch(`${gw.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': userAgent },
      body: JSON.stringify({ username: 'vera', password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  };

  const me = async (token: string) =>
    (await fetch(`${gw.base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } }))
      .status;

  const rows = async () => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const {
        rows: [row],
      } = await client.query<{ n: string; longest: number | null }>(
        `SELECT count(*) AS n, max(length(s.user_agent)) AS longest
           FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'vera'`,
      );
      return { rows: Number(row.n), longestUserAgent: row.longest };
    } finally {
      await client.end();
    }
  };

  it('keeps a user to its newest sessions and a short User-Agent, however often it signs in', async () => {
    expect(
      (await gw.api('POST', '/users', { username: 'vera', password: PASSWORD, roles: ['viewer'] }))
        .status,
    ).toBe(201);
    // A header near Node's 16 KB limit, and random, so Postgres cannot compress it away.
    const userAgent = `Mozilla/5.0 ${randomBytes(9_000).toString('base64')}`;
    const tokens: string[] = [];
    for (let i = 0; i < SIGN_INS; i++) tokens.push(await signIn(userAgent));

    expect(await rows()).toEqual({ rows: KEPT, longestUserAgent: 512 });
    // The oldest sessions ended; the newest go on.
    expect(await me(tokens[0])).toBe(401);
    expect(await me(tokens[SIGN_INS - KEPT - 1])).toBe(401);
    expect(await me(tokens[SIGN_INS - KEPT])).toBe(200);
    expect(await me(tokens[SIGN_INS - 1])).toBe(200);

    const listed = (await gw.api('GET', '/sessions')).body as {
      username: string;
      userAgent: string;
    }[];
    const vera = listed.filter((s) => s.username === 'vera');
    expect(vera).toHaveLength(KEPT);
    expect(vera.every((s) => userAgent.startsWith(s.userAgent))).toBe(true);
  });

  it('forgets sessions that ended at the next sign-in, and still ends every one on a password change', async () => {
    const token = await signIn('cli');
    const change = await fetch(`${gw.base}/api/v1/auth/password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ currentPassword: PASSWORD, newPassword: `${PASSWORD}-2` }),
    });
    // This sign-in ended the oldest of the 50; the change ends the other 49.
    expect(await change.json()).toEqual({ sessionsEnded: KEPT - 1 });
    expect(await rows()).toEqual({ rows: KEPT, longestUserAgent: 512 });
    const res = await fetch(`${gw.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'cli' },
      body: JSON.stringify({ username: 'vera', password: `${PASSWORD}-2` }),
    });
    expect(res.status).toBe(200);
    // The one that changed the password and the new one; the ended ones are gone.
    expect(await rows()).toEqual({ rows: 2, longestUserAgent: 3 });
    expect(await me(token)).toBe(200);
  });
});
