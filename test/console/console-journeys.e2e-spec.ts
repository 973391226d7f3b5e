/**
 * The console along the journeys the other browser tests do not take: a viewer or an auditor
 * following a link to a screen their roles do not open; an editor whose session ends in the
 * middle of an edit; two editors saving the same route from two tabs; an editor breaking the
 * document and the sample in the ways people do, and the live test saying what it ran; a
 * 10,000-line document; a link to a version comparison the route cannot make.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess } from '../gateway-process';
import {
  checkScreen,
  launchBrowser,
  openPage,
  pasteEditorText,
  screenshot,
  setEditorText,
  type WatchedPage,
} from './browser';

jest.setTimeout(240_000);

const suffix = randomBytes(4).toString('hex');
const ROUTE_ID = `console-journeys-${suffix}`;
const PASSWORD = 'console-journeys-password';
/** Card numbers as a sample may hold them; none may reach the screen but in the sample itself. */
const CARDS = ['378282246310005', '5500 0000 0000 0004', '4111-1111-1111-1111'];

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

async function signIn(page: Page, base: string, username: string, path?: string): Promise<void> {
  if (path) await page.goto(`${base}/console${path}`);
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
      ['eddie', 'editor'],
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

  it('an editor whose session ends mid-edit gets the edit back after signing in again, and a sign-out forgets it', async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    const editor = page.locator('.cm-content');
    await signIn(page, gw.base, 'edna', `/routes/${ROUTE_ID}`);
    await page.getByTestId('outcome').waitFor();
    const original = await editor.innerText();
    expect(original).toContain('description: Journeys test');
    const edit = (original.trimEnd() + '\n').replace(
      'description: Journeys test',
      'description: Zahlungen für Bestellungen — überarbeitet ✓',
    );
    await setEditorText(page, edit);

    // An admin ends the session while the edit is unsaved: the console goes to sign-in.
    const sessions = (await gw.api('GET', '/sessions')).body as { id: string; username: string }[];
    for (const s of sessions.filter((x) => x.username === 'edna'))
      expect((await gw.api('DELETE', `/sessions/${s.id}`)).status).toBe(204);
    await page.getByRole('status').filter({ hasText: 'Session ended' }).waitFor();
    await signIn(page, gw.base, 'edna');
    await page.getByRole('heading', { name: `Route ${ROUTE_ID}` }).waitFor();
    const notice = page.getByTestId('draft-restored');
    await notice.waitFor();
    expect(await notice.innerText()).toContain('made on version 1');
    await eventually(async () => expect(await editor.innerText()).toContain('überarbeitet ✓'));
    a11y.push(...(await checkScreen(page, 'draft-restored')));

    // Saved: nothing to offer back any more, a reload shows the version as saved.
    await page.getByRole('button', { name: 'Save as version 2' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('editor-message').innerText()).toContain('Saved as version 2'),
    );
    expect(await notice.count()).toBe(0);
    await page.reload();
    await page.getByTestId('outcome').waitFor();
    expect(await editor.innerText()).toContain('überarbeitet ✓');
    expect(await notice.count()).toBe(0);

    // A reload or another screen keeps an unsaved edit too; a sign-out forgets it.
    await setEditorText(page, edit.replace('überarbeitet', 'noch einmal'));
    await page.getByRole('link', { name: 'Routes', exact: true }).click();
    await page.getByRole('link', { name: ROUTE_ID }).click();
    await notice.waitFor();
    expect(await notice.innerText()).toContain('made on version 2');
    expect(await editor.innerText()).toContain('noch einmal');
    await screenshot(page, 'draft-restored');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Junction' }).waitFor();
    await signIn(page, gw.base, 'edna');
    await page.getByRole('link', { name: ROUTE_ID }).click();
    await page.getByTestId('outcome').waitFor();
    expect(await editor.innerText()).toContain('überarbeitet ✓');
    expect(await notice.count()).toBe(0);
    // The calls the ended session made are HTTP 401s (Chrome logs them); they are the point here.
    for (let i = watched.problems.length - 1; i >= 0; i--)
      if (watched.problems[i].includes('status of 401')) watched.problems.splice(i, 1);
  });

  it("another user signing in on the tab where an editor's session ended finds none of their unsaved edits in it", async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    const editor = page.locator('.cm-content');
    await signIn(page, gw.base, 'eddie', `/routes/${ROUTE_ID}`);
    await page.getByTestId('outcome').waitFor();
    const original = await editor.innerText();
    await setEditorText(
      page,
      (original.trimEnd() + '\n').replace(
        /description: .*/,
        'description: eddies geheimer Entwurf',
      ),
    );
    // The drafts this tab's storage holds, whoever's (a string: no DOM types in the tests).
    const drafts = () =>
      page.evaluate<string[]>(
        `Object.keys(sessionStorage).filter((k) => k.startsWith('junction.draft:')).map((k) => sessionStorage.getItem(k))`,
      );
    await eventually(async () => expect((await drafts()).join()).toContain('geheimer Entwurf'));

    // eddie walks away; his session is ended; the viewer signs in on the same tab.
    const sessions = (await gw.api('GET', '/sessions')).body as { id: string; username: string }[];
    for (const s of sessions.filter((x) => x.username === 'eddie'))
      expect((await gw.api('DELETE', `/sessions/${s.id}`)).status).toBe(204);
    await page.getByRole('status').filter({ hasText: 'Session ended' }).waitFor();
    await signIn(page, gw.base, 'vic');
    await page.getByRole('link', { name: 'Routes', exact: true }).waitFor();
    await eventually(async () => expect(await drafts()).toEqual([]));
    for (let i = watched.problems.length - 1; i >= 0; i--)
      if (watched.problems[i].includes('status of 401')) watched.problems.splice(i, 1);
  });

  it('two editors on the same route: the later save is refused, says so, keeps the text and offers to save it over', async () => {
    const first = await openPage(browser, gw.base);
    const second = await openPage(browser, gw.base);
    pages.push(first, second);
    const route = async () =>
      (await gw.api('GET', `/routes/${ROUTE_ID}`)).body as { latestVersion: number };
    const latest = (await route()).latestVersion;
    for (const [watched, username] of [
      [first, 'edna'],
      [second, 'eddie'],
    ] as const) {
      await signIn(watched.page, gw.base, username, `/routes/${ROUTE_ID}`);
      await watched.page.getByTestId('outcome').waitFor();
    }
    const original = await first.page.locator('.cm-content').innerText();
    await setEditorText(first.page, original.replace(/description: .*/, 'description: by edna'));
    await first.page.getByRole('button', { name: `Save as version ${latest + 1}` }).click();
    await eventually(async () =>
      expect(await first.page.getByTestId('editor-message').innerText()).toContain(
        `Saved as version ${latest + 1}`,
      ),
    );

    // The second tab still shows the route as it read it; its save is refused, not applied.
    const { page } = second;
    await setEditorText(page, original.replace(/description: .*/, 'description: by eddie'));
    await page.getByRole('button', { name: `Save as version ${latest + 1}` }).click();
    const conflict = page.getByTestId('conflict');
    await conflict.waitFor();
    await eventually(async () =>
      expect(await conflict.innerText()).toContain(`it is now at version ${latest + 1}`),
    );
    expect((await route()).latestVersion).toBe(latest + 1);
    // Where the route is now, without a reload; the text typed is still there.
    await eventually(async () =>
      expect(await page.getByTestId('versions-summary').innerText()).toContain(
        `latest v${latest + 1}`,
      ),
    );
    expect(await page.locator('.cm-content').innerText()).toContain('description: by eddie');
    const compare = page.getByRole('link', {
      name: `Compare version ${latest} with version ${latest + 1}`,
    });
    const href = new URL((await compare.getAttribute('href'))!, gw.base);
    expect(href.pathname).toBe(`/console/routes/${ROUTE_ID}/versions`);
    expect(href.searchParams.get('left')).toBe(String(latest));
    expect(href.searchParams.get('right')).toBe(String(latest + 1));
    a11y.push(...(await checkScreen(page, 'save-conflict')));

    // Chosen knowingly: saved over it as the next version (edna's stays in the history).
    await page.getByRole('button', { name: `Save my text as version ${latest + 2}` }).click();
    await eventually(async () =>
      expect(await page.getByTestId('editor-message').innerText()).toContain(
        `Saved as version ${latest + 2}`,
      ),
    );
    expect(await conflict.count()).toBe(0);
    const saved = await gw.api('GET', `/routes/${ROUTE_ID}/versions/${latest + 2}`);
    expect((saved.body as { source: string; author: string }).source).toContain('by eddie');
    expect((saved.body as { author: string }).author).toBe('eddie');
    // The refusal is an HTTP 412 (Chrome logs it); it is the point of this test.
    const refused = second.problems.findIndex((p) => p.includes('status of 412'));
    expect(refused).toBeGreaterThanOrEqual(0);
    second.problems.splice(refused, 1);
  });

  it('the live test runs only what is on screen: a broken document or sample is said so, never an older result', async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    await signIn(page, gw.base, 'edna', `/routes/${ROUTE_ID}`);
    const outcome = page.getByTestId('outcome');
    const notRun = page.getByTestId('not-run');
    const problems = page.getByTestId('problems');
    await outcome.waitFor();
    const good = (await page.locator('.cm-content').innerText()).trimEnd() + '\n';
    const sample = page.getByLabel('Sample message (JSON)');

    // Each a way to break it: bad indentation, a stage that does not exist, a JSONata error.
    const broken = [
      good.replace('  path:', '   path:'),
      good.replace('- transform:', '- transmogrify:'),
      good.replace('"orderId": id,', '"orderId": id,,'),
    ];
    for (const text of broken) {
      await setEditorText(page, text);
      await notRun.waitFor();
      expect(await notRun.innerText()).toBe(
        'Not run: the document has problems (listed under it).',
      );
      expect(await page.getByTestId('dry-run').count()).toBe(0);
      expect(await problems.innerText()).not.toMatch(/^(No problems\.|Checking…)$/);
      // Fixed again: it runs, and nothing typed was lost on the way.
      await setEditorText(page, good);
      await outcome.waitFor();
      expect(await notRun.count()).toBe(0);
    }

    // A sample cut short: said so, and the result of the last one is not shown as this one's.
    await sample.fill('{ "id": "o-2", "payment": ');
    await notRun.waitFor();
    expect(await notRun.innerText()).toBe('Not run: the sample is not valid JSON.');
    expect(await page.getByTestId('dry-run').count()).toBe(0);
    a11y.push(...(await checkScreen(page, 'live-test-not-run')));

    // Card numbers written three ways: the result shows none of them, and masks the mapped one.
    await sample.fill(
      JSON.stringify({
        id: 'o-3',
        notes: [`paid with ${CARDS[1]}`],
        payment: { card: { pan: CARDS[0] } },
        extra: { cc: CARDS[2] },
      }),
    );
    await outcome.waitFor();
    await eventually(async () =>
      expect(await page.getByTestId('masked-fields').innerText()).toContain('/card/pan'),
    );
    for (const details of await page.locator('[data-testid="dry-run"] details').all())
      await details.locator('summary').click();
    const shown = await page.getByTestId('dry-run').innerText();
    expect(shown).toContain('"orderId": "o-3"');
    for (const card of CARDS) expect(shown).not.toContain(card);
    expect(shown).not.toContain(CARDS[0].slice(6, 11));
  });

  it('a 10,000-line document: each problem names its line, and one too long to save is said so before saving', async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    await signIn(page, gw.base, 'edna', '/routes/new');
    await page.getByTestId('outcome').waitFor();
    const problems = page.getByTestId('problems');
    const notes = Array.from({ length: 9_990 }, (_, i) => `# ${i}`);
    const long = (transform: string) =>
      [
        `id: long-${suffix}`,
        `description: "Routen für Aufträge — 長い ✓"`,
        'source: { type: http, path: long/route, auth: none }',
        ...notes,
        'pipeline:',
        `  - transform: '${transform}'`,
        'destinations: [{ type: log }]',
        '',
      ].join('\n');
    const line = notes.length + 5;

    // A JSONata error at the bottom: the list says where, not only which field.
    await pasteEditorText(page, long('{ "orderId": id,, }'));
    await eventually(async () =>
      expect(await problems.innerText()).toContain(`line ${line}: /pipeline/0/transform`),
    );
    await pasteEditorText(page, long('{ "orderId": id }'));
    await eventually(async () => expect(await problems.innerText()).toBe('No problems.'));
    await page.getByTestId('outcome').waitFor();

    // Past the length a save takes: said so now, not after 'No problems.' at the save.
    const tooLong = long('{ "orderId": id }').replace(/^# (\d+)$/gm, '# note $1 of a long comment');
    expect(tooLong.length).toBeGreaterThan(128 * 1024);
    await pasteEditorText(page, tooLong);
    await eventually(async () =>
      expect(await problems.innerText()).toContain('the source is longer than 131072 characters'),
    );
    await page.getByTestId('not-run').waitFor();
    a11y.push(...(await checkScreen(page, 'long-document')));
    // The refused validation is an HTTP 400 (Chrome logs it); it is the point of this test.
    for (let i = watched.problems.length - 1; i >= 0; i--)
      if (watched.problems[i].includes('status of 400')) watched.problems.splice(i, 1);
  });

  it('a link comparing a version the route does not have says so, instead of loading forever', async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    await signIn(page, gw.base, 'vic', `/routes/${ROUTE_ID}/versions?left=99&right=1`);
    await page.getByTestId('version-row-1').waitFor();
    const error = page.getByTestId('diff-error');
    await error.waitFor();
    expect(await error.innerText()).toContain('no version 99');
    expect(await page.getByText('Loading…').count()).toBe(0);
    // Another pair from the list works from there, without a reload.
    await page.getByRole('radio', { name: 'Compare version 2 on the left' }).check();
    await page.getByTestId('version-diff').waitFor();
    expect(await error.count()).toBe(0);
    // The refused read is an HTTP 404 (Chrome logs it); it is the point of this test.
    for (let i = watched.problems.length - 1; i >= 0; i--)
      if (watched.problems[i].includes('status of 404')) watched.problems.splice(i, 1);
  });

  it('had no console error, no foreign request and no serious accessibility violation', () => {
    for (const watched of pages) {
      expect(watched.problems).toEqual([]);
      expect(watched.foreign).toEqual([]);
    }
    expect(a11y).toEqual([]);
  });
});
