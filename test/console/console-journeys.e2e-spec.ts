/**
 * The console along the journeys the other browser tests do not take: a viewer or an auditor
 * following a link to a screen their roles do not open.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { freePort, GatewayProcess } from '../gateway-process';
import { checkScreen, launchBrowser, openPage, type WatchedPage } from './browser';

jest.setTimeout(240_000);

const suffix = randomBytes(4).toString('hex');
const ROUTE_ID = `console-journeys-${suffix}`;
const PASSWORD = 'console-journeys-password';
const ROUTE = {
  id: ROUTE_ID,
  description: 'Journeys test',
  source: { type: 'http', path: `journeys/${suffix}`, mode: 'sync', auth: 'none' },
  pipeline: [
    { transform: '{ "orderId": id, "card": { "pan": payment.card.pan } }' },
    { mask: [{ path: 'card.pan', with: 'pan' }] },
  ],
  destinations: [{ type: 'log' }],
};

async function signIn(page: Page, base: string, username: string, path: string): Promise<void> {
  await page.goto(`${base}/console${path}`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('console: journeys', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let browser: Browser;
  const pages: WatchedPage[] = [];
  const a11y: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('console_journeys');
    gw = new GatewayProcess(await freePort(), db.url);
    await gw.start();
    expect((await gw.api('POST', '/routes', ROUTE)).status).toBe(201);
    for (const [username, role] of [
      ['edna', 'editor'],
      ['vic', 'viewer'],
      ['aud', 'auditor'],
    ]) {
      const res = await gw.api('POST', '/users', { username, password: PASSWORD, roles: [role] });
      expect(res.status).toBe(201);
    }
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await db?.drop();
  });

  it('a viewer and an auditor sent a link to a screen their roles do not open are told so, and nothing is asked of the API', async () => {
    const cases: Array<[string, string[]]> = [
      [
        'vic',
        [
          `/audit?routeId=${ROUTE_ID}`,
          '/audit/messages/m-1',
          '/verify',
          '/users',
          '/api-keys',
          '/sessions',
          '/connections',
          '/routes/new',
          '/dead-letters',
        ],
      ],
      ['aud', ['/routes', `/routes/${ROUTE_ID}`, `/routes/${ROUTE_ID}/versions`, '/connections']],
    ];
    for (const [username, paths] of cases) {
      const watched = await openPage(browser, gw.base);
      pages.push(watched);
      const { page } = watched;
      const refused: string[] = [];
      page.on('response', (res) => {
        if (res.status() === 403) refused.push(res.url());
      });
      await signIn(page, gw.base, username, paths[0]);
      for (const path of paths) {
        if (path !== paths[0]) await page.goto(`${gw.base}/console${path}`);
        const notice = page.getByRole('alert').filter({ hasText: 'Not available' });
        await notice.waitFor();
        expect(await notice.innerText()).toMatch(/needs the \S+ permission/);
        // The screen itself is not there: no form to fill that the server would refuse.
        expect(await page.getByRole('button', { name: /Search|Create|Run|Issue/ }).count()).toBe(0);
        expect(new URL(page.url()).pathname).toBe(`/console${path.split('?')[0]}`);
      }
      a11y.push(...(await checkScreen(page, `forbidden-${username}`)));
      expect(refused).toEqual([]);
    }
  });

  it('had no console error, no foreign request and no serious accessibility violation', () => {
    for (const watched of pages) {
      expect(watched.problems).toEqual([]);
      expect(watched.foreign).toEqual([]);
    }
    expect(a11y).toEqual([]);
  });
});
