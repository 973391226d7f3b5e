/**
 * Signing out ends the session on the server before the console shows sign-in: a sign-out that
 * did not arrive (the network, a proxy, the gateway restarting) says so and leaves the user where
 * they were, instead of showing sign-in over a session that is still open in this browser for
 * whoever comes to it next.
 */
import type { Browser } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, freePort, GatewayProcess } from '../gateway-process';
import { launchBrowser, openPage, type WatchedPage } from './browser';

jest.setTimeout(120_000);

describe('console: signing out', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let browser: Browser;
  let watched: WatchedPage;

  beforeAll(async () => {
    db = await createTestDatabase('console_sign_out');
    gw = new GatewayProcess(await freePort(), db.url);
    await gw.start();
    browser = await launchBrowser();
    watched = await openPage(browser, gw.base);
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await db?.drop();
  });

  it('shows sign-in only once the gateway ended the session', async () => {
    const { page, context } = watched;
    await page.goto(`${gw.base}/console/routes`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel(/^Password/).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Routes' }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'junction_session')!;
    const me = async () =>
      (
        await fetch(`${gw.base}/api/v1/auth/me`, {
          headers: { cookie: `junction_session=${cookie.value}` },
        })
      ).status;

    // The sign-out does not reach the gateway, then the gateway answers it with an error.
    for (const fail of ['abort', 'error'] as const) {
      await page.route('**/api/v1/auth/logout', (route) =>
        fail === 'abort' ? route.abort() : route.fulfill({ status: 503, body: '{}' }),
      );
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByTestId('sign-out-failed').waitFor();
      expect(await page.getByTestId('sign-out-failed').innerText()).toContain(
        'your session is still open',
      );
      expect(new URL(page.url()).pathname).toBe('/console/routes');
      await page.unroute('**/api/v1/auth/logout');
      expect(await me()).toBe(200);
    }

    // Now it arrives: sign-in, the session over on the server, and none left in the browser.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Junction' }).waitFor();
    expect(await me()).toBe(401);
    await page.goto(`${gw.base}/console/routes`);
    await page.getByRole('heading', { name: 'Sign in to Junction' }).waitFor();
    expect((await context.cookies()).map((c) => c.name)).not.toContain('junction_session');
    const aborted = /net::ERR_FAILED|status of 503/;
    expect(watched.problems.filter((p) => !aborted.test(p))).toEqual([]);
  });

  it("'Sign out everywhere' in the command palette ends this session and the user's others", async () => {
    const { page } = watched;
    // Another device of the same user.
    const elsewhere = (
      (await (
        await fetch(`${gw.base}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
        })
      ).json()) as { token: string }
    ).token;
    const status = async (token: string) =>
      (await fetch(`${gw.base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } }))
        .status;
    expect(await status(elsewhere)).toBe(200);
    await page.goto(`${gw.base}/console/routes`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel(/^Password/).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Routes' }).waitFor();
    await page.getByRole('button', { name: /^Commands/ }).click();
    await page.getByLabel('Command').fill('everywhere');
    await page.getByRole('button', { name: /Sign out everywhere/ }).click();
    await page.getByRole('heading', { name: 'Sign in to Junction' }).waitFor();
    expect(await status(elsewhere)).toBe(401);
    await page.goto(`${gw.base}/console/routes`);
    await page.getByRole('heading', { name: 'Sign in to Junction' }).waitFor();
  });
});
