/**
 * Card numbers in what the console shows as it was written: a route's text (an expression's
 * literal, a key, a comment), a version's comment and a sample's name. Each is refused when it is
 * saved, in the editor and through the API, so that no viewer's screen ever lists one.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess } from '../gateway-process';
import { launchBrowser, openPage, setEditorText, type WatchedPage } from './browser';

jest.setTimeout(240_000);

const suffix = randomBytes(4).toString('hex');
const ROUTE_ID = `console-cards-${suffix}`;
const PASSWORD = 'console-cards-password';
const ROUTE = {
  id: ROUTE_ID,
  description: 'Card numbers test',
  source: { type: 'http', path: `cards/${suffix}`, mode: 'sync', auth: 'none' },
  pipeline: [{ transform: '{ "orderId": id }' }],
  destinations: [{ type: 'log' }],
};

/** Test card numbers in the spellings a person would type. */
const SHOWN = [/4111\D{0,3}1111\D{0,3}1111\D{0,3}1111/, /5555\D{0,3}5555\D{0,3}5555\D{0,3}4444/];
const leaks = (text: string) => SHOWN.some((p) => p.test(text));

async function signIn(page: Page, base: string, username: string): Promise<void> {
  await page.goto(`${base}/console/routes/${ROUTE_ID}`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: `Route ${ROUTE_ID}` }).waitFor();
}

/**
 * Everything a person can read on the page: its text and the values of its fields, but the
 * editor's sample message (the viewer's own input, a test card number by default).
 */
const screenText = (page: Page) =>
  page.evaluate(
    `document.body.innerText + '\\n' + [...document.querySelectorAll('input, textarea')].filter((e) => !e.labels?.[0]?.textContent?.startsWith('Sample message')).map((e) => e.value).join('\\n')`,
  ) as Promise<string>;

