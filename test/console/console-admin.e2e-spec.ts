/**
 * The console, end to end, as an admin: sign in, create a RabbitMQ connection and a route in the
 * editor, watch the live test mask the card (and warn when it does not), save, activate, send a
 * message through the route and see it delivered, masked. Every screen: no console errors, no
 * request to another origin, no serious accessibility violation in either theme.
 */
import * as amqp from 'amqplib';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, eventually, freePort, GatewayProcess } from '../gateway-process';
import {
  checkScreen,
  launchBrowser,
  openPage,
  screenshot,
  setEditorText,
  type WatchedPage,
} from './browser';

jest.setTimeout(240_000);

const suffix = randomBytes(4).toString('hex');
const ROUTE_ID = `console-orders-${suffix}`;
const OUT_QUEUE = `console.out.${suffix}`;

function routeYaml(mask: boolean): string {
  return [
    `# written in the console's editor`,
    `id: ${ROUTE_ID}`,
    `description: Orders from the console test`,
    `source:`,
    `  type: http`,
    `  path: console/${suffix}`,
    `  mode: async`,
    `  auth: none`,
    `pipeline:`,
    `  - transform: '{ "orderId": id, "total": total, "card": { "pan": payment.card.pan } }'`,
    ...(mask ? [`  - mask:`, `      - { path: card.pan, with: pan }`] : []),
    `destinations:`,
    `  - type: amqp`,
    `    connection: rabbit`,
    `    queue: ${OUT_QUEUE}`,
    ``,
  ].join('\n');
}

const ORDER = { id: 'o-77', total: 99.5, payment: { card: { pan: '4111111111111111' } } };

