/**
 * Browser tests of the console: Debian's Chromium (never a downloaded browser) driven by
 * playwright-core, headless, against the gateway run as a process. Each page records what a
 * user would not see but must not happen: console errors, uncaught exceptions and requests to
 * any origin but the gateway's. Accessibility is checked with axe-core injected into the page.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts', 'console');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (the console's browser tests need it)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and foreign requests seen so far. */
  problems: string[];
  /** Origins other than the gateway's that the page asked for. */
  foreign: string[];
}

export async function openPage(
  browser: Browser,
  base: string,
  options: { colorScheme?: 'light' | 'dark'; allowOrigins?: string[] } = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    colorScheme: options.colorScheme ?? 'light',
    viewport: { width: 1400, height: 900 },
  });
  const page = await context.newPage();
  const problems: string[] = [];
  const foreign: string[] = [];
  const allowed = new Set([new URL(base).origin, ...(options.allowOrigins ?? [])]);
  page.on('console', (message) => {
    // Where it happened: a page of another origin (an identity provider's) is not ours to judge.
    if (message.type() === 'error')
      problems.push(`console error at ${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error at ${page.url()}: ${err.message}`));
  page.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('about:') || url.startsWith('blob:')) return;
    if (!allowed.has(new URL(url).origin)) foreign.push(url);
  });
  return { context, page, problems, foreign };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * The serious and critical WCAG 2 A/AA violations on the page as it is. axe is evaluated through
 * the debugging protocol, not added as a script tag: the console's CSP rightly refuses inline
 * scripts.
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Colours are checked as they settle, not halfway through a transition (a theme switch, a
  // hover): axe read a mid-fade colour once and reported a contrast the screen does not have.
  await page.evaluate(`Promise.all(
    document.getAnimations()
      .filter((a) => a.effect?.getComputedTiming().iterations !== Infinity)
      .map((a) => a.finished.catch(() => undefined)),
  )`);
  await page.evaluate(AXE);
  // A string, run in the page (this file is compiled without the DOM's types).
  const violations = (await page.evaluate(`axe
    .run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    .then((result) => result.violations)`)) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} at ${v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(' '))
          .join(', ')}`,
    );
}

/** Switches the console's theme with its own toggle, as a user would. */
export async function setTheme(page: Page, scheme: 'light' | 'dark'): Promise<void> {
  const current = await page.evaluate(
    "document.documentElement.getAttribute('data-mantine-color-scheme')",
  );
  if (current !== scheme) await page.getByTestId('theme-toggle').first().click();
  await page.waitForFunction(
    `document.documentElement.getAttribute('data-mantine-color-scheme') === '${scheme}'`,
  );
}

/** Accessibility in both themes, and a screenshot of each. */
export async function checkScreen(page: Page, name: string): Promise<string[]> {
  const found: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await setTheme(page, scheme);
    await screenshot(page, `${name}-${scheme}`);
    found.push(...(await seriousViolations(page)).map((v) => `${name} (${scheme}): ${v}`));
  }
  await setTheme(page, 'light');
  return found;
}

/** Replaces the text of the CodeMirror editor on the page, as a paste would. */
export async function setEditorText(page: Page, text: string): Promise<void> {
  const editor = page.locator('.cm-content').first();
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

/** Presses Tab until the focused element matches, as a keyboard user would; fails after `max`. */
export async function tabTo(page: Page, selector: string, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (
      await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)
    )
      return;
  }
  throw new Error(`${selector} was not reached with Tab`);
}

/**
 * Replaces the text of the CodeMirror editor on the page with a paste (a clipboard event), for a
 * long text: typed in, 10,000 lines would take the browser minutes.
 */
export async function pasteEditorText(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').first().click();
  await page.keyboard.press('ControlOrMeta+A');
  // A string, run in the page (this file is compiled without the DOM's types).
  await page.evaluate(`(() => {
    const data = new DataTransfer();
    data.setData('text/plain', ${JSON.stringify(text)});
    document.querySelector('.cm-content').dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
    );
  })()`);
}
