import { isUtf8 } from 'node:buffer';
import { decodeBody, invalidUtf8At, nestedDeeperThan } from './decode';
import { prng } from './pan/pan-corpus';
import { PipelineError } from './pipeline.error';

const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

function rejection(raw: Buffer): string {
  try {
    decodeBody(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('INPUT_REJECTED');
    return (err as PipelineError).message;
  }
  throw new Error('decoded');
}

describe('decodeBody and UTF-8', () => {
  it('decodes UTF-8 text of every length of character', () => {
    const body = { name: 'Jörg Müller', city: '東京', note: '💳 paid', sign: '€' };
    expect(decodeBody(Buffer.from(JSON.stringify(body)))).toEqual(body);
  });

  it.each([
    ['Latin-1 é', bytes('{"name":"Jos', [0xe9], '"}'), 12],
    ['an overlong NUL', bytes('{"a":"', [0xc0, 0x80], '"}'), 6],
    ['an overlong slash', bytes('{"a":"', [0xe0, 0x80, 0xaf], '"}'), 6],
    ['a lone surrogate', bytes('{"a":"x', [0xed, 0xa0, 0x80], '"}'), 7],
    ['past U+10FFFF', bytes('{"a":"', [0xf4, 0x90, 0x80, 0x80], '"}'), 6],
    ['a stray continuation byte', bytes('{"a":"', [0x80], '"}'), 6],
    ['a character cut short', bytes('{"a":"', [0xe2, 0x82], '"}'), 6],
  ])(
    'dead-letters JSON with %s, saying at which byte, where it would have changed',
    (_, raw, at) => {
      // As text, the JSON parses: the bytes became U+FFFD, which would have been sent on.
      expect(() => JSON.parse(raw.toString('utf8'))).not.toThrow();
      expect(rejection(raw)).toBe(
        `body is not valid UTF-8 (byte ${at} of ${raw.length}); JSON must be UTF-8, and a string with that byte would go on changed (was it sent in another encoding, such as Latin-1?)`,
      );
    },
  );

  it('says a binary body is not JSON (that comes first)', () => {
    expect(rejection(bytes([0x08, 0x96, 0x01, 0xff]))).toMatch(/^body is not valid JSON/);
  });

  it.each([
    ['at the start', 'x"4111 1111 1111 1111" and more text after it, enough to be cut'],
    [
      'inside a long body',
      '["zzzzzzzzzzzzzzzzzzzz4111 1111", x 1111 1111", "bbbbbbbbbbbbbbbbbbbbbbbbbb"]',
    ],
    [
      'between keys',
      '{"first":"aaaaaaaaaaaaa","card":x4111111111111111,"b":"bbbbbbbbbbbbbbbbbbbbb"}',
    ],
    [
      'as UTF-16',
      Buffer.from('\ufeff{"card":"4111 1111 1111 1111"}', 'utf16le').toString('latin1'),
    ],
    ['short and whole', 'x4111 1111'],
  ])('says why a body is not JSON without quoting any piece of it (%s)', (_, text) => {
    const raw = Buffer.from(text, 'latin1');
    expect(() => JSON.parse(raw.toString('utf8'))).toThrow(/Unexpected token/);
    const why = rejection(raw);
    expect(why).toBe('body is not valid JSON: unexpected token character');
  });

  it.each([
    ['{a:1}', "Expected property name or '}' in JSON at position 1"],
    ['{"a" 1}', "Expected ':' after property name in JSON at position 5"],
    ['[1 2]', "Expected ',' or ']' after array element in JSON at position 3"],
    ['{"a":1,}', 'Expected double-quoted property name in JSON at position 7'],
  ])(
    'keeps the reason and the position of a message that quotes none of the body (%s)',
    (text, reason) => {
      expect(rejection(Buffer.from(text))).toBe(`body is not valid JSON: ${reason}`);
    },
  );

  it('finds the first bad byte where isUtf8 finds one, in 20,000 seeded random byte strings', () => {
    const random = prng(1206);
    const pieces = [
      [0x41],
      [0xc3, 0xa9],
      [0xe2, 0x82, 0xac],
      [0xf0, 0x9f, 0x92, 0xb3],
      [0xed, 0x9f, 0xbf],
      [0xef, 0xbf, 0xbf],
      [0xf4, 0x8f, 0xbf, 0xbf],
    ];
    let invalid = 0;
    for (let n = 0; n < 20_000; n++) {
      const out: number[] = [];
      const length = Math.floor(random() * 12);
      for (let i = 0; i < length; i++)
        if (random() < 0.85) out.push(...pieces[Math.floor(random() * pieces.length)]);
        else out.push(Math.floor(random() * 256));
      const buffer = Buffer.from(out);
      const at = invalidUtf8At(buffer);
      const ok = isUtf8(buffer);
      if ((at === -1) !== ok || (at >= 0 && !isUtf8(buffer.subarray(0, at))))
        throw new Error(`${buffer.toString('hex')}: isUtf8 ${ok}, first bad byte ${at}`);
      if (!ok) invalid++;
    }
    expect(invalid).toBeGreaterThan(5_000);
    expect(invalid).toBeLessThan(15_000);
  });
});

describe('decodeBody and nesting', () => {
  it('refuses a large body nested too deep before parsing it, as the engine would', () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const deep = `${'['.repeat(520_000)}${']'.repeat(520_000)}`;
      expect(() => decodeBody(deep)).toThrow('body is nested deeper than 64 levels');
      expect(() => decodeBody(Buffer.from(`{"a":${deep}}`))).toThrow(/nested deeper than 64/);
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });

  it('counts brackets in strings as text, and lets a large body within the limit through', () => {
    const wide = { s: '[[[['.repeat(20_000), items: Array.from({ length: 3000 }, (_, i) => [[i]]) };
    expect(decodeBody(JSON.stringify(wide))).toEqual(wide);
    const escaped = { s: `\\"${'['.repeat(100)}` };
    expect(decodeBody(JSON.stringify(escaped).padEnd(20_000, ' '))).toEqual(escaped);
    const nested = `${'['.repeat(64)}${' '.repeat(20_000)}${']'.repeat(64)}`;
    expect(JSON.stringify(decodeBody(nested))).toBe(`${'['.repeat(64)}${']'.repeat(64)}`);
    expect(nestedDeeperThan(`${'{"a":'.repeat(65)}1${'}'.repeat(65)}`, 64)).toBe(true);
    expect(nestedDeeperThan(`${'{"a":'.repeat(64)}1${'}'.repeat(64)}`, 64)).toBe(false);
  });
});
