import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeReport } from '../libs/audit/src/verify-report';

const ROOT = join(__dirname, '..');

function junction(...args: string[]) {
  const run = spawnSync(process.execPath, ['apps/cli/bin/junction.js', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('junction CLI (built)', () => {
  it('validates the example route', () => {
    const r = junction('route', 'validate', 'examples/orders-eu.route.yaml');
    expect(r).toMatchObject({
      code: 0,
      stdout: "examples/orders-eu.route.yaml: valid route 'orders-eu'\n",
    });
  });

  it('reports every problem of a broken route by pointer and exits 1', () => {
    const r = junction('route', 'validate', 'examples/broken.route.yaml');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('examples/broken.route.yaml: 6 problems');
    expect(r.stderr).toContain(
      '/pipeline/1/mask/0/with: must be one of redact, remove, pan, last4, hash, email',
    );
    expect(r.stderr).toContain('/pipeline/0/filter: JSONata syntax error at position 7');
  });

  it('validate --json prints the problems as data', () => {
    const r = junction('route', 'validate', '--json', 'examples/broken.route.yaml');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      valid: false,
      problems: expect.arrayContaining([{ pointer: '/source/queue', message: 'is required' }]),
    });
  });

  it('test shows each stage and the deliveries, with card numbers redacted', () => {
    const r = junction(
      'route',
      'test',
      'examples/orders-eu.route.yaml',
      'examples/messages/order-de.json',
    );
    expect(r.code).toBe(0);
    for (const line of [
      'stage 0 validate',
      'stage 1 filter',
      'stage 2 transform',
      'stage 3 mask',
      '2 deliveries:',
    ])
      expect(r.stdout).toContain(line);
    expect(r.stdout).toContain(
      "-> destinations/0: kafka kafka topic orders.fulfilment key 'ORD-2026-000123'",
    );
    expect(r.stdout).toContain(
      "-> destinations/1: amqp rabbit exchange 'warehouses' routing key 'eu.de.express'",
    );
    expect(r.stdout).toContain('411111******1111');
    expect(r.stdout).not.toContain('4111111111111111');
  });

  it.each([
    [
      'a filtered message exits 4',
      'examples/messages/order-us.json',
      4,
      /message DROPPED by stage 1/,
    ],
    [
      'a failing message exits 3',
      'examples/messages/order-invalid.json',
      3,
      /message FAILED at \/pipeline\/0 \(validate\): SCHEMA_FAILED/,
    ],
  ])('%s', (_name, message, code, output) => {
    const r = junction('route', 'test', 'examples/orders-eu.route.yaml', message);
    expect(r.code).toBe(code);
    expect(r.stdout).toMatch(output);
  });

  it('audit verify --report trusts only the key given: a report made up and self-signed exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-cli-report-'));
    try {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const made = makeReport(
        {
          ok: true,
          checked: 123456,
          tables: [],
          anchors: { configured: true, ok: true, checked: 42, droppedByRetention: 0, anchors: [] },
        },
        { ranBy: { name: 'audrey', kind: 'user', provider: 'local' }, range: {}, now: new Date() },
        privateKey,
      );
      const file = join(dir, 'report.json');
      writeFileSync(file, JSON.stringify(made));
      const alone = junction('audit', 'verify', '--report', file);
      expect(alone.stdout).toMatch(/^NOT TRUSTED: signed by the key it carries/m);
      expect(alone.code).toBe(1);
      expect(junction('audit', 'verify', '--report', file, '--json').code).toBe(1);
      const keyFile = join(dir, 'key.pub');
      writeFileSync(keyFile, publicKey.export({ format: 'pem', type: 'spki' }));
      const given = junction('audit', 'verify', '--report', file, '--public-key', keyFile);
      expect(given.stdout).toMatch(/\(the key given\)/);
      expect(given.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing file or bad usage exits 2', () => {
    expect(junction('route', 'validate', 'nope.yaml')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('cannot read nope.yaml: ENOENT'),
    });
    expect(junction('route', 'frobnicate').code).toBe(2);
  });

  it('headers reach $headers, and --json gives the whole result', () => {
    const r = junction(
      'route',
      'test',
      '--json',
      '-H',
      'x-channel=app',
      'examples/orders-eu.route.yaml',
      'examples/messages/order-de.json',
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as {
      outcome: string;
      deliveries: Array<{ body: { channel: string } }>;
    };
    expect(result.outcome).toBe('deliver');
    expect(result.deliveries[0].body.channel).toBe('app');
  });
});
