/**
 * A gateway behind a reverse proxy, as a process on Postgres (the test's own requests, from
 * 127.0.0.1, play the proxy): every request comes from the proxy's address, so the per-address
 * sign-in limit held back every user once one client had failed 20 times. With the proxy named in
 * JUNCTION_TRUSTED_PROXIES its X-Forwarded-For is counted (and audited, and its X-Forwarded-Proto
 * makes the cookies Secure); without, the header is never believed, whoever sends it.
 */
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, freePort, GatewayProcess } from '../gateway-process';

jest.setTimeout(120_000);

const LIMIT = 3;
const ATTACKER = '198.51.100.66';
const COLLEAGUE = '203.0.113.5';

describe('reverse proxies', () => {
  let db: TestDatabase;
  // Its own: its sign-in counters are apart from the proxied gateway's.
  let directDb: TestDatabase;
  let proxied: GatewayProcess;
  let direct: GatewayProcess;

  beforeAll(async () => {
    db = await createTestDatabase('security_proxies');
    directDb = await createTestDatabase('security_no_proxies');
    const limits = { JUNCTION_LOGIN_SOURCE_FAILURES: String(LIMIT) };
    proxied = new GatewayProcess(await freePort(), db.url, {
      ...limits,
      JUNCTION_TRUSTED_PROXIES: '127.0.0.1, ::1',
    });
    direct = new GatewayProcess(await freePort(), directDb.url, limits);
    await proxied.start();
    await direct.start();
  });

  afterAll(async () => {
    await proxied?.stop();
    await direct?.stop();
    await db?.drop();
    await directDb?.drop();
  });

  const signIn = (gw: GatewayProcess, headers: Record<string, string>, password: string) =>
    fetch(`${gw.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ username: 'admin', password }),
    });

  it("counts the client named by a trusted proxy, audits it and follows the proxy's scheme", async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++)
      statuses.push(
        (await signIn(proxied, { 'x-forwarded-for': ATTACKER }, `wrong-password-${i}`)).status,
      );
    expect(statuses).toEqual([401, 401, 401, 429]);

    const colleague = await signIn(
      proxied,
      { 'x-forwarded-for': `${ATTACKER}, ${COLLEAGUE}`, 'x-forwarded-proto': 'https' },
      ADMIN_PASSWORD,
    );
    expect(colleague.status).toBe(200);
    const cookies = colleague.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    expect(cookies.every((c) => /; Secure$/.test(c))).toBe(true);
    // Browsers are told to keep to HTTPS for this host (HSTS), and only over HTTPS.
    expect(colleague.headers.get('strict-transport-security')).toBe('max-age=31536000');
    const plain = await fetch(`${proxied.base}/health/live`);
    expect(plain.headers.get('strict-transport-security')).toBeNull();
    const page = await fetch(`${proxied.base}/console/`, {
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(page.headers.get('strict-transport-security')).toBe('max-age=31536000');

    const events = (await proxied.api('GET', '/audit/events?type=login.succeeded')).body as {
      items: { ip: string }[];
    };
    expect(events.items.map((e) => e.ip)).toContain(COLLEAGUE);
    const sessions = (await proxied.api('GET', '/sessions')).body as { ip: string }[];
    expect(sessions.map((s) => s.ip)).toContain(COLLEAGUE);
  });

  it('counts a client a proxy names with its port (Azure, IIS) as its address, whatever the port', async () => {
    const client = '192.0.2.77';
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++)
      statuses.push(
        (
          await signIn(
            proxied,
            { 'x-forwarded-for': `${client}:${50_000 + i}` },
            `wrong-password-${i}`,
          )
        ).status,
      );
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('believes no X-Forwarded-For when no proxy is named', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++)
      statuses.push(
        (
          await signIn(
            direct,
            { 'x-forwarded-for': `192.0.2.${i + 1}`, 'x-forwarded-proto': 'https' },
            `wrong-password-${i}`,
          )
        ).status,
      );
    expect(statuses).toEqual([401, 401, 401, 429]);
    // Nor its scheme: no HSTS from a header anyone may send.
    const claimed = await fetch(`${direct.base}/health/live`, {
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(claimed.headers.get('strict-transport-security')).toBeNull();
  });
});
