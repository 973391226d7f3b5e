import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectRouteFiles,
  duplicateIds,
  FilesError,
  formatProblem,
  MAX_ROUTE_FILE_BYTES,
  readRouteFile,
  unifiedDiff,
} from './route-files';

const route = (id: string, extra = '') =>
  `id: ${id}\nsource: { type: http, path: ${id}, auth: none }\n${extra}destinations: [{ type: log }]\n`;

describe('route files for apply', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'junction-files-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes .yaml/.yml/.json under a folder, recursively and sorted, skipping hidden and other files', () => {
    mkdirSync(join(dir, 'b', 'c'), { recursive: true });
    mkdirSync(join(dir, '.git'));
    for (const f of [
      'z.yaml',
      'a.YML',
      'b/c/x.json',
      'b/m.yaml',
      'notes.md',
      '.hidden.yaml',
      '.git/h.yaml',
    ])
      writeFileSync(join(dir, f), route('r'));
    expect(collectRouteFiles([dir]).map((f) => f.slice(dir.length + 1))).toEqual([
      'a.YML',
      'b/c/x.json',
      'b/m.yaml',
      'z.yaml',
    ]);
    // A file named directly is taken whatever its extension, once.
    writeFileSync(join(dir, 'route.txt'), route('t'));
    expect(collectRouteFiles([join(dir, 'route.txt'), join(dir, 'route.txt')])).toEqual([
      join(dir, 'route.txt'),
    ]);
  });

  it('refuses a missing path or a folder without routes', () => {
    expect(() => collectRouteFiles([join(dir, 'nope')])).toThrow(FilesError);
    mkdirSync(join(dir, 'empty'));
    expect(() => collectRouteFiles([join(dir, 'empty')])).toThrow(/no route files/);
  });

  it('follows a symbolic link only to a file or folder inside the folder named', () => {
    mkdirSync(join(dir, 'routes', 'sub'), { recursive: true });
    mkdirSync(join(dir, 'elsewhere'));
    writeFileSync(join(dir, 'routes', 'a.yaml'), route('a'));
    writeFileSync(join(dir, 'elsewhere', 'secret.yaml'), 'token: s3cret\n');
    const routes = join(dir, 'routes');
    // Inside: followed; a link back up (a loop) is walked once.
    symlinkSync(join(routes, 'a.yaml'), join(routes, 'sub', 'same.yaml'));
    symlinkSync('..', join(routes, 'sub', 'up'));
    expect(collectRouteFiles([routes]).map((f) => f.slice(routes.length + 1))).toEqual([
      'a.yaml',
      'sub/same.yaml',
    ]);
    // Outside: a file elsewhere on the runner, a device, the folder's parent.
    for (const [name, target] of [
      ['leak.yaml', join(dir, 'elsewhere', 'secret.yaml')],
      ['zero.yaml', '/dev/zero'],
      ['loop', '..'],
    ]) {
      symlinkSync(target, join(routes, name));
      expect(() => collectRouteFiles([routes])).toThrow(
        new RegExp(`${name} is a symbolic link to .*, outside .*: not followed`),
      );
      rmSync(join(routes, name));
    }
  });

  it('refuses what is not a regular file or is too large, without reading it', async () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    // Opening a FIFO for reading waits for a writer: the command hung for good.
    expect(() => collectRouteFiles([dir])).toThrow(/fifo\.yaml is not a regular file/);
    expect(() => collectRouteFiles([fifo])).toThrow(/fifo\.yaml is not a regular file/);
    await expect(readRouteFile(fifo)).rejects.toThrow(/not a regular file/);
    // Named directly, a device is refused too (it never ends: the CLI grew to 15 GB).
    expect(() => collectRouteFiles(['/dev/zero'])).toThrow(/not a regular file/);
    await expect(readRouteFile('/dev/zero')).rejects.toThrow(FilesError);
    rmSync(fifo);
    writeFileSync(join(dir, 'big.yaml'), Buffer.alloc(MAX_ROUTE_FILE_BYTES + 1, 0x20));
    await expect(readRouteFile(join(dir, 'big.yaml'))).rejects.toThrow(
      `big.yaml is ${MAX_ROUTE_FILE_BYTES + 1} bytes; a route file is at most ${MAX_ROUTE_FILE_BYTES}`,
    );
  });

  it('checks each file offline: id, and problems with pointer, line and column', async () => {
    writeFileSync(join(dir, 'ok.yaml'), route('ok'));
    expect(await readRouteFile(join(dir, 'ok.yaml'))).toMatchObject({
      id: 'ok',
      format: 'yaml',
      problems: [],
    });
    writeFileSync(
      join(dir, 'bad.yaml'),
      route('bad', 'pipeline:\n  - mask: [{ path: card, with: scramble }]\n'),
    );
    const bad = await readRouteFile(join(dir, 'bad.yaml'));
    expect(bad.problems).toEqual([
      expect.objectContaining({ pointer: '/pipeline/0/mask/0/with', line: 4 }),
    ]);
    expect(formatProblem('bad.yaml', bad.problems[0])).toMatch(
      /^bad\.yaml:4:\d+: \/pipeline\/0\/mask\/0\/with: must be one of/,
    );
    writeFileSync(join(dir, 'syntax.yaml'), 'id: [x\n');
    const syntax = await readRouteFile(join(dir, 'syntax.yaml'));
    expect(syntax.id).toBeUndefined();
    expect(syntax.problems.length).toBeGreaterThan(0);
    expect(syntax.problems[0].line).toEqual(expect.any(Number));
    writeFileSync(join(dir, 'r.json'), JSON.stringify({ id: 'j' }));
    expect(await readRouteFile(join(dir, 'r.json'))).toMatchObject({ id: 'j', format: 'json' });
    expect((await readRouteFile(join(dir, 'r.json'))).problems.length).toBeGreaterThan(0);
  });

  it('finds two files that claim one route', () => {
    const files = ['a', 'b', 'c'].map((n) => ({
      file: n,
      text: '',
      format: 'yaml' as const,
      problems: [],
    }));
    expect(
      duplicateIds([
        { ...files[0], id: 'x' },
        { ...files[1], id: 'y' },
        { ...files[2], id: 'x' },
      ]),
    ).toEqual(new Map([['x', ['a', 'c']]]));
  });

  it('prints a unified diff without a banner, and the whole file for a new route', () => {
    const before = 'a\nb\nc\nd\ne\nf\ng\nh\n';
    const after = 'a\nb\nc\nd\nE\nf\ng\nh\n';
    expect(unifiedDiff('old', 'new', before, after)).toBe(
      '--- old\n+++ new\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n',
    );
    expect(unifiedDiff('/dev/null', 'n.yaml', '', 'x: 1\n')).toBe(
      '--- /dev/null\n+++ n.yaml\n@@ -0,0 +1,1 @@\n+x: 1\n',
    );
  });
});
