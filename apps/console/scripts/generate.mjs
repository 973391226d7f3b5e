// The route document's JSON Schema alone, for the editor (completion, lint, hover), taken from the
// OpenAPI document that @junction/client keeps in step with the gateway (`npm run build` fails when
// they differ; `npm run client:generate` updates it). The console's API types come from the client.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const out = join(here, '..', 'generated');
mkdirSync(out, { recursive: true });
const document = JSON.parse(readFileSync(join(root, 'libs/client/openapi.json'), 'utf8'));
writeFileSync(
  join(out, 'route-schema.json'),
  JSON.stringify(document.components.schemas.RouteDocument),
);
