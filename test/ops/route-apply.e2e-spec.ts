import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, freePort, GatewayProcess } from '../gateway-process';

// Each run of the CLI is a Node process of its own (about a second on this machine).
jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built `junction` command as a process, with its own config folder and no inherited JUNCTION_*. */
function junction(env: Record<string, string>, args: string[], stdin = ''): Promise<Run> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('JUNCTION_')),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['apps/cli/bin/junction.js', ...args], {
      cwd: ROOT,
      env: { ...clean, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const ORDERS = `# Web-shop orders into the log: kept in git, applied by CI.
id: ops-orders
description: orders from the shop
source: { type: http, path: ops/orders, auth: none }
pipeline:
  - validate: { schema: { type: object, required: [id] } }
  - filter: 'total > 10'
destinations:
  - { type: log }
`;
const REFUNDS = `id: ops-refunds
source:
  type: http
  path: ops/refunds
  auth: none
pipeline:
  - transform: '{ "refund": id, "card": card }'
  - mask:
      - { path: card, with: pan }
destinations: [{ type: log }]
`;
const PAYMENTS_JSON = `{
  "id": "ops-payments",
  "source": { "type": "http", "path": "ops/payments", "auth": "none" },
  "pipeline": [{ "validate": { "schema": { "type": "object", "required": ["id"] } } }],
  "destinations": [{ "type": "log" }]
}
`;

describe('routes as code: junction login, route apply / diff / export, dead-letters', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let dir: string;
  let routes: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('ops_apply');
    gw = new GatewayProcess(await freePort(), db.url);
    await gw.start();
    dir = mkdtempSync(join(tmpdir(), 'junction-apply-'));
    routes = join(dir, 'routes');
    mkdirSync(join(routes, 'payments'), { recursive: true });
    writeFileSync(join(routes, 'orders.yaml'), ORDERS);
    writeFileSync(join(routes, 'refunds.yml'), REFUNDS);
    writeFileSync(join(routes, 'payments', 'payments.json'), PAYMENTS_JSON);
    writeFileSync(join(routes, 'README.md'), 'not a route: skipped');
    env = { XDG_CONFIG_HOME: join(dir, 'config'), HOME: dir };
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const version = async (id: string) =>
    (await gw.api('GET', `/routes/${id}`)).body as { latestVersion: number; activeVersion: number };

  it('login keeps the URL and a session token in a 0600 file under XDG_CONFIG_HOME', async () => {
    const r = await junction(
      env,
      ['login', gw.base, '--username', 'admin', '--password-stdin'],
      `${ADMIN_PASSWORD}\n`,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`logged in to ${gw.base} as admin (admin)`);
    const file = join(dir, 'config', 'junction', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'config', 'junction')).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { url: string; token: string };
    expect(stored.url).toBe(gw.base);
    expect(stored.token).toEqual(expect.any(String));
    expect(JSON.stringify(stored)).not.toContain(ADMIN_PASSWORD);
  });

  it('a wrong password is refused (exit 6) and keeps no file', async () => {
    const other = { XDG_CONFIG_HOME: join(dir, 'other'), HOME: dir };
    const r = await junction(
      other,
      ['login', gw.base, '-u', 'admin', '--password-stdin'],
      'nope-nope-nope',
    );
    expect(r.code).toBe(6);
    expect(() => statSync(join(dir, 'other', 'junction', 'config.json'))).toThrow();
  });

  it('applies a folder: every route created, its source kept verbatim', async () => {
    const r = await junction(env, ['route', 'apply', '-f', routes]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `ops-orders: created (version 1, active) (${join(routes, 'orders.yaml')})`,
    );
    expect(r.stdout).toContain('ops-refunds: created (version 1, active)');
    expect(r.stdout).toContain('ops-payments: created (version 1, active)');
    expect(r.stdout).toContain('+# Web-shop orders into the log: kept in git, applied by CI.');
    expect(r.stdout).toMatch(/applied: 3 created, 0 updated, 0 unchanged\n$/);
    const yaml = await fetch(`${gw.base}/api/v1/routes/ops-orders?format=yaml`, {
      headers: { authorization: `Bearer ${gw.token}` },
    });
    expect(await yaml.text()).toBe(ORDERS);
  });

  it('a second apply changes nothing, says unchanged and exits 0', async () => {
    const r = await junction(env, ['route', 'apply', '-f', routes]);
    expect(r.code).toBe(0);
    for (const id of ['ops-orders', 'ops-refunds', 'ops-payments'])
      expect(r.stdout).toContain(`${id}: unchanged (version 1, active)`);
    expect(r.stdout).not.toContain('@@');
    expect(r.stdout).toMatch(/applied: 0 created, 0 updated, 3 unchanged\n$/);
    for (const id of ['ops-orders', 'ops-refunds', 'ops-payments'])
      expect((await version(id)).latestVersion).toBe(1);
  });

  it('route diff shows nothing to do (and --exit-code exits 0)', async () => {
    const r = await junction(env, ['route', 'diff', '--exit-code', '-f', routes]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('diff: 0 created, 0 updated, 3 unchanged; nothing was changed');
  });

  it('an edit: dry run and diff show it and change nothing; apply stores the next version', async () => {
    const edited = ORDERS.replace("filter: 'total > 10'", "filter: 'total > 25'");
    writeFileSync(join(routes, 'orders.yaml'), edited);

    const dry = await junction(env, ['route', 'apply', '--dry-run', '-f', routes]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('ops-orders: would be updated, version 1 -> 2');
    expect(dry.stdout).toContain("-  - filter: 'total > 10'\n+  - filter: 'total > 25'\n");
    expect(dry.stdout).toContain('dry run: 0 created, 1 updated, 2 unchanged; nothing was changed');
    expect(await version('ops-orders')).toMatchObject({ latestVersion: 1, activeVersion: 1 });

    const diff = await junction(env, ['route', 'diff', '--exit-code', '-f', routes]);
    expect(diff.code).toBe(7);
    expect(diff.stdout).toContain(
      `--- ops-orders version 1 (server)\n+++ ${join(routes, 'orders.yaml')}\n@@ -4,6 +4,6 @@`,
    );
    expect(await version('ops-orders')).toMatchObject({ latestVersion: 1 });

    const r = await junction(env, ['route', 'apply', '-f', routes]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ops-orders: updated, version 1 -> 2 (not active');
    expect(r.stdout).toContain("+  - filter: 'total > 25'");
    expect(r.stdout).toContain('ops-refunds: unchanged');
    expect(r.stdout).toMatch(/applied: 0 created, 1 updated, 2 unchanged\n$/);
    expect(await version('ops-orders')).toMatchObject({ latestVersion: 2, activeVersion: 1 });
    const v2 = (await gw.api('GET', '/routes/ops-orders/versions/2')).body as { source: string };
    expect(v2.source).toBe(edited);

    const again = await junction(env, ['route', 'apply', '--activate', '-f', routes]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('ops-orders: unchanged, version 2 activated');
    expect(await version('ops-orders')).toMatchObject({ latestVersion: 2, activeVersion: 2 });
  });

  it('export prints the YAML source as stored', async () => {
    const r = await junction(env, ['route', 'export', 'ops-refunds']);
    expect(r).toMatchObject({ code: 0, stdout: REFUNDS });
  });

  it('an invalid file: exit 1, every problem by pointer and line, nothing applied', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'a-new.yaml'), ORDERS.replace(/ops-orders/g, 'ops-new'));
    writeFileSync(
      join(bad, 'b-broken.yaml'),
      REFUNDS.replace('ops-refunds', 'ops-broken').replace('with: pan', 'with: scramble'),
    );
    const r = await junction(env, ['route', 'apply', '-f', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(bad, 'b-broken.yaml')}: 1 problem`);
    expect(r.stderr).toMatch(
      /b-broken\.yaml:9:\d+: \/pipeline\/1\/mask\/0\/with: must be one of redact, remove, pan, last4, hash, email/,
    );
    expect(r.stdout).toBe('');
    expect((await gw.api('GET', '/routes/ops-new')).status).toBe(404);

    writeFileSync(join(bad, 'b-broken.yaml'), 'id: ops-broken\nsource: [unclosed\n');
    const syntax = await junction(env, ['route', 'apply', '-f', bad]);
    expect(syntax.code).toBe(1);
    expect(syntax.stderr).toMatch(/b-broken\.yaml:\d+:\d+: \/: /);
  });

  it('a document the server refuses for what only it knows (an unknown connection) is invalid too', async () => {
    const bad = join(dir, 'unknown-connection.yaml');
    writeFileSync(
      bad,
      'id: ops-amqp\nsource: { type: amqp, connection: nowhere, queue: q.in }\ndestinations: [{ type: log }]\n',
    );
    const r = await junction(env, ['route', 'apply', '-f', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown-connection\.yaml(:\d+:\d+)?: \/source\/connection: /);
    expect((await gw.api('GET', '/routes/ops-amqp')).status).toBe(404);
  });

  it("another route's ingest path is found before anything is applied; a set may move routes off places", async () => {
    const route = (id: string, path: string) =>
      PAYMENTS_JSON.replace('ops-payments', id).replace('ops/payments', path);
    expect(
      (await gw.api('POST', '/routes', JSON.parse(route('ops-owner', 'ops/owner')))).status,
    ).toBe(201);
    const taken = join(dir, 'taken');
    mkdirSync(taken);
    // a-new would be created first; b-copy takes ops-owner's path (not in the set): nothing applied.
    writeFileSync(join(taken, 'a-new.json'), route('ops-fresh', 'ops/fresh'));
    writeFileSync(join(taken, 'b-copy.json'), route('ops-copy', 'OPS/Owner'));
    const r = await junction(env, ['route', 'apply', '-f', taken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/b-copy\.json: .*\/source\/path: is route 'ops-owner's path/);
    expect((await gw.api('GET', '/routes/ops-fresh')).status).toBe(404);
    // ops-owner's file moves it to another path: a new version that is not active keeps the old
    // path held, so still nothing is applied; activated, ops-owner is applied first, then b-copy.
    writeFileSync(join(taken, 'c-owner.json'), route('ops-owner', 'ops/owner-v2'));
    expect((await junction(env, ['route', 'apply', '-f', taken])).code).toBe(1);
    const moved = await junction(env, ['route', 'apply', '-f', taken, '--activate']);
    expect(moved.code).toBe(0);
    expect(moved.stdout.indexOf('ops-owner: updated')).toBeLessThan(
      moved.stdout.indexOf('ops-copy: created'),
    );
    expect((await gw.api('GET', '/routes/ops-copy')).status).toBe(200);
    // Two files of one set on one path: found before anything is applied.
    const twice = join(dir, 'twice');
    mkdirSync(twice);
    writeFileSync(join(twice, 'x1.json'), route('ops-x1', 'ops/twice'));
    writeFileSync(join(twice, 'x2.json'), route('ops-x2', 'ops//Twice/'));
    const both = await junction(env, ['route', 'apply', '-f', twice]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('routes of more than one file take ingest path ops/twice');
    expect((await gw.api('GET', '/routes/ops-x1')).status).toBe(404);
    for (const id of ['ops-owner', 'ops-copy', 'ops-fresh'])
      expect((await gw.api('DELETE', `/routes/${id}`)).status).toBe(204);
  });

  it('exit codes for CI: 6 refused (bad token), 5 unreachable, 2 not logged in', async () => {
    const refused = await junction(
      { ...env, JUNCTION_URL: gw.base, JUNCTION_TOKEN: 'not-a-token' },
      ['route', 'apply', '-f', routes],
    );
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('401');

    const down = await junction(
      { ...env, JUNCTION_URL: `http://127.0.0.1:${await freePort()}`, JUNCTION_TOKEN: 'x' },
      ['route', 'diff', '-f', routes],
    );
    expect(down.code).toBe(5);
    expect(down.stderr).toContain('cannot reach');

    const nobody = await junction({ XDG_CONFIG_HOME: join(dir, 'none'), HOME: dir }, [
      'route',
      'apply',
      '-f',
      routes,
    ]);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('junction login');
  });

  it('JUNCTION_URL + JUNCTION_API_KEY work without a login file', async () => {
    const key = (await gw.api('POST', '/api-keys', { name: 'ci', roles: ['editor'] })).body as {
      key: string;
    };
    const r = await junction(
      {
        XDG_CONFIG_HOME: join(dir, 'ci'),
        HOME: dir,
        JUNCTION_URL: gw.base,
        JUNCTION_API_KEY: key.key,
      },
      ['route', 'diff', '-f', routes],
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('3 unchanged');
  });

  it("compose's routes job: examples/routes applied as code makes the quick start's demo work", async () => {
    const r = await junction(
      { XDG_CONFIG_HOME: join(dir, 'job'), HOME: dir, JUNCTION_PASSWORD: ADMIN_PASSWORD },
      ['login', gw.base, '-u', 'admin'],
    );
    expect(r.code).toBe(0);
    const apply = await junction({ XDG_CONFIG_HOME: join(dir, 'job'), HOME: dir }, [
      'route',
      'apply',
      '-f',
      'examples/routes',
    ]);
    expect(apply.stderr).toBe('');
    expect(apply.stdout).toContain('demo-orders: created (version 1, active)');
    const res = await fetch(`${gw.base}/ingest/demo/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: readFileSync(join(ROOT, 'examples/messages/order-de.json')),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"orderId"');
    expect(text).not.toMatch(/4[0-9]{12,18}/); // the card number came back masked
    const again = await junction({ XDG_CONFIG_HOME: join(dir, 'job'), HOME: dir }, [
      'route',
      'apply',
      '-f',
      'examples/routes',
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('demo-orders: unchanged');
  });

  it('dead-letters list and replay', async () => {
    const res = await fetch(`${gw.base}/ingest/ops/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ total: 3 }),
    });
    expect(res.status).toBe(422); // failed its schema: answered, and dead-lettered
    const list = await junction(env, ['dead-letters', 'list', '--route', 'ops-payments', '--json']);
    expect(list.code).toBe(0);
    const letters = JSON.parse(list.stdout) as { id: string; reasonCode: string }[];
    expect(letters).toHaveLength(1);
    expect(letters[0].reasonCode).toBe('SCHEMA_FAILED');
    const text = await junction(env, ['dead-letters', 'list']);
    expect(text.stdout).toContain(`${letters[0].id}  `);
    expect(text.stdout).toContain('ops-payments@1  SCHEMA_FAILED');
    const replay = await junction(env, ['dead-letters', 'replay', letters[0].id]);
    expect(replay.stdout).toContain(`${letters[0].id}: dead-lettered`);
    expect(replay.code).toBe(3);
    // --all walks every page (here one letter a page) and finds what one big page holds.
    const onePage = await junction(env, ['dead-letters', 'list', '--json', '--limit', '500']);
    const paged = await junction(env, ['dead-letters', 'list', '--json', '--all', '--limit', '1']);
    expect(paged.code).toBe(0);
    const ids = (out: string) => (JSON.parse(out) as { id: string }[]).map((d) => d.id);
    expect(ids(paged.stdout)).toEqual(ids(onePage.stdout));
    expect(ids(paged.stdout).length).toBeGreaterThanOrEqual(1);
  });

  it('audit export streams the records to a file', async () => {
    const file = join(dir, 'audit.ndjson');
    // The audit writer commits in groups: poll until the dead letter's record is in.
    const deadline = Date.now() + 15_000;
    let records: { routeId: string; outcome: string }[] = [];
    while (!records.some((r) => r.outcome === 'dead-lettered') && Date.now() < deadline) {
      const r = await junction(env, [
        'audit',
        'export',
        '--format',
        'ndjson',
        '--route',
        'ops-payments',
        '-o',
        file,
      ]);
      expect(r).toMatchObject({ code: 0, stderr: `audit export written to ${file}\n` });
      records = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { routeId: string; outcome: string });
    }
    expect(records.some((r) => r.outcome === 'dead-lettered')).toBe(true);
    expect(records.every((r) => r.routeId === 'ops-payments')).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const bad = await junction(env, ['audit', 'export', '--format', 'xml']);
    expect(bad).toMatchObject({ code: 2, stderr: 'junction: --format must be csv or ndjson\n' });
  });
});
