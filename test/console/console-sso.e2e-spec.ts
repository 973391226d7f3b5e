/**
 * Enterprise sign-in lands on the console: LDAP against the real slapd (scripts/ldap.sh, started
 * by scripts/test.sh) and OpenID Connect against a real provider (apps/gateway/test/oidc-provider.mjs),
 * the browser following every redirect itself.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, freePort, GatewayProcess } from '../gateway-process';
import { checkScreen, launchBrowser, openPage, screenshot, type WatchedPage } from './browser';

jest.setTimeout(180_000);

const BASE = 'dc=junction,dc=test';
const CLIENT_SECRET = `console-secret-${randomBytes(8).toString('hex')}`;

async function startProvider(
  redirectUri: string,
): Promise<{ child: ChildProcess; issuer: string }> {
  const setup = {
    clients: [
      {
        client_id: 'junction-console',
        client_secret: CLIENT_SECRET,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    accounts: {
      grace: { name: 'Grace Hopper', email: 'grace@idp.test', groups: ['gateway-editors'] },
      // Claims a provider lets its users write themselves, holding card numbers.
      carded: {
        name: 'Card 4111 1111 1111 1111',
        email: '5555555555554444@idp.test',
        groups: ['gateway-editors'],
      },
      '4111111111111111': { name: 'Numbered', groups: ['gateway-editors'] },
    },
  };
  const child = spawn(
    process.execPath,
    [join(__dirname, '..', '..', 'apps', 'gateway', 'test', 'oidc-provider.mjs')],
    {
      env: { ...process.env, OIDC_TEST_SETUP: JSON.stringify(setup) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider did not start: ${stderr}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`provider exited (${code}): ${stderr}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { issuer: string }).issuer);
    });
  });
  return { child, issuer };
}

const CARD_NUMBERS = [
  /4111\D{0,3}1111\D{0,3}1111\D{0,3}1111/,
  /5555\D{0,3}5555\D{0,3}5555\D{0,3}4444/,
];
const leaks = (text: string) => CARD_NUMBERS.some((p) => p.test(text));

describe('console: LDAP and single sign-on land on the console', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let provider: { child: ChildProcess; issuer: string };
  let browser: Browser;
  const pages: WatchedPage[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('console_sso');
    const port = await freePort();
    const redirectUri = `http://127.0.0.1:${port}/api/v1/auth/oidc/callback`;
    provider = await startProvider(redirectUri);
    gw = new GatewayProcess(port, db.url, {
      JUNCTION_LDAP_URL: 'ldap://127.0.0.1:3389',
      JUNCTION_LDAP_BIND_DN: `cn=junction-svc,ou=services,${BASE}`,
      JUNCTION_LDAP_BIND_PASSWORD: 'svc-secret',
      JUNCTION_LDAP_USER_BASE: `ou=people,${BASE}`,
      JUNCTION_LDAP_GROUP_ROLES: `cn=gateway-admins,ou=groups,${BASE}=admin;cn=gateway-viewers,ou=groups,${BASE}=viewer`,
      JUNCTION_OIDC_ISSUER: provider.issuer,
      JUNCTION_OIDC_CLIENT_ID: 'junction-console',
      JUNCTION_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      JUNCTION_OIDC_REDIRECT_URI: redirectUri,
      JUNCTION_OIDC_SCOPES: 'openid profile email groups',
      JUNCTION_OIDC_CLAIM_ROLES: 'gateway-editors=editor',
    });
    await gw.start();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    provider?.child.kill();
    await db?.drop();
  });

  it('signs in with the LDAP directory and gets the roles of its groups', async () => {
    const watched = await openPage(browser, gw.base);
    pages.push(watched);
    const { page } = watched;
    await page.goto(`${gw.base}/console/routes`);
    await page.getByText('LDAP directory').click();
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel(/^Password/).fill('alice-pass');
    expect(await checkScreen(page, 'sign-in-ldap')).toEqual([]);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Routes' }).waitFor();
    expect(await page.getByTestId('signed-in-as').innerText()).toBe('alice (admin, viewer)');
    expect(new URL(page.url()).pathname).toBe('/console/routes');
    expect(watched.problems).toEqual([]);
    expect(watched.foreign).toEqual([]);
  });

  it('signs in with single sign-on through the provider and comes back to where it was going', async () => {
    const watched = await openPage(browser, gw.base, {
      allowOrigins: [new URL(provider.issuer).origin],
    });
    pages.push(watched);
    const { page } = watched;
    await page.goto(`${gw.base}/console/connections`);
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    // The provider's own login and consent pages (oidc-provider's development interactions).
    await page.waitForURL((url) => url.origin === new URL(provider.issuer).origin);
    await page.locator('input[name="login"]').fill('grace');
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]').click(); // consent
    await page.waitForURL(`${gw.base}/console/connections`);
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    expect(await page.getByTestId('signed-in-as').innerText()).toBe('grace (editor)');
    await screenshot(page, 'signed-in-with-sso');
    const onConsole = watched.problems.filter((p) => p.includes(` at ${gw.base}/`));
    expect(onConsole).toEqual([]);
  });
  /** Through the provider's login and consent pages, from the console's sign-in. */
  async function singleSignOn(page: Page, login: string): Promise<void> {
    await page.goto(`${gw.base}/console/routes`);
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await page.waitForURL((url) => url.origin === new URL(provider.issuer).origin);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]').click(); // consent
    await page.waitForURL((url) => url.origin === new URL(gw.base).origin);
  }

  it("keeps no card number from a provider's claims, and shows none", async () => {
    const allowOrigins = [new URL(provider.issuer).origin];
    const carded = await openPage(browser, gw.base, { allowOrigins });
    await singleSignOn(carded.page, 'carded');
    await carded.page.getByRole('heading', { name: 'Routes' }).waitFor();
    expect(await carded.page.getByTestId('signed-in-as').innerText()).toBe('carded (editor)');
    await carded.context.close();

    // A user name that is a card number signs nobody in, and is kept nowhere.
    const numbered = await openPage(browser, gw.base, { allowOrigins });
    await singleSignOn(numbered.page, '4111111111111111');
    expect(leaks(await numbered.page.innerText('body'))).toBe(false);
    await numbered.context.close();

    const users = await gw.api('GET', '/users');
    expect(leaks(JSON.stringify(users.body))).toBe(false);
    expect((users.body as Array<{ username: string }>).map((u) => u.username)).toContain('carded');

    const admin = await openPage(browser, gw.base);
    pages.push(admin);
    await admin.page.goto(`${gw.base}/console/users`);
    await admin.page.getByLabel('User name').fill('admin');
    await admin.page.getByLabel(/^Password/).fill(ADMIN_PASSWORD);
    await admin.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await admin.page.getByRole('cell', { name: 'carded', exact: true }).waitFor();
    expect(leaks(await admin.page.innerText('body'))).toBe(false);
    await admin.page.goto(`${gw.base}/console/sessions`);
    await admin.page.getByRole('cell', { name: 'carded', exact: true }).first().waitFor();
    expect(leaks(await admin.page.innerText('body'))).toBe(false);
    const events = await gw.api('GET', '/audit/events?limit=100');
    expect(leaks(JSON.stringify(events.body))).toBe(false);
  });
});
