/**
 * The console for a compliance officer: an auditor (who sees the audit screens and nothing else)
 * searches by message id, reads the story of a message that went through two routes and a
 * replay, exports the search, runs a verification and downloads the signed report, which the
 * CLI checks; then a record changed by hand in Postgres makes the verification name it. Card
 * numbers sent through a route without a mask stage never show, in any page or search.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import { Client } from 'pg';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { eventually, freePort, GatewayProcess, traceHex } from '../gateway-process';
import { checkScreen, launchBrowser, openPage, screenshot, type WatchedPage } from './browser';

jest.setTimeout(240_000);

const ROOT = join(__dirname, '..', '..');
const suffix = randomBytes(4).toString('hex');
const PASSWORD = 'console-audit-password';
const FIRST = `audit-first-${suffix}`;
const SECOND = `audit-second-${suffix}`;
const MID_QUEUE = `console-audit-${suffix}.mid`;
const STORY_ID = `story-${suffix}`;
/** The W3C trace the story's message comes in: its records, on both routes, carry its id. */
const TRACE_ID = traceHex(16);
const TRACEPARENT = `00-${TRACE_ID}-${traceHex(8)}-01`;
/** Luhn-valid card numbers, as a client might send them, through a route with no mask stage. */
const CARDS = ['4111111111111111', '5555555555554444', '378282246310005'];
const CARD_FORMS = [...CARDS, '4111 1111 1111 1111', '5555-5555-5555-4444'];

function junction(...args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['apps/cli/bin/junction.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, JUNCTION_AUDIT_PUBLIC_KEY: '' },
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

/** Presses Tab until the focused element matches, as a keyboard user would; fails after `max`. */
async function tabTo(page: Page, selector: string, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (
      await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)
    )
      return;
  }
  throw new Error(`${selector} was not reached with Tab`);
}

