import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectRouteFiles,
  duplicateIds,
  FilesError,
  formatProblem,
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