describe('console: card numbers written into routes', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let browser: Browser;
  const pages: WatchedPage[] = [];

  const send = async (method: string, path: string, body: string, type: string) => {
    const res = await fetch(`${gw.base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': type },
      body,
    });
    return { status: res.status, text: await res.text() };
  };
  const versions = async () =>
    ((await gw.api('GET', `/routes/${ROUTE_ID}/versions`)).body as unknown[]).length;

  beforeAll(async () => {
    db = await createTestDatabase('console_cards');
    gw = new GatewayProcess(await freePort(), db.url);
    await gw.start();
    expect((await gw.api('POST', '/routes', ROUTE)).status).toBe(201);
    for (const [username, role] of [
      ['edna', 'editor'],
      ['vic', 'viewer'],
      ['otto', 'operator'],
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

  it('the editor marks a card number in an expression and refuses to save it', async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    await signIn(page, gw.base, 'edna');
    await page.locator('.cm-content').waitFor();
    const withCard = [
      `id: ${ROUTE_ID}`,
      `description: Card numbers test`,
      `source: { type: http, path: cards/${suffix}, mode: sync, auth: none }`,
      `pipeline:`,
      `  - filter: 'card != "4111 1111 1111 1111"'`,
      `destinations: [{ type: log }]`,
    ].join('\n');
    await setEditorText(page, withCard);
    await eventually(async () =>
      expect(await page.getByTestId('problems').innerText()).toContain(
        '/pipeline/0/filter must not hold a card number',
      ),
    );
    expect(leaks(await page.getByTestId('problems').innerText())).toBe(false);
    await page.getByTestId('save').click();
    await eventually(async () =>
      expect(await page.getByTestId('editor-message').innerText()).toMatch(/problem/),
    );
    expect(leaks(await page.getByTestId('editor-message').innerText())).toBe(false);
    expect(await versions()).toBe(1);

    // A valid change with the card number in the comment instead: refused too.
    await setEditorText(page, withCard.replace(/'card.*'/, "'total > 0'"));
    await eventually(async () =>
      expect(await page.getByTestId('problems').innerText()).toBe('No problems.'),
    );
    await page.getByTestId('comment').fill('for card 5555-5555-5555-4444');
    await page.getByTestId('save').click();
    await eventually(async () =>
      expect(await page.getByTestId('editor-message').innerText()).toContain(
        'comment must not hold a card number',
      ),
    );
    expect(await versions()).toBe(1);
  });

  it('the API refuses one in a key, a YAML comment, a version comment and a sample name', async () => {
    const yaml = (extra: string) =>
      [
        `id: ${ROUTE_ID}`,
        extra,
        `source: { type: http, path: cards/${suffix}, mode: sync, auth: none }`,
        `destinations: [{ type: log }]`,
      ].join('\n');
    const attempts: Array<[string, string, string, string]> = [
      ['PUT', `/routes/${ROUTE_ID}`, yaml('# test card 4111 1111 1111 1111'), 'application/yaml'],
      [
        'PUT',
        `/routes/${ROUTE_ID}`,
        yaml('pipeline: [{ validate: { schema: { properties: { "4111111111111111": {} } } } }]'),
        'application/yaml',
      ],
      [
        'PUT',
        `/routes/${ROUTE_ID}`,
        JSON.stringify({ ...ROUTE, pipeline: [{ transform: '{ "n": 5555555555554444 }' }] }),
        'application/json',
      ],
      [
        'PUT',
        `/routes/${ROUTE_ID}?comment=${encodeURIComponent('card 4111 1111 1111 1111')}`,
        JSON.stringify({ ...ROUTE, description: 'changed' }),
        'application/json',
      ],
      ['POST', '/routes/validate', yaml('# 4111-1111-1111-1111'), 'application/yaml'],
      ['PUT', `/routes/${ROUTE_ID}/samples/4111-1111-1111-1111`, '{"body":{}}', 'application/json'],
    ];
    for (const [method, path, body, type] of attempts) {
      const res = await send(method, path, body, type);
      expect(leaks(res.text)).toBe(false);
      expect(res.text).toMatch(/must not hold a card number/);
      if (path !== '/routes/validate') expect([path, res.status]).toEqual([path, 400]);
    }
    const comment = await send(
      'POST',
      '/routes/validate',
      yaml('# 4111-1111-1111-1111'),
      'application/yaml',
    );
    expect(JSON.parse(comment.text)).toMatchObject({
      valid: false,
      problems: [{ pointer: '', line: 2, column: 3 }],
    });
    expect(await versions()).toBe(1);
    expect((await gw.api('GET', `/routes/${ROUTE_ID}/samples`)).body).toEqual([]);
  });

  it("a viewer's editor, versions and samples show none", async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    await signIn(page, gw.base, 'vic');
    await page.locator('.cm-content').waitFor();
    expect(leaks(await screenText(page))).toBe(false);
    await page.getByRole('link', { name: 'Versions' }).click();
    await page.getByRole('heading', { name: `Versions of ${ROUTE_ID}` }).waitFor();
    expect(leaks(await screenText(page))).toBe(false);
    for (const p of pages) expect(p.problems.filter((m) => !/status of 4\d\d/.test(m))).toEqual([]);
  });
  it("an operator's editor offers no draft over the dead letters, and the API refuses one", async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    await signIn(page, gw.base, 'otto');
    await page.locator('.cm-content').waitFor();
    await page.getByTestId('problems').waitFor();
    expect(await page.getByTestId('draft-preview').count()).toBe(0);
    // The same request made with the operator's session: a draft that re-spells the number.
    const status = await page.evaluate(async (routeId) => {
      const { cookie } = (globalThis as unknown as { document: { cookie: string } }).document;
      const csrf = /(?:^|; )junction_csrf=([^;]+)/.exec(cookie)![1];
      const res = await fetch('/api/v1/dead-letters/preview', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify({
          filter: { routeId },
          document: `id: ${routeId}\nsource: { type: http, path: x }\npipeline: [{ transform: '$split(card, "")' }]\ndestinations: [{ type: log }]`,
        }),
      });
      return res.status;
    }, ROUTE_ID);
    expect(status).toBe(403);
  });
});