describe('console: the auditor', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let browser: Browser;
  let watched: WatchedPage;
  let page: Page;
  let dir: string;
  let publicKeyFile: string;
  const a11y: string[] = [];
  /** Every page text the auditor saw, for the card-number check. */
  const seen: string[] = [];

  const look = async (): Promise<string> => {
    const text = await page.evaluate('document.body.innerText');
    seen.push(String(text));
    return String(text);
  };

  const ingest = (body: unknown, id: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.base}/ingest/audit/${suffix}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': id, ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    db = await createTestDatabase('console_audit');
    dir = mkdtempSync(join(tmpdir(), 'junction-console-audit-'));
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyFile = join(dir, 'signing.pem');
    writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    publicKeyFile = join(dir, 'signing.pub.pem');
    writeFileSync(publicKeyFile, publicKey.export({ format: 'pem', type: 'spki' }));
    gw = new GatewayProcess(await freePort(), db.url, {
      JUNCTION_AUDIT_SIGNING_KEY: keyFile,
      JUNCTION_AUDIT_ANCHOR_DIR: join(dir, 'anchors'),
      JUNCTION_AUDIT_ANCHOR_INTERVAL_MS: '200',
    });
    await gw.start();
    const created = async (path: string, body: unknown) =>
      expect((await gw.api('POST', path, body)).status).toBe(201);
    await created('/connections', {
      name: 'rabbit',
      type: 'amqp',
      config: { url: 'amqp://guest@127.0.0.1:5672' },
      secrets: { password: 'guest' },
    });
    // No mask stage anywhere: whatever card number comes in goes on as it is.
    await created('/routes', {
      id: FIRST,
      source: { type: 'http', path: `audit/${suffix}`, mode: 'sync', auth: 'none' },
      pipeline: [],
      destinations: [{ type: 'amqp', connection: 'rabbit', queue: MID_QUEUE }],
    });
    const second = {
      id: SECOND,
      source: { type: 'amqp', connection: 'rabbit', queue: MID_QUEUE, prefetch: 10 },
      pipeline: [{ validate: { schema: { type: 'object', required: ['approved'] } } }],
      destinations: [{ type: 'log' }],
    };
    await created('/routes', second);
    for (let i = 0; i < 4; i++) {
      const res = await ingest(
        { n: i, approved: true, card: CARDS[i % CARDS.length] },
        `noise-${suffix}-${i}`,
      );
      expect(res.status).toBe(200);
    }
    // The story: through the first route, dead-lettered by the second, which is then fixed, and
    // the dead letter replayed through the fix by the admin.
    const story = await ingest(
      { order: 7, pan: CARDS[0], note: `paid with ${CARD_FORMS[3]}`, [CARDS[1]]: 'as a key' },
      STORY_ID,
      { traceparent: TRACEPARENT },
    );
    expect(story.status).toBe(200);
    const letter = await eventually(async () => {
      const res = await gw.api('GET', `/dead-letters?routeId=${SECOND}`);
      const items = res.body as Array<{ id: string }>;
      if (items.length !== 1) throw new Error(`${items.length} dead letters`);
      return items[0];
    });
    const fixed = await gw.api('PUT', `/routes/${SECOND}?activate=true`, {
      ...second,
      pipeline: [],
    });
    expect(fixed.status).toBe(200);
    await eventually(async () => {
      const res = await gw.api('POST', `/dead-letters/${letter.id}/replay`, {});
      if (res.status !== 200)
        throw new Error(`replay answered ${res.status}: ${JSON.stringify(res.body)}`);
      expect(res.body).toMatchObject({ outcome: 'replayed' });
    });
    // And once more by a bulk replay job over the second route's dead letters.
    const job = await gw.api('POST', '/dead-letters/replay-jobs', { filter: { routeId: SECOND } });
    expect(job.status).toBe(202);
    const jobId = (job.body as { id: string }).id;
    await eventually(async () => {
      const state = (await gw.api('GET', `/dead-letters/replay-jobs/${jobId}`)).body as {
        state: string;
        done: number;
      };
      expect(state).toMatchObject({ state: 'done', done: 1 });
    });
    expect(
      (
        await gw.api('POST', '/users', {
          username: 'audrey',
          password: PASSWORD,
          roles: ['auditor'],
        })
      ).status,
    ).toBe(201);
    // Every record written before the auditor looks (the trail is written in batches).
    await eventually(async () => {
      const res = await gw.api('GET', `/audit/messages/${STORY_ID}`);
      const records = (res.body as { records?: unknown[] }).records ?? [];
      if (records.length !== 4) throw new Error(`${records.length} records`);
    });
    browser = await launchBrowser();
    watched = await openPage(browser, gw.base);
    page = watched.page;
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await db?.drop();
    const connection = await amqp.connect('amqp://guest:guest@127.0.0.1:5672').catch(() => null);
    if (connection) {
      const channel = await connection.createChannel();
      await channel.deleteQueue(MID_QUEUE).catch(() => undefined);
      await connection.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('signs in to the audit screens only, and searches by message id with the keyboard', async () => {
    await page.goto(`${gw.base}/console/sign-in`);
    await page.getByLabel('User name').fill('audrey');
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Audit', exact: true }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/audit');
    const nav = await page.getByRole('navigation', { name: 'Screens' }).innerText();
    expect(
      nav
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    ).toEqual(['Audit', 'Verify']);
    // Keyboard only: Tab to the message id, type it, Enter.
    await tabTo(page, 'input[name="messageId"]');
    await page.keyboard.type(STORY_ID);
    await page.keyboard.press('Enter');
    await page.getByTestId('audit-count').filter({ hasText: '4 records' }).waitFor();
    const url = new URL(page.url());
    expect(url.searchParams.get('messageId')).toBe(STORY_ID);
    const text = await look();
    expect(text).toContain(FIRST);
    expect(text).toContain(SECOND);
    a11y.push(...(await checkScreen(page, 'audit-search')));
    // The search is a bookmark: opened afresh, the same three records.
    await page.goto(url.toString());
    await page.getByTestId('audit-count').filter({ hasText: '4 records' }).waitFor();
    expect(await page.locator('input[name="messageId"]').inputValue()).toBe(STORY_ID);
  });

  it('saves the search, lists it and deletes it', async () => {
    await page.getByLabel('Save this search as').fill('The story');
    await page.getByRole('button', { name: 'Save search' }).click();
    await page.getByTestId('saved-search').filter({ hasText: 'The story' }).waitFor();
    await page.getByRole('button', { name: 'Delete saved search The story' }).click();
    await page.getByTestId('saved-search').waitFor({ state: 'detached' });
  });

  it('exports the search as CSV and NDJSON downloads (streams from the gateway)', async () => {
    for (const format of ['csv', 'ndjson'] as const) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId(`export-${format}`).click(),
      ]);
      expect(download.suggestedFilename()).toMatch(new RegExp(`^audit-messages-.*\\.${format}$`));
      const file = join(dir, `export.${format}`);
      await download.saveAs(file);
      const content = readFileSync(file, 'utf8');
      const lines = content.trim().split('\n');
      expect(lines).toHaveLength(format === 'csv' ? 5 : 4);
      for (const line of lines.slice(format === 'csv' ? 1 : 0)) expect(line).toContain(STORY_ID);
      for (const card of CARD_FORMS) expect(content).not.toContain(card);
    }
  });

  it('reads the story: two routes, the dead letter, the replay and who triggered it', async () => {
    await page.getByRole('link', { name: STORY_ID }).first().click();
    await page.getByRole('heading', { name: `Story of message ${STORY_ID}` }).waitFor();
    await page.getByTestId('story-replay').first().waitFor();
    expect(await page.getByTestId('story-record').count()).toBe(4);
    expect(await page.getByTestId('story-replay').count()).toBe(2);
    // The bodies as kept, opened.
    for (const summary of await page.locator('summary').all()) await summary.click();
    const text = await look();
    expect(text).toContain(`Route ${FIRST} v1`);
    expect(text).toContain(`Route ${SECOND} v1`);
    expect(text).toContain(`Route ${SECOND} v2`);
    expect(text).toMatch(/dead-lettered[\s\S]*SCHEMA_FAILED/i);
    expect(text).toContain('Replayed by admin');
    expect(text).toMatch(/Replayed by admin\s+[^\n]*success \(bulk job [0-9a-f-]{36}\)/);
    expect(text).toMatch(new RegExp(`AMQP exchange \\(default\\), routing key ${MID_QUEUE}`));
    expect(text).toMatch(
      /Record #\d+ of audit_messages · hash [0-9a-f]{16}… · previous [0-9a-f]{16}…/,
    );
    await page.evaluate('window.scrollTo(0, 0)');
    a11y.push(...(await checkScreen(page, 'audit-story')));
  });

  it('shows the trace a message came in, and finds every record of that trace', async () => {
    // On the story, from the test before.
    const traced = page.getByTestId('trace-id');
    await traced.nth(3).waitFor();
    expect(await traced.count()).toBe(4);
    for (const line of await traced.all()) expect(await line.innerText()).toContain(TRACE_ID);
    await page.getByRole('link', { name: 'every record of this trace' }).first().click();
    await page.getByTestId('audit-count').filter({ hasText: '4 records' }).waitFor();
    expect(new URL(page.url()).searchParams.get('traceId')).toBe(TRACE_ID);
    expect(await page.locator('input[name="traceId"]').inputValue()).toBe(TRACE_ID);
    for (const row of await page.getByTestId('message-record').all())
      expect(await row.innerText()).toContain(STORY_ID);
    a11y.push(...(await checkScreen(page, 'audit-trace')));
    // A whole traceparent header pasted in, in upper case, searches for its trace id.
    await page.goto(`${gw.base}/console/audit`);
    await page.locator('input[name="traceId"]').fill(`  ${TRACEPARENT.toUpperCase()} `);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL((url) => url.searchParams.get('traceId') === TRACE_ID);
    await page.getByTestId('audit-count').filter({ hasText: '4 records' }).waitFor();
    // So does a bookmark that has one.
    await page.goto(
      `${gw.base}/console/audit?${new URLSearchParams({ traceId: TRACEPARENT.toUpperCase() })}`,
    );
    await page.getByTestId('audit-count').filter({ hasText: '4 records' }).waitFor();
    // A trace no message came in finds nothing.
    await page.locator('input[name="traceId"]').fill('f'.repeat(32));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL((url) => url.searchParams.get('traceId') === 'f'.repeat(32));
    await page.getByTestId('audit-count').filter({ hasText: '0 records' }).waitFor();
    // What is no trace id is said so and asks the API nothing: no list, no export link.
    const asked: string[] = [];
    const onRequest = (request: { url(): string }) => {
      if (request.url().includes('not-a-trace')) asked.push(request.url());
    };
    page.on('request', onRequest);
    try {
      await page.locator('input[name="traceId"]').fill('not-a-trace');
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      await page.getByRole('alert').filter({ hasText: 'Not a trace id' }).waitFor();
      await page.getByTestId('audit-count').filter({ hasText: '0 records' }).waitFor();
      expect(await page.getByTestId('export-csv').count()).toBe(0);
      await page.getByLabel('Save this search as').fill('No search');
      expect(
        await page.getByRole('button', { name: 'Save search' }).getAttribute('disabled'),
      ).not.toBeNull();
      expect(asked).toEqual([]);
    } finally {
      page.off('request', onRequest);
    }
  });

  it('never finds or shows a card number: searching for one finds nothing', async () => {
    for (const card of CARD_FORMS) {
      for (const field of ['q', 'messageId', 'traceId']) {
        await page.goto(
          `${gw.base}/console/audit?${new URLSearchParams({ [field]: card }).toString()}`,
        );
        await page.getByTestId('audit-count').filter({ hasText: '0 records' }).waitFor();
        await look();
      }
      await page.goto(`${gw.base}/console/audit?kind=events&q=${encodeURIComponent(card)}`);
      await page.getByTestId('audit-count').filter({ hasText: '0 records' }).waitFor();
      await look();
    }
    // The unfiltered lists hold the messages that carried them, and show none of them.
    await page.goto(`${gw.base}/console/audit`);
    await page.getByTestId('audit-count').filter({ hasText: /^\d+/ }).waitFor();
    expect(await page.getByTestId('message-record').count()).toBeGreaterThanOrEqual(7);
    await look();
    await page.goto(`${gw.base}/console/audit?kind=events`);
    await page.getByTestId('event-record').first().waitFor();
    await look();
    for (const text of seen) for (const card of CARD_FORMS) expect(text).not.toContain(card);
  });

  it('runs a verification, downloads the signed report, and the CLI checks it', async () => {
    await page.getByRole('link', { name: 'Verify', exact: true }).click();
    await page.getByRole('heading', { name: 'Verify the audit trail' }).waitFor();
    await tabTo(page, 'button[type="submit"]');
    await page.keyboard.press('Enter');
    await page.getByTestId('verify-ok').waitFor();
    const text = await look();
    expect(text).toMatch(/Run by\s+audrey \(user, local\)/);
    expect(text).toMatch(/Ed25519, key [0-9a-f]{16}/);
    a11y.push(...(await checkScreen(page, 'verify-ok')));
    // The printed page: the report alone, no navigation or buttons.
    await page.emulateMedia({ media: 'print' });
    expect(await page.getByRole('navigation', { name: 'Screens' }).isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Run verification' }).isVisible()).toBe(false);
    expect(await page.getByTestId('verify-report').isVisible()).toBe(true);
    await screenshot(page, 'verify-print');
    await page.emulateMedia({ media: 'screen' });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download signed report' }).click(),
    ]);
    const file = join(dir, 'report-ok.json');
    await download.saveAs(file);
    const report = JSON.parse(readFileSync(file, 'utf8')) as {
      result: { ok: boolean; checked: number };
      ranBy: { name: string };
    };
    expect(report).toMatchObject({ result: { ok: true }, ranBy: { name: 'audrey' } });
    expect(report.result.checked).toBeGreaterThan(5);
    const cli = await junction('audit', 'verify', '--report', file, '--public-key', publicKeyFile);
    expect(cli.stdout).toMatch(/^signature valid: report .* \(the key given\)/);
    expect(cli.code).toBe(0);
    // Edited after download: refused.
    writeFileSync(file, readFileSync(file, 'utf8').replace('"audrey"', '"mallory"'));
    const forged = await junction('audit', 'verify', '--report', file);
    expect(forged.stdout).toMatch(/NOT VALID: .*signature does not verify/);
    expect(forged.code).toBe(1);
    // Running it is on the record.
    const events = await gw.api('GET', '/audit/events?type=audit.verified&actor=audrey');
    expect((events.body as { items: unknown[] }).items.length).toBeGreaterThan(0);
  });

  it('names the record a hand-made UPDATE in Postgres changed', async () => {
    const su = new Client({ connectionString: db.url });
    await su.connect();
    const { rows } = await su.query(
      `SELECT seq::text AS seq FROM audit_messages WHERE message_id = $1 AND route_id = $2`,
      [STORY_ID, FIRST],
    );
    const seq = (rows as Array<{ seq: string }>)[0].seq;
    await su.query('BEGIN');
    // As a DBA would: the append-only trigger off for this transaction.
    await su.query('SET LOCAL session_replication_role = replica');
    await su.query(`UPDATE audit_messages SET attempts = attempts + 5 WHERE seq = $1`, [seq]);
    await su.query('COMMIT');
    await su.end();
    await page.getByRole('button', { name: 'Run verification' }).click();
    const broken = page.getByTestId('verify-broken');
    await broken.waitFor();
    expect(await broken.innerText()).toContain(
      `First broken record: #${seq} of audit_messages: its content does not match its hash`,
    );
    await look();
    a11y.push(...(await checkScreen(page, 'verify-broken')));
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download signed report' }).click(),
    ]);
    const file = join(dir, 'report-broken.json');
    await download.saveAs(file);
    const cli = await junction('audit', 'verify', '--report', file, '--public-key', publicKeyFile);
    expect(cli.stdout).toContain(`BROKEN: first broken record ${seq} of audit_messages`);
    expect(cli.code).toBe(1);
  });

  it('had no console error, no foreign request and no serious accessibility violation', () => {
    expect(watched.problems).toEqual([]);
    expect(watched.foreign).toEqual([]);
    expect(a11y).toEqual([]);
    for (const text of seen) for (const card of CARD_FORMS) expect(text).not.toContain(card);
  });
});
