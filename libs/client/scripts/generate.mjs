// The client's view of the API: the gateway's OpenAPI document (written from the compiled gateway,
// without a database) and the TypeScript types generated from it, both kept in git beside the
// client. `--check` regenerates into a temporary folder and fails when anything differs, so a
// gateway change that the client does not know about fails `npm run build`.
//
//   node libs/client/scripts/generate.mjs          write libs/client/openapi.json and the types
//   node libs/client/scripts/generate.mjs --check  fail (exit 1) if they are not up to date
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const root = join(pkg, '..', '..');
const check = process.argv.includes('--check');
const writer = join(root, 'dist/apps/gateway/src/openapi/write-openapi.js');
if (!existsSync(writer)) {
  process.stderr.write('client: the gateway is not compiled yet; run `npm run build` first\n');
  process.exit(2);
}

const targets = {
  document: join(pkg, 'openapi.json'),
  types: join(pkg, 'src/generated/api.d.ts'),
};

function generate(dir) {
  const document = join(dir, 'openapi.json');
  const types = join(dir, 'api.d.ts');
  execFileSync(process.execPath, [writer, document], { stdio: 'inherit' });
  execFileSync(
    process.execPath,
    // A default is what the server assumes when a field is left out: optional in a request.
    [
      join(root, 'node_modules/openapi-typescript/bin/cli.js'),
      document,
      '-o',
      types,
      '--silent',
      '--default-non-nullable',
      'false',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  // A header, so that nobody edits the file by hand.
  const text = readFileSync(types, 'utf8');
  writeFileSync(
    types,
    `// Generated from libs/client/openapi.json by \`npm run client:generate\`: do not edit.\n${text}`,
  );
  return { document, types };
}

const read = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);

const dir = mkdtempSync(join(tmpdir(), 'junction-client-'));
try {
  let fresh;
  try {
    fresh = generate(dir);
  } catch {
    // The step that failed printed why on stderr.
    process.stderr.write('client: could not generate the OpenAPI document or its types\n');
    process.exit(1);
  }
  const stale = Object.keys(targets).filter((k) => read(fresh[k]) !== read(targets[k]));
  if (check) {
    if (stale.length > 0) {
      process.stderr.write(
        `client: the gateway's API differs from the client's copy (${stale
          .map((k) => relative(root, targets[k]))
          .join(', ')}).\n` +
          'Run `npm run client:generate` and commit the result (then fix what no longer type-checks).\n',
      );
      process.exit(1);
    }
  } else {
    for (const k of Object.keys(targets)) writeFileSync(targets[k], read(fresh[k]));
    process.stdout.write(
      stale.length > 0
        ? `client: updated ${stale.map((k) => relative(root, targets[k])).join(', ')}\n`
        : 'client: already up to date\n',
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
