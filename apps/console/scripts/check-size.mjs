// The size budget: the JavaScript a first visit loads (the entry and what index.html preloads),
// gzipped, must stay within BUDGET; the editor and other lazy chunks load on demand. Prints every
// chunk's size and fails the build when over budget.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET = 300 * 1024;
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const initial = new Set(
  [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]),
);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
let total = 0;
const rows = readdirSync(join(dist, 'assets'))
  .filter((f) => f.endsWith('.js') || f.endsWith('.css'))
  .map((f) => {
    const body = readFileSync(join(dist, 'assets', f));
    const gz = gzipSync(body, { level: 9 }).length;
    const isInitial = initial.has(`assets/${f}`);
    if (isInitial) total += gz;
    return { f, raw: body.length, gz, isInitial };
  })
  .sort((a, b) => b.gz - a.gz);
for (const r of rows)
  console.log(
    `${r.f.endsWith('.css') ? 'css    ' : r.isInitial ? 'initial' : 'lazy   '}  ${kb(r.gz).padStart(9)} gz  ${kb(r.raw).padStart(9)}  ${r.f}`,
  );
console.log(`console: initial JavaScript ${kb(total)} gzipped (budget ${kb(BUDGET)})`);
if (initial.size === 0) {
  console.error('console: no entry script found in dist/index.html');
  process.exit(1);
}
if (total > BUDGET) {
  console.error(`console: initial JavaScript is over budget by ${kb(total - BUDGET)}`);
  process.exit(1);
}
