/**
 * The console by role: an editor changes a mapping with the keyboard only, compares two versions
 * side by side and rolls back; a viewer sees no edit control, and an edit forged through the API
 * with the viewer's own session is refused.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess } from '../gateway-process';
import {
  checkScreen,
  launchBrowser,
  openPage,
  screenshot,
  tabTo,
  type WatchedPage,
} from './browser';

jest.setTimeout(240_000);

const suffix = randomBytes(4).toString('hex');
const ROUTE_ID = `console-roles-${suffix}`;
const PASSWORD = 'console-roles-password';
const ROUTE = {
  id: ROUTE_ID,
  description: 'Roles test',
  source: { type: 'http', path: `roles/${suffix}`, mode: 'sync', auth: 'none' },
  pipeline: [{ transform: '{ "orderId": id }' }],
  destinations: [{ type: 'log' }],
};

async function signIn(page: Page, base: string, username: string): Promise<void> {
  await page.goto(`${base}/console/routes`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Routes' }).waitFor();
}

describe('console: editor and viewer', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let browser: Browser;
  const pages: WatchedPage[] = [];
  const a11y: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('console_roles');
    gw = new GatewayProcess(await freePort(), db.url);
    await gw.start();
    expect((await gw.api('POST', '/routes', ROUTE)).status).toBe(201);
    for (const [username, role] of [
      ['edna', 'editor'],
      ['vic', 'viewer'],
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

  it('an editor changes the mapping with the keyboard only and activates it', async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    await signIn(page, gw.base, 'edna');
    // The palette (Ctrl+K) to the route, then Tab to the editor, type, Tab to save.
    await page.getByRole('link', { name: ROUTE_ID }).waitFor();
    await eventually(async () => {
      await page.keyboard.press('Control+K');
      await page.getByRole('textbox', { name: 'Command' }).waitFor({ timeout: 1000 });
    });
    await page.keyboard.type(`Open route ${ROUTE_ID}`);
    await page.getByRole('button', { name: `Open route ${ROUTE_ID}` }).waitFor();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Route ${ROUTE_ID}` }).waitFor();
    await page.locator('.cm-content').waitFor();
    await tabTo(page, '.cm-content');
    // The whole document retyped, key by key (a flow mapping on one line is YAML too).
    const changed = {
      ...ROUTE,
      pipeline: [{ transform: '{ "orderId": id, "customer": customer.id }' }],
    };
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(JSON.stringify(changed));
    await eventually(async () =>
      expect(await page.getByTestId('problems').innerText()).toBe('No problems.'),
    );
    expect(await page.getByTestId('outcome').textContent()).toBe('deliver');
    await tabTo(page, '[data-testid="comment"]');
    await page.keyboard.type('customer id');
    await tabTo(page, '[data-testid="save"]');
    expect(await page.getByTestId('save').textContent()).toBe('Save as version 2');
    await page.keyboard.press('Enter');
    await eventually(async () =>
      expect(await page.getByTestId('editor-message').innerText()).toContain('Saved as version 2'),
    );
    await tabTo(page, '[data-testid="activate"]');
    expect(await page.getByTestId('activate').textContent()).toBe('Activate version 2');
    await page.keyboard.press('Enter');
    await eventually(async () =>
      expect(await page.getByTestId('versions-summary').innerText()).toContain('active v2'),
    );
    const v2 = await gw.api('GET', `/routes/${ROUTE_ID}/versions/2`);
    expect(JSON.stringify((v2.body as { document: unknown }).document)).toContain('customer.id');
    expect((v2.body as { author: string }).author).toBe('edna');
  });

  it('compares two versions side by side and rolls back to the first', async () => {
    const { page } = pages[0];
    await page.getByRole('link', { name: 'Versions' }).click();
    await page.getByRole('heading', { name: `Versions of ${ROUTE_ID}` }).waitFor();
    expect(await page.getByTestId('version-row-2').innerText()).toContain('edna');
    // Default: the older on the left; swap them, which the address keeps.
    await page.getByRole('radio', { name: 'Compare version 2 on the left' }).check();
    await page.getByRole('radio', { name: 'Compare version 1 on the right' }).check();
    const diff = page.getByTestId('version-diff');
    await diff.waitFor();
    await eventually(async () => {
      const shown = await diff.innerText();
      expect(shown).toContain('customer.id');
      expect(await page.locator('.cm-changedLine').count()).toBeGreaterThan(0);
    });
    await eventually(() => {
      expect(new URL(page.url()).searchParams.get('left')).toBe('2');
      expect(new URL(page.url()).searchParams.get('right')).toBe('1');
    });
    a11y.push(...(await checkScreen(page, 'versions')));
    await page.getByRole('button', { name: 'Roll back to version 1' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('versions-message').innerText()).toContain(
        'Version 1 is active',
      ),
    );
    const route = await gw.api('GET', `/routes/${ROUTE_ID}`);
    expect(route.body).toMatchObject({ activeVersion: 1, latestVersion: 2 });
    // A deep link opens the same comparison.
    await page.goto(`${gw.base}/console/routes/${ROUTE_ID}/versions?left=2&right=1`);
    await page.getByTestId('version-diff').waitFor();
    await screenshot(page, 'versions-deep-link');
  });

  it('a viewer sees no edit control, and a forged edit through the API is refused', async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page, context } = watched;
    await signIn(page, gw.base, 'vic');
    expect(await page.getByRole('link', { name: 'New route' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Connections' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Users' }).count()).toBe(0);
    a11y.push(...(await checkScreen(page, 'viewer-routes')));
    await page.getByRole('link', { name: ROUTE_ID }).click();
    await page.locator('.cm-content').waitFor();
    expect(await page.locator('.cm-content').getAttribute('contenteditable')).toBe('false');
    expect(await page.getByRole('button', { name: /Save/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /Activate/ }).count()).toBe(0);
    await page.getByRole('link', { name: 'Versions' }).click();
    await page.getByTestId('version-row-1').waitFor();
    expect(await page.getByRole('button', { name: /Roll back|Activate/ }).count()).toBe(0);
    a11y.push(...(await checkScreen(page, 'viewer-versions')));

    const csrf = (await context.cookies()).find((c) => c.name === 'junction_csrf')?.value ?? '';
    expect(csrf).not.toBe('');
    const forged = await context.request.put(`${gw.base}/api/v1/routes/${ROUTE_ID}`, {
      headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
      data: { ...ROUTE, description: 'forged' },
    });
    expect(forged.status()).toBe(403);
    const activate = await context.request.post(
      `${gw.base}/api/v1/routes/${ROUTE_ID}/versions/2/activate`,
      { headers: { 'x-csrf-token': csrf } },
    );
    expect(activate.status()).toBe(403);
    const route = await gw.api('GET', `/routes/${ROUTE_ID}`);
    expect(route.body).toMatchObject({ activeVersion: 1, latestVersion: 2 });
  });

  it('an editor whose activation the samples refuse sees why, and no override', async () => {
    const sample = await gw.api('PUT', `/routes/${ROUTE_ID}/samples/card-order`, {
      body: { id: 'o-9', card: '4111111111111111' },
    });
    expect(sample.status).toBe(200);
    const leaking = { ...ROUTE, pipeline: [{ transform: '{ "orderId": id, "card": card }' }] };
    expect((await gw.api('PUT', `/routes/${ROUTE_ID}`, leaking)).status).toBe(200);
    const { page } = pages[0];
    await page.goto(`${gw.base}/console/routes/${ROUTE_ID}/versions`);
    await page.getByRole('button', { name: 'Activate version 3' }).click();
    const guard = page.getByTestId('sample-guard');
    await guard.waitFor();
    expect(await guard.innerText()).toContain('card-order');
    expect(await page.getByLabel('Reason to activate anyway (audited)').count()).toBe(0);
    expect(await page.getByRole('button', { name: /anyway/ }).count()).toBe(0);
    expect((await gw.api('GET', `/routes/${ROUTE_ID}`)).body).toMatchObject({ activeVersion: 1 });
    // The refusal is an HTTP 409 (Chrome logs it); it is the point of this test.
    const refused = pages[0].problems.findIndex((p) => p.includes('status of 409'));
    expect(refused).toBeGreaterThanOrEqual(0);
    pages[0].problems.splice(refused, 1);
  });

  it("shows the session ending: an admin ends the viewer's session, the console says so at sign-in", async () => {
    const { page } = pages[1];
    expect(await page.getByTestId('session-ends').innerText()).toMatch(/^until \d/);
    const sessions = (await gw.api('GET', '/sessions')).body as { id: string; username: string }[];
    const vic = sessions.filter((s) => s.username === 'vic');
    expect(vic.length).toBeGreaterThan(0);
    for (const s of vic) {
      const ended = await fetch(`${gw.base}/api/v1/sessions/${s.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${gw.token}` },
      });
      expect(ended.status).toBe(204);
    }
    await page.getByRole('link', { name: 'Routes' }).click();
    await page.getByRole('status').filter({ hasText: 'Session ended' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    // The refused call is an HTTP 401 (Chrome logs it); it is the point of this test.
    const problems = pages[1].problems;
    for (let i = problems.length - 1; i >= 0; i--)
      if (problems[i].includes('status of 401')) problems.splice(i, 1);
    await screenshot(page, 'session-ended');
  });

  it('had no console error, no foreign request and no serious accessibility violation', () => {
    for (const watched of pages) {
      expect(watched.problems).toEqual([]);
      expect(watched.foreign).toEqual([]);
    }
    expect(a11y).toEqual([]);
  });
});
