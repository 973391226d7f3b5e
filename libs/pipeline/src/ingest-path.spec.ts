// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS } from '@junction/connectors';
import { validateRoute } from './compile';
import { ingestPathKey, normalizeIngestPath } from './ingest-path';
import { testResources } from './testing';

/** Every way of writing `partner/orders` that must land on the same route. */
function spellings(): string[] {
  const out = new Set<string>();
  const caseForms = ['partner/orders', 'Partner/Orders', 'PARTNER/ORDERS', 'pArTnEr/oRdErS'];
  for (const base of caseForms) {
    const [a, b] = base.split('/');
    for (const sep of ['/', '//', '///', '/./', '/x/../', '/%2F', '/%2f', '/%2E/'])
      for (const lead of ['', '/', '//', './'])
        for (const trail of ['', '/', '//', '/.']) out.add(`${lead}${a}${sep}${b}${trail}`);
  }
  out.add('%70artner/orders'); // percent-encoded letter
  out.add('ｐａｒｔｎｅｒ/ｏｒｄｅｒｓ'); // fullwidth compatibility forms
  out.add('partner／orders'.normalize('NFKC')); // fullwidth solidus, folded by NFKC
  return [...out];
}

describe('normalizeIngestPath', () => {
  it.each(spellings())('%s is partner/orders', (spelling) => {
    expect(ingestPathKey(spelling)).toBe('partner/orders');
  });

  it('keeps distinct paths distinct', () => {
    const paths = ['a', 'a/b', 'a-b', 'a_b', 'a.b', 'a~b', 'ab', 'b/a'];
    expect(new Set(paths.map((p) => ingestPathKey(p))).size).toBe(paths.length);
  });

  it.each([
    ['partnеr/orders', 'characters'], // Cyrillic е: a look-alike, not the same letter
    ['partner\u200b/orders', 'characters'], // zero-width space
    ['partner\\orders', 'characters'],
    ['partner/or ders', 'characters'],
    ['partner/%2570', 'characters'], // double encoding leaves a '%'
    ['partner/%E0%A4%A', 'encoding'],
    ['partner/%ZZ', 'encoding'],
    ['../partner', 'escapes'],
    ['a/../../partner', 'escapes'],
    ['', 'empty'],
    ['//./', 'empty'],
    ['a/..', 'empty'],
    ['x'.repeat(129), 'length'],
  ])('%j is refused (%s)', (raw, problem) => {
    expect(normalizeIngestPath(raw)).toMatchObject({ problem });
  });

  it('is checked when a route is validated: a path with no normalised form is a problem at /source/path', async () => {
    const doc = (path: string) => ({
      id: 'r',
      source: { type: 'http', path },
      destinations: [{ type: 'log' }],
    });
    const resources = testResources({ protocols: CONNECTORS });
    for (const ok of [
      'partner/orders',
      'Partner//Orders/',
      'ｐａｒｔｎｅｒ/orders',
      'partner%2Forders',
    ])
      expect(await validateRoute(doc(ok), resources)).toEqual([]);
    for (const bad of ['partnеr/orders', '../orders', '%', 'a b', '/'])
      expect(await validateRoute(doc(bad), resources)).toEqual([
        { pointer: '/source/path', message: expect.any(String) },
      ]);
  });

  it('is idempotent on every accepted form', () => {
    for (const s of spellings()) {
      const once = ingestPathKey(s)!;
      expect(ingestPathKey(once)).toBe(once);
    }
  });
});
