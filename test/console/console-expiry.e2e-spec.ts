/**
 * A session that runs out on its own (not ended by an admin): the gateway's sessions last 5 s
 * here, and the console, at the session's end, shows the sign-in screen saying the session
 * expired (the server refuses it by then), and returns to the page it was on once signed in
 * again.
 */
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, eventually, freePort, GatewayProcess } from '../gateway-process';
import { checkScreen, launchBrowser, openPage, screenshot, type WatchedPage } from './browser';

jest.setTimeout(120_000);

const TTL_SECONDS = 5;
const DEEP_LINK = '/console/routes?q=orders&state=running';

async function signIn(page: Page): Promise<void> {
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel(/^Password/).fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Routes' }).waitFor();
}

function expectDeepLink(page: Page): void {
  const here = new URL(page.url());
  expect(here.pathname).toBe('/console/routes');
  expect(here.searchParams.get('q')).toBe('orders');
  expect(here.searchParams.get('state')).toBe('running');
}

describe('console: a session that expires on its own', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let browser: Browser;
  let watched: WatchedPage;
  const a11y: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('console_expiry');
    gw = new GatewayProcess(await freePort(), db.url, {
      JUNCTION_TOKEN_TTL_SECONDS: String(TTL_SECONDS),
    });
    await gw.start();
    browser = await launchBrowser();
    watched = await openPage(browser, gw.base);
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await db?.drop();
  });

  it('is shown as expired when it runs out, the server refuses it, and the deep link is kept', async () => {
    const { page, context } = watched;
    await page.goto(`${gw.base}${DEEP_LINK}`);
    await page.getByRole('heading', { name: 'Sign in to Junction' }).waitFor();
    // A first visit is not an expiry.
    expect(await page.getByRole('status').filter({ hasText: 'Session ended' }).count()).toBe(0);
    await signIn(page);
    expectDeepLink(page);
    const cookie = (await context.cookies()).find((c) => c.name === 'junction_session');
    expect(cookie?.value).toBeTruthy();
    const me = () =>
      fetch(`${gw.base}/api/v1/auth/me`, {
        headers: { cookie: `junction_session=${cookie!.value}` },
      });
    expect((await me()).status).toBe(200);

    // Nobody ends it: it runs out, and the console leaves for sign-in on its own.
    await eventually(
      async () => expect(new URL(page.url()).pathname).toBe('/console/sign-in'),
      (TTL_SECONDS + 30) * 1000,
      'the sign-in screen',
    );
    // Not a guess of the browser's: the server refuses the session now.
    await eventually(async () => expect((await me()).status).toBe(401), 10_000, 'a 401');
    const notice = page.getByRole('status').filter({ hasText: 'Session ended' });
    await notice.waitFor();
    expect(await notice.innerText()).toContain('Your session has expired');
    const signInPage = new URL(page.url());
    expect(signInPage.pathname).toBe('/console/sign-in');
    const back = signInPage.searchParams.get('redirect') ?? '';
    expect(back).toContain('/routes?');
    expect(new URLSearchParams(back.split('?')[1]).get('q')).toBe('orders');
    expect(new URLSearchParams(back.split('?')[1]).get('state')).toBe('running');
    a11y.push(...(await checkScreen(page, 'session-expired')));

    // Signed in again: back where it was.
    await signIn(page);
    expectDeepLink(page);
    await screenshot(page, 'session-expired-back');
    // Before this session runs out too (its 401 is not this test's).
    await watched.context.close();
    expect(watched.problems).toEqual([]);
    expect(watched.foreign).toEqual([]);
    expect(a11y).toEqual([]);
  });
});
