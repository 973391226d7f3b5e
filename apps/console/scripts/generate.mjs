// The console's view of the API, generated from the gateway's own OpenAPI document (built without
// a database), so that a drift between the two fails the console's type-check.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const out = join(here, '..', 'generated');
mkdirSync(out, { recursive: true });
const openapi = join(out, 'openapi.json');
execFileSync(
  process.execPath,
  [join(root, 'dist/apps/gateway/src/openapi/write-openapi.js'), openapi],
  { stdio: 'inherit' },
);
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules/openapi-typescript/bin/cli.js'),
    openapi,
    '-o',
    join(out, 'api.d.ts'),
    '--silent',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
// The route document's JSON Schema alone, for the editor (completion, lint, hover).
const document = JSON.parse(readFileSync(openapi, 'utf8'));
writeFileSync(
  join(out, 'route-schema.json'),
  JSON.stringify(document.components.schemas.RouteDocument),
);
