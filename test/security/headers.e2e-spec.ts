/**
 * What every reply tells the browser that receives it, on the gateway as a process: the API's
 * replies (data, audit records, tokens) are never cached, never framed, never sniffed and run
 * nothing when opened as a page; the API's reference at /docs runs its own scripts only and
 * still works in Chromium under that policy; the console keeps its own policy and caching.
 */
import type { Browser } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, freePort, GatewayProcess } from '../gateway-process';
import { launchBrowser, openPage } from '../console/browser';
import { API_CSP } from '../../apps/gateway/src/core/security-headers';

jest.setTimeout(120_000);

describe('security headers', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let browser: Browser | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('security_headers');
    gw = new GatewayProcess(await freePort(), db.url);
    await gw.start();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await db?.drop();
  });

  const expectApiHeaders = (what: string, res: Response) => {
    const seen = {
      what,
      cache: res.headers.get('cache-control'),
      csp: res.headers.get('content-security-policy'),
      sniff: res.headers.get('x-content-type-options'),
      frame: res.headers.get('x-frame-options'),
      referrer: res.headers.get('referrer-policy'),
    };
    expect(seen).toEqual({
      what,
      cache: 'no-store',
      csp: API_CSP,
      sniff: 'nosniff',
      frame: 'DENY',
      referrer: 'no-referrer',
    });
  };

  it('puts them on every reply of the API, whatever its status', async () => {
    const auth = { authorization: `Bearer ${gw.token}` };
    const login = await fetch(`${gw.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(200);
    expectApiHeaders('login', login);
    const cases: [string, string, Record<string, string>, number][] = [
      ['GET', '/api/v1/routes', auth, 200],
      ['GET', '/api/v1/users', auth, 200],
      ['GET', '/api/v1/audit/messages?limit=1', auth, 200],
      ['GET', '/api/v1/routes', {}, 401],
      ['GET', '/api/v1/routes/no-such-route', auth, 404],
      ['GET', '/api/v1/no-such-thing', auth, 404],
      ['POST', '/api/v1/ingest/no-such-path', {}, 404],
      ['GET', '/health/live', {}, 200],
      ['GET', '/metrics', {}, 200],
      ['GET', '/openapi.json', {}, 200],
    ];
    for (const [method, path, headers, status] of cases) {
      const res = await fetch(`${gw.base}${path}`, { method, headers });
      expect({ path, status: res.status }).toEqual({ path, status });
      expectApiHeaders(`${method} ${path}`, res);
      await res.arrayBuffer();
    }
  });

  it('keeps the console on its own policy and caching', async () => {
    const page = await fetch(`${gw.base}/console/routes`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const asset = (await page.text()).match(/\/console\/assets\/[^"]+\.js/)![0];
    const js = await fetch(`${gw.base}${asset}`);
    expect(js.headers.get('cache-control')).toContain('immutable');
  });

  it('serves /docs under a policy of its own scripts only, and Swagger UI works under it', async () => {
    const res = await fetch(`${gw.base}/docs`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"])
      expect(csp).toContain(directive);
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');

    browser = await launchBrowser();
    const { page, problems, foreign } = await openPage(browser, gw.base);
    await page.goto(`${gw.base}/docs`);
    // The operations are listed: the UI's scripts ran and fetched the document from this origin.
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
    await page.getByText('/api/v1/auth/login').first().waitFor();
    // A refused script, style or request is a console error in Chromium.
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });
});