describe('console: an admin builds, tests, saves, activates and runs a route', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let browser: Browser;
  let watched: WatchedPage;
  let page: Page;
  const a11y: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('console_admin');
    gw = new GatewayProcess(await freePort(), db.url, {
      // `$&` and `$'` are text in the banner, not String.replace patterns.
      JUNCTION_ENV_NAME: "console e2e $& $'",
      JUNCTION_ENV_COLOR: '#862e9c',
    });
    await gw.start();
    browser = await launchBrowser();
    watched = await openPage(browser, gw.base);
    page = watched.page;
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await db?.drop();
  });

  it('sends an unknown visitor to the sign-in screen and serves the console with its CSP', async () => {
    const res = await fetch(`${gw.base}/`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/console/');
    const deep = await fetch(`${gw.base}/console/routes/x/versions?left=1`);
    expect(deep.status).toBe(200);
    const csp = deep.headers.get('content-security-policy') ?? '';
    for (const directive of [
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
      "object-src 'none'",
      "base-uri 'none'",
    ])
      expect(csp).toContain(directive);
    expect(deep.headers.get('x-content-type-options')).toBe('nosniff');
    expect(deep.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await deep.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const asset = html.match(/\/console\/assets\/[^"]+\.js/)![0];
    const js = await fetch(`${gw.base}${asset}`);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${gw.base}/console/assets/missing-123.js`)).status).toBe(404);

    await page.goto(`${gw.base}/console/connections`);
    await page.getByRole('heading', { name: 'Sign in to Junction' }).waitFor();
    await page.getByRole('note', { name: "Environment: console e2e $& $'" }).waitFor();
    a11y.push(...(await checkScreen(page, 'sign-in')));
  });

  it('signs in and lands where it was going', async () => {
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel(/^Password/).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/connections');
    const cookies = await watched.context.cookies();
    expect(cookies.find((c) => c.name === 'junction_session')?.httpOnly).toBe(true);
    a11y.push(...(await checkScreen(page, 'connections')));
  });

  it('creates a RabbitMQ connection with a write-only password', async () => {
    await page.getByRole('link', { name: 'New connection' }).click();
    await page.getByLabel('Name').fill('rabbit');
    await page.getByLabel(/Broker URL/).fill('amqp://guest@127.0.0.1:5672');
    await page.getByLabel('Secret: password').fill('guest');
    await page.getByRole('button', { name: 'Create connection' }).click();
    const row = page.getByTestId('connection-row-rabbit');
    await row.waitFor();
    expect(await row.innerText()).toContain('password');
    expect(await row.innerText()).not.toContain('guest@127.0.0.1:5672guest');
    const stored = await gw.api('GET', '/connections/rabbit');
    expect(JSON.stringify(stored.body)).not.toContain('"guest"');
    await page.getByRole('button', { name: 'Test rabbit' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('connectivity-rabbit').innerText()).toMatch(/^reachable/),
    );
  });

  it('tests the route on every edit: the card is masked, and a warning shows when it is not', async () => {
    await page.getByRole('link', { name: 'Routes' }).click();
    await page.getByRole('heading', { name: 'Routes' }).waitFor();
    a11y.push(...(await checkScreen(page, 'routes-empty')));
    await page.getByRole('link', { name: 'New route' }).click();
    await page.locator('.cm-content').waitFor();

    await setEditorText(page, routeYaml(false));
    await page.getByTestId('pan-warning').waitFor();
    expect(await page.getByTestId('pan-warning').innerText()).toContain('/deliveries/0/body/card');

    await setEditorText(page, routeYaml(true));
    await page.getByTestId('masked-fields').waitFor();
    await eventually(async () => {
      expect(await page.getByTestId('masked-fields').innerText()).toContain('/card/pan');
      expect(await page.getByTestId('pan-warning').count()).toBe(0);
    });
    const delivery = await page.getByTestId('delivery').first().innerText();
    expect(delivery).toContain(OUT_QUEUE);
    expect(delivery).not.toContain('4111111111111111');
    await eventually(async () =>
      expect(await page.getByTestId('problems').innerText()).toBe('No problems.'),
    );
    a11y.push(...(await checkScreen(page, 'route-editor')));
  });

  it('shows schema problems inline, at the place the pointer names', async () => {
    await setEditorText(page, routeYaml(true).replace('mode: async', 'mode: sometimes'));
    await eventually(async () =>
      expect(await page.getByTestId('problems').innerText()).toContain('/source'),
    );
    await page.locator('.cm-lintRange-error').first().waitFor();
    const marked = await page.locator('.cm-lintRange-error').first().innerText();
    expect(marked).toMatch(/mode|sometimes|source/);
    await setEditorText(page, routeYaml(true));
    await eventually(async () =>
      expect(await page.getByTestId('problems').innerText()).toBe('No problems.'),
    );
  });

  it('creates it (version 1, active), saves a second version and activates it', async () => {
    await page.getByRole('button', { name: /Create route/ }).click();
    await page.getByRole('heading', { name: `Route ${ROUTE_ID}` }).waitFor();
    await eventually(async () =>
      expect(await page.getByTestId('route-state').first().textContent()).toBe('running'),
    );
    await setEditorText(page, routeYaml(true).replace('Orders from', 'Orders (v2) from'));
    await page.getByLabel('Comment (kept with the version)').fill('second try');
    await page.getByRole('button', { name: 'Save as version 2' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('editor-message').innerText()).toContain('Saved as version 2'),
    );
    await page.getByRole('button', { name: 'Activate version 2' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('versions-summary').innerText()).toContain('active v2'),
    );
    const route = await gw.api('GET', `/routes/${ROUTE_ID}`);
    expect(route.body).toMatchObject({ activeVersion: 2, latestVersion: 2 });
    const v2 = await gw.api('GET', `/routes/${ROUTE_ID}/versions/2`);
    expect((v2.body as { source: string }).source).toContain("# written in the console's editor");
    await screenshot(page, 'route-saved');
  });

  it('delivers a message sent through the route, masked, and counts it', async () => {
    const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    try {
      const channel = await connection.createChannel();
      await channel.assertQueue(OUT_QUEUE, { durable: true });
      await eventually(async () => {
        const res = await fetch(`${gw.base}/ingest/console/${suffix}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(ORDER),
        });
        expect(res.status).toBe(202);
      });
      const message = await eventually(async () => {
        const got = await channel.get(OUT_QUEUE, { noAck: true });
        if (!got) throw new Error('nothing delivered yet');
        return got;
      });
      const body = JSON.parse(message.content.toString()) as {
        orderId: string;
        card: { pan: string };
      };
      expect(body.orderId).toBe('o-77');
      expect(body.card.pan).not.toBe(ORDER.payment.card.pan);
      expect(body.card.pan).toMatch(/1111$/);
      await channel.deleteQueue(OUT_QUEUE);
    } finally {
      await connection.close();
    }
    await eventually(async () =>
      expect(await page.getByTestId('processed').innerText()).toMatch(/^[1-9]\d* processed/),
    );
    await page.getByRole('link', { name: 'Routes' }).click();
    await page.getByTestId(`route-row-${ROUTE_ID}`).waitFor();
    a11y.push(...(await checkScreen(page, 'routes')));
  });

  it("completes a queue name from the server: the ones other routes use with the destination's connection", async () => {
    await page.getByRole('link', { name: 'New route' }).click();
    await page.locator('.cm-content').waitFor();
    const draft = routeYaml(true)
      .replace(`id: ${ROUTE_ID}`, `id: ${ROUTE_ID}-draft`)
      .replace(`    queue: ${OUT_QUEUE}\n`, '    queue: ');
    await setEditorText(page, draft);
    // Typed, as a user would: completion opens on typing.
    await page.keyboard.type('console.o');
    const option = page.locator('.cm-tooltip-autocomplete li', { hasText: OUT_QUEUE });
    // Clicked: CodeMirror ignores Enter in the first moments after the list opens.
    await option.click();
    await eventually(async () =>
      expect(await page.locator('.cm-content').innerText()).toContain(`queue: ${OUT_QUEUE}`),
    );
    await page.getByRole('link', { name: 'Routes' }).click();
    await page.getByTestId(`route-row-${ROUTE_ID}`).waitFor();
  });

  it('lists the running routes a connection change would restart, before saving', async () => {
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.getByRole('link', { name: 'rabbit' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('connection-impact').innerText()).toContain(`${ROUTE_ID} (v2)`),
    );
    // Pointing it elsewhere asks for the password again (never shown, never kept for a new target).
    await page.getByLabel(/Broker URL/).fill('amqp://guest@localhost:5672');
    await page.getByRole('button', { name: 'Save rabbit' }).click();
    await page.getByText('enter password again').waitFor();
    a11y.push(...(await checkScreen(page, 'connection-edit')));
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  it("refuses to activate a version that leaks a guarding sample's card number; an admin overrides with a reason", async () => {
    await page.getByRole('link', { name: 'Routes' }).click();
    await page.getByRole('link', { name: ROUTE_ID }).click();
    await page.getByRole('heading', { name: `Route ${ROUTE_ID}` }).waitFor();
    await page.getByLabel('Sample name').fill('order-with-card');
    await page.getByRole('button', { name: 'Save the message as a guarding sample' }).click();
    await page.getByTestId('sample-order-with-card').waitFor();
    await setEditorText(page, routeYaml(false));
    await page.getByTestId('pan-warning').waitFor();
    await page.getByRole('button', { name: 'Save as version 3' }).click();
    await page.getByRole('button', { name: 'Activate version 3' }).click();
    const guard = page.getByTestId('sample-guard');
    await guard.waitFor();
    expect(await guard.innerText()).toContain('order-with-card');
    expect((await gw.api('GET', `/routes/${ROUTE_ID}`)).body).toMatchObject({ activeVersion: 2 });
    // The refusal is an HTTP 409 (Chrome logs it); nothing else went wrong.
    const refused = watched.problems.findIndex((p) => p.includes('status of 409'));
    expect(refused).toBeGreaterThanOrEqual(0);
    watched.problems.splice(refused, 1);
    a11y.push(...(await checkScreen(page, 'activation-refused')));
    await page.getByLabel('Reason to activate anyway (audited)').fill('test cards only');
    await page.getByRole('button', { name: 'Activate version 3 anyway' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('versions-summary').innerText()).toContain('active v3'),
    );
  });

  it('on the versions screen, a roll back the samples refuse offers the admin the same override', async () => {
    // Version 4 masks again and is active; version 3 (no mask) leaks the sample's card.
    await setEditorText(page, routeYaml(true).replace('Orders from', 'Orders (v4) from'));
    await page.getByRole('button', { name: 'Save as version 4' }).click();
    await page.getByRole('button', { name: 'Activate version 4' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('versions-summary').innerText()).toContain('active v4'),
    );
    await page.getByRole('link', { name: 'Versions' }).click();
    await page.getByRole('heading', { name: `Versions of ${ROUTE_ID}` }).waitFor();
    await page.getByRole('button', { name: 'Roll back to version 3' }).click();
    const guard = page.getByTestId('sample-guard');
    await guard.waitFor();
    expect(await guard.innerText()).toContain('order-with-card');
    expect((await gw.api('GET', `/routes/${ROUTE_ID}`)).body).toMatchObject({ activeVersion: 4 });
    const refused = watched.problems.findIndex((p) => p.includes('status of 409'));
    expect(refused).toBeGreaterThanOrEqual(0);
    watched.problems.splice(refused, 1);
    a11y.push(...(await checkScreen(page, 'rollback-refused')));
    await page.getByLabel('Reason to activate anyway (audited)').fill('replaying test cards');
    await page.getByRole('button', { name: 'Roll back to version 3 anyway' }).click();
    await eventually(async () =>
      expect(await page.getByTestId('versions-message').innerText()).toContain(
        'Version 3 is active',
      ),
    );
    expect(await guard.count()).toBe(0);
    expect((await gw.api('GET', `/routes/${ROUTE_ID}`)).body).toMatchObject({ activeVersion: 3 });
    const audit = await gw.api('GET', '/audit/events?limit=50');
    expect(JSON.stringify(audit.body)).toContain('replaying test cards');
  });

  it('manages users, API keys (shown once) and sessions', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByLabel('User name').fill('opal');
    await page.getByLabel(/^Password/).fill('opal-long-passphrase-42');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByTestId('user-row-opal').waitFor();
    await page.getByRole('switch', { name: 'opal may sign in' }).click({ force: true });
    await eventually(async () => {
      const users = (await gw.api('GET', '/users')).body as {
        username: string;
        disabled: boolean;
      }[];
      expect(users.find((u) => u.username === 'opal')?.disabled).toBe(true);
    });
    a11y.push(...(await checkScreen(page, 'users')));

    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('partner-feed');
    await page.getByRole('button', { name: 'Issue key' }).click();
    const key = await page.getByTestId('issued-key').innerText();
    expect(key).toMatch(/^jk_/);
    await page.getByRole('button', { name: 'Copy the key' }).waitFor();
    await screenshot(page, 'api-key-issued');
    await page.keyboard.press('Escape');
    await page.getByTestId('issued-key').waitFor({ state: 'detached' });
    // Shown once: the list never shows it again.
    await page.getByRole('button', { name: 'Revoke partner-feed', exact: true }).waitFor();
    expect(await page.content()).not.toContain(key);
    await page.getByRole('button', { name: 'Revoke partner-feed', exact: true }).click();
    await page.getByRole('cell', { name: 'revoked' }).waitFor();
    // For a key that leaked: what was made through it ends too (here nothing was).
    await page.getByRole('button', { name: 'Revoke partner-feed and all it made' }).click();
    await page
      .getByTestId('admin-message')
      .filter({ hasText: '0 key(s) revoked, 0 user(s) disabled' })
      .waitFor();
    a11y.push(...(await checkScreen(page, 'api-keys')));

    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('button', { name: 'End session of admin' }).first().waitFor();
    a11y.push(...(await checkScreen(page, 'sessions')));
  });

  it('had no console error, no foreign request and no serious accessibility violation', () => {
    expect(watched.problems).toEqual([]);
    expect(watched.foreign).toEqual([]);
    expect(a11y).toEqual([]);
  });
});
