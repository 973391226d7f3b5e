import { cardNumber, cardSample, ORDINARY_KINDS, prng } from './pan-corpus';
import {
  containsPan,
  longRuns,
  luhnValid,
  mayHoldPan,
  PAN_DIGIT_RUN,
  panDetectorSteps,
  PAN_REDACTED,
  redactPans,
  redactPanText,
} from './pan-detector';

describe('PAN detector', () => {
  it.each([
    ['4111111111111111', true],
    ['5500000000000004', true],
    ['340000000000009', true],
    ['4111111111111112', false],
    ['79927398713', true],
  ])('luhnValid(%s) is %s', (digits, valid) => {
    expect(luhnValid(digits)).toBe(valid);
  });

  it.each([
    ['card 4111111111111111 on file', `card ${PAN_REDACTED} on file`],
    ['4111 1111 1111 1111', PAN_REDACTED],
    ['4111-1111-1111-1111', PAN_REDACTED],
    ['amex 340000000000009.', `amex ${PAN_REDACTED}.`],
    ['19 digits 4000000000000000006', `19 digits ${PAN_REDACTED}`],
    ['not luhn 4111111111111112', 'not luhn 4111111111111112'],
    ['too short 411111111111', 'too short 411111111111'],
    ['too long 41111111111111111111111', 'too long 41111111111111111111111'],
    ['order 12345 total 99.50', 'order 12345 total 99.50'],
    ['two: 4111111111111111,5500000000000004', `two: ${PAN_REDACTED},${PAN_REDACTED}`],
    // A card number in groups, glued to more digits by a separator.
    ['ref 12-4111-1111-1111-1111', `ref 12-${PAN_REDACTED}`],
    ['4111 1111 1111 1111 99', `${PAN_REDACTED} 99`],
    ['7 4111 1111 1111 1111 2026', `7 ${PAN_REDACTED} 2026`],
    ['amex 3400 000000 00009 x', `amex ${PAN_REDACTED} x`],
    ['1234-4111-1111-1111-1111-5500-0000-0000-0004', `1234-${PAN_REDACTED}-${PAN_REDACTED}`],
    // A chance Luhn-valid span overlapping the real card number cannot leave part of it.
    ['100000 4111 1111 1111 1111', PAN_REDACTED],
    // A card number without spaces next to a CVV or an expiry.
    ['pay 4111111111111111 123', `pay ${PAN_REDACTED} 123`],
    ['4111111111111111 12 29', `${PAN_REDACTED} 12 29`],
    // Groups that do not add up to a Luhn-valid 13-19 digits stay.
    ['phone +49 30 1234 5678 ext 12', 'phone +49 30 1234 5678 ext 12'],
    ['date 2026-11-26 10 30 45', 'date 2026-11-26 10 30 45'],
    ['ids 1234-5678-9012-3456-7890', 'ids 1234-5678-9012-3456-7890'],
  ])('redactPanText(%j)', (input, expected) => {
    expect(redactPanText(input)).toBe(expected);
  });

  it('finds card numbers anywhere in a value: strings, numbers, keys, arrays', () => {
    const value = {
      note: 'pay with 4111111111111111',
      raw: 4111111111111111,
      nested: [{ deep: ['x', '5500 0000 0000 0004'] }],
      '4111111111111111': 'as a key',
      fine: 'nothing here',
      amount: 1234.5,
    };
    const out = redactPans(value);
    expect(JSON.stringify(out)).not.toMatch(/4111111111111111|5500 0000 0000 0004/);
    expect(out.fine).toBe('nothing here');
    expect(out.amount).toBe(1234.5);
    expect(value.note).toBe('pay with 4111111111111111'); // input untouched
  });

  it('returns the same value when there is nothing to redact', () => {
    const value = { a: [1, 2, { b: 'text 1234' }] };
    expect(redactPans(value)).toBe(value);
    expect(containsPan(value)).toBe(false);
    expect(containsPan({ a: '4111111111111111' })).toBe(true);
  });
});

describe('PAN detector on generated card numbers and ordinary numbers', () => {
  it('finds every card number however it is written, and replaces exactly its written form', () => {
    const random = prng(7);
    const missed: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const sample = cardSample(random, PAN_REDACTED);
      const out = redactPanText(sample.text);
      if (out !== sample.expected)
        missed.push(`${JSON.stringify(sample.text)} -> ${JSON.stringify(out)}`);
      // The fast skip must never pass over a card number (full-width digits, zero-width characters).
      if (!mayHoldPan(sample.text) || !mayHoldPan(JSON.stringify(sample.text)))
        missed.push(`skipped ${JSON.stringify(sample.text)}`);
    }
    expect(missed.slice(0, 5)).toEqual([]); // detection rate 100%
  });

  it.each(ORDINARY_KINDS.map((k) => [k.kind, k.make] as const))(
    'leaves ordinary numbers alone: %s (false positives under 0.5%%)',
    (_kind, make) => {
      const random = prng(11);
      let wrong = 0;
      for (let i = 0; i < 2000; i++) {
        const text = make(random);
        if (redactPanText(text) !== text) wrong += 1;
      }
      expect(wrong / 2000).toBeLessThan(0.005);
    },
  );

  it.each([
    ['dots', 'card 4111.1111.1111.1111 ok', `card ${PAN_REDACTED} ok`],
    ['underscores', '4111_1111_1111_1111', PAN_REDACTED],
    ['slashes', 'x 4111/1111/1111/1111 y', `x ${PAN_REDACTED} y`],
    ['tabs', '4111\t1111\t1111\t1111', PAN_REDACTED],
    ['repeated spaces', 'a 4111   1111  1111 1111 b', `a ${PAN_REDACTED} b`],
    ['no-break spaces', '4111\u00a01111\u00a01111\u00a01111', PAN_REDACTED],
    ['en dashes', '4111\u20131111\u20131111\u20131111', PAN_REDACTED],
    ['zero-width spaces', '4\u200b111111111111111', PAN_REDACTED],
    [
      'full-width digits',
      'カード４１１１１１１１１１１１１１１１です',
      `カード${PAN_REDACTED}です`,
    ],
    ['Arabic-Indic digits', '٤١١١١١١١١١١١١١١١', PAN_REDACTED],
    ['groups of other sizes', '41 1111 111 11111 11', PAN_REDACTED],
    ['amex 4-6-5', '3782 822463 10005', PAN_REDACTED],
  ])('catches %s', (_name, input, expected) => {
    expect(redactPanText(input)).toBe(expected);
  });

  it.each([
    ['an epoch-ms timestamp', '1733332185000'],
    ['a date range', '2026-01-15/2026-02-20'],
    ['an international phone number', '+49 1512 3456 7897'],
    ['a UUID', '123e4567-e89b-12d3-a456-426614174000'],
  ])('leaves %s alone', (_name, text) => {
    expect(redactPanText(text)).toBe(text);
  });
});

describe('PAN detector: many runs in one text', () => {
  it('judges each run on its own, short and long, digits only or with separators, in any order', () => {
    const random = prng(77);
    const runs: string[] = [];
    for (let i = 0; i < 400; i++) {
      const { digits } = cardNumber(random);
      const kind = i % 5;
      runs.push(
        kind === 0
          ? digits // digits only
          : kind === 1
            ? digits.replace(/(\d{4})(?=\d)/g, '$1 ') // groups
            : kind === 2
              ? `${'12 '.repeat(50)}${digits}` // a long run (over 128 characters) ending in a card
              : kind === 3
                ? String(Math.floor(random() * 1e15)).padStart(16, '9') // digits, mostly no card
                : `+${digits}`, // a phone number's form: left alone
      );
    }
    const alone = runs.map((run) => redactPanText(run));
    expect(redactPanText(runs.join(' ; '))).toBe(alone.join(' ; '));
    expect(redactPans(runs)).toEqual(alone);
    expect(alone.filter((r) => r.includes(PAN_REDACTED)).length).toBeGreaterThan(200);
  });
});

describe('PAN detector: line breaks, invisible and dash-like characters', () => {
  it.each([
    ['a line feed', 'card 4111\n1111\n1111\n1111', `card ${PAN_REDACTED}`],
    ['CR LF', '4111\r\n1111\r\n1111\r\n1111', PAN_REDACTED],
    ['line separators', '5555\u20285555\u20285555\u20284444', PAN_REDACTED],
    ['the combining grapheme joiner', '4111\u034f1111\u034f1111\u034f1111', PAN_REDACTED],
    ['a line break and indentation', '4111 1111\n      1111 1111', PAN_REDACTED],
    ['keycap digits', '4\u20e31\u20e31\u20e31\u20e3111111111111', PAN_REDACTED],
  ])('catches %s', (_name, input, expected) => {
    expect(redactPanText(input)).toBe(expected);
    expect(mayHoldPan(input)).toBe(true);
    expect(mayHoldPan(JSON.stringify(input))).toBe(true);
  });

  it.each(
    [
      0x0a, 0x0b, 0x0c, 0x0d, 0x85, 0x2028, 0x2029, 0x1680, 0x205f, 0x034f, 0x115f, 0x1160, 0x3164,
      0xffa0, 0x17b4, 0x17b5, 0x2800, 0x180e, 0xfe0f, 0xe0020, 0x02d7, 0x2022, 0x2043, 0x2e3a,
      0xfe63, 0x2796,
    ].map((cp) => [cp.toString(16).padStart(4, '0'), String.fromCodePoint(cp)]),
  )('U+%s separates the groups of a card number', (_cp, ch) => {
    const text = `x 4111${ch}1111${ch}1111${ch}1111 y`;
    expect(redactPanText(text)).toBe(`x ${PAN_REDACTED} y`);
  });

  it('the fast skip is never stricter than the detector, for any code point as separator', () => {
    const missed: string[] = [];
    const check = (cp: number) => {
      const ch = String.fromCodePoint(cp);
      for (const text of [`4111${ch}1111${ch}1111${ch}1111`, `4111111111119${ch}`]) {
        if (redactPanText(text) === text) continue;
        if (!mayHoldPan(text) || !mayHoldPan(JSON.stringify(text))) missed.push(cp.toString(16));
      }
    };
    for (let cp = 0; cp <= 0xffff; cp++) check(cp);
    for (let cp = 0x10000; cp <= 0x10ffff; cp += 0x7f) check(cp);
    for (let cp = 0xe0000; cp <= 0xe0fff; cp++) check(cp);
    expect(missed.slice(0, 10)).toEqual([]);
  });

  it('finds in JSON text (a body written into a log line) what it finds in the text itself', () => {
    const missed: string[] = [];
    for (let cp = 0; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      const text = `4111${ch}1111${ch}1111${ch}1111`;
      if (redactPanText(text) === text) continue;
      const json = JSON.stringify({ note: `card ${text}` });
      if (redactPanText(json) !== `{"note":"card ${PAN_REDACTED}"}`) missed.push(cp.toString(16));
    }
    expect(missed.slice(0, 10)).toEqual([]);
    expect(redactPanText('{"n":"4111\\n1111\\r\\n1111\\u20281111"}')).toBe(
      `{"n":"${PAN_REDACTED}"}`,
    );
  });

  it('the fast skip reads JSON escapes either way (an escape, or the characters written)', () => {
    // `\u4111` is one letter in JSON, but a plain text's digits after `\u`.
    const plain = '\\u4111111111119';
    expect(redactPanText(plain)).not.toBe(plain);
    expect(mayHoldPan(plain)).toBe(true);
    expect(mayHoldPan('"4111\\u20281111\\u20281111\\u20281111"')).toBe(true);
    expect(mayHoldPan('"4111\\ufeff1111\\ufeff1111\\ufeff1111"')).toBe(true);
    expect(mayHoldPan('"4111\\n1111\\r\\n1111\\n1111"')).toBe(true);
    // Every separator may be written escaped: at most 8 of them between two digits.
    expect(mayHoldPan(`"4111${'\\u2028'.repeat(8)}111111111"`)).toBe(true);
  });

  it('still skips ordinary text quickly, and stays linear on long runs', () => {
    expect(mayHoldPan('order 12345 shipped on 2026-01-15\nline two 678')).toBe(false);
    const long = '1\n'.repeat(200_000);
    const started = Date.now();
    redactPanText(long);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('finds a card number at the end of a long run of groups, whatever the script and separator', () => {
    // Groups that start with 0 start no card number: only the last four groups make one.
    const cases: Array<[zero: string, separator: string, card: string]> = [
      ['0', ' ', '4111 1111 1111 1111'],
      ['0', '\u200b', '4111\u200b1111\u200b1111\u200b1111'],
      ['0', '\\n', '4111\\n1111\\n1111\\n1111'], // JSON text
      ['\u0660', ' ', `\u0664\u0661\u0661\u0661${' \u0661\u0661\u0661\u0661'.repeat(3)}`],
    ];
    for (const [zero, separator, card] of cases) {
      const lead = `${zero}${separator}`.repeat(100_000);
      const out = redactPanText(`${lead}${card} end`);
      // Compared in parts: a failure should not print 200,000 characters.
      expect(out.slice(-40)).toBe(`${lead}${PAN_REDACTED} end`.slice(-40));
      expect(out === `${lead}${PAN_REDACTED} end`).toBe(true);
    }
  });
});

describe('PAN detector: card numbers written with escapes', () => {
  /** A card number as ASCII digits in groups, with one of the separators a URL or a key may hold. */
  const written = (random: () => number) => {
    const { digits } = cardNumber(random);
    const separator = [' ', '-', '.', '/', '_', '\t', ''][Math.floor(random() * 7)];
    const size = 2 + Math.floor(random() * 5);
    const groups = digits.match(new RegExp(`.{1,${size}}`, 'g'))!;
    return { digits, text: groups.join(separator) };
  };
  const pointerSegment = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');
  const jsonEscaped = (text: string) =>
    text.replace(/[0-9]/g, (d) => `\\u${d.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const encodings: Array<[string, (text: string) => string, (text: string) => string]> = [
    [
      'encodeURIComponent',
      (t) => `https://shop.example/pay?card=${encodeURIComponent(t)}&x=1`,
      decodeURIComponent,
    ],
    [
      'a form-encoded query',
      (t) => `https://shop.example/pay?${new URLSearchParams({ card: t, x: '1' }).toString()}`,
      (t) => t.replace(/\+/g, ' '),
    ],
    [
      'a key in a JSON pointer',
      (t) => `/order/${pointerSegment(t)}/qty must be integer`,
      (t) => t.replace(/~1/g, '/').replace(/~0/g, '~'),
    ],
    [
      'JSON escapes of its digits',
      (t) => `{"pan":"${jsonEscaped(t)}"}`,
      (t) => JSON.parse(t) as string,
    ],
  ];

  it.each(encodings)('finds every card number in %s', (_name, encode, decode) => {
    const random = prng(13);
    const missed: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const card = written(random);
      const text = encode(card.text);
      const out = redactPanText(text);
      const shown = String(decode(out)).replace(/[^0-9]/g, '');
      if (shown.includes(card.digits) || !out.includes(PAN_REDACTED))
        missed.push(`${JSON.stringify(text)} -> ${JSON.stringify(out)}`);
      if (!mayHoldPan(text)) missed.push(`skipped ${JSON.stringify(text)}`);
    }
    expect(missed.slice(0, 5)).toEqual([]);
  });

  it.each([
    ['%20', 'q=4111%201111%201111%201111&a=1', `q=${PAN_REDACTED}&a=1`],
    ['+', 'q=4111+1111+1111+1111', `q=${PAN_REDACTED}`],
    ['%2D', '4111%2D1111%2D1111%2D1111', PAN_REDACTED],
    ['percent-escaped digits', '%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31', PAN_REDACTED],
    [
      '~1 (a schema error on a key)',
      '/4111~11111~11111~11111 must be string',
      `/${PAN_REDACTED} must be string`,
    ],
    ['\\u0034 (a JSON text)', '{"card":"\\u0034111111111111111"', `{"card":"${PAN_REDACTED}"`],
    ['an escape before it', 'x\\u00204111111111111111', `x\\u0020${PAN_REDACTED}`],
    ['an escape glued to it, read as written', '50%4111111111111111', `50%${PAN_REDACTED}`],
  ])('catches %s', (_name, input, expected) => {
    expect(redactPanText(input)).toBe(expected);
  });

  it.each([
    ['an international phone number', 'tel=%2B49+1512+3456+7897'],
    ['a UUID in a query', 'id=123e4567-e89b-12d3-a456-426614174000+x'],
    ['timestamps in a query', 't=1700000000000+1700000000001&u=1%2C2'],
  ])('leaves %s alone', (_name, text) => {
    expect(redactPanText(text)).toBe(text);
  });
});

describe('PAN detector: punctuation between the groups of a card number', () => {
  // A card number written in its printed groups with any punctuation between them is still read
  // as one (`4111|1111|1111|1111` in a log line or a preview), as is one in groups of a layout
  // brands print: 4-4-4-4, 4-4-4-4-3, 4-4-4-1, 4-6-5 (Amex), 4-6-4 (Diners). Commas and semicolons
  // are left out: they separate the numbers of a list (`[2019,2020,2021,2022]`).
  const PUNCTUATION = [
    '|',
    ':',
    '*',
    '#',
    '~',
    "'",
    '"',
    '\\',
    '=',
    '!',
    '^',
    '`',
    '<',
    '>',
    '(',
    ')',
    '[',
    ']',
    '{',
    '}',
    '@',
    '$',
    '&',
    '?',
    '%',
    '+',
    ' | ',
    ' : ',
    '\u00a6', // broken bar
    '\u2502', // box drawing vertical
    '\uff5c', // full-width vertical line
    '\uff1a', // full-width colon
    '\u2236', // ratio
    '\u00d7', // multiplication sign
    '\u00a0|\u00a0',
    '|\u200b',
  ];
  const layout = (length: number, random: () => number): number[] => {
    if (length === 15 && random() < 0.5) return [4, 6, 5];
    if (length === 14 && random() < 0.5) return [4, 6, 4];
    const sizes: number[] = [];
    for (let left = length; left > 0; left -= 4) sizes.push(Math.min(4, left));
    return sizes;
  };

  it.each(PUNCTUATION.map((p) => [JSON.stringify(p), p]))(
    'catches a card number in printed groups with %s between them',
    (_name, separator) => {
      const random = prng(5);
      const missed: string[] = [];
      for (let i = 0; i < 200; i++) {
        const { digits } = cardNumber(random);
        const groups: string[] = [];
        let at = 0;
        for (const size of layout(digits.length, random))
          groups.push(digits.slice(at, (at += size)));
        const text = `card ${groups.join(separator)} ok`;
        const out = redactPanText(text);
        if (out !== `card ${PAN_REDACTED} ok`) missed.push(`${JSON.stringify(text)} -> ${out}`);
        if (!mayHoldPan(text) || !mayHoldPan(JSON.stringify(text))) missed.push(`skipped ${text}`);
      }
      expect(missed.slice(0, 5)).toEqual([]);
    },
  );

  it.each([
    ['pipes', 'a|4111|1111|1111|1111|b', `a|${PAN_REDACTED}|b`],
    ['a table cell', '| 12 | 4111 | 1111 | 1111 | 1111 | 99 |', `| 12 | ${PAN_REDACTED} | 99 |`],
    ['colons', 'pan:4111:1111:1111:1111', `pan:${PAN_REDACTED}`],
    ['full-width digits and bars', '４１１１｜１１１１｜１１１１｜１１１１', PAN_REDACTED],
    ['Amex with pipes', '3782|822463|10005', PAN_REDACTED],
    ['Visa 13 with colons', '4222:2222:2222:2', PAN_REDACTED],
    ['two cards', '4111|1111|1111|1111|5105|1051|0510|5100', `${PAN_REDACTED}|${PAN_REDACTED}`],
  ])('catches %s', (_name, input, expected) => {
    expect(redactPanText(input)).toBe(expected);
  });

  it('does not join numbered lines (a route document with comments `# 0` to `# 9989`)', () => {
    const text = Array.from({ length: 9_990 }, (_, i) => `# ${i}`).join('\n');
    expect(redactPanText(text)).toBe(text);
    const crlf = Array.from({ length: 2_000 }, (_, i) => `- ${1000 + i}:`).join('\r\n');
    expect(redactPanText(crlf)).toBe(crlf);
  });

  it.each([
    ['times', '10:30:45 11:00:00 12:15:30 13:45:10'],
    ['a timestamp in a log line', '2026-01-15 10:30:45.123 | order 1234 | 5678 ok'],
    ['a list of years', '| 2019 | 2020 | 2021 | 2022 | 2023 |'],
    ['a ratio and a version', '16:9 v1.2.3:4567'],
    ['numbers in a comma list', '[1234,5678,9012,3456]'],
    ['numbers in a semicolon list', '4111;1111;1111;1111'],
    ['a phone number', '+1 (555) 123-4567'],
    ['a table of small numbers', '| 1 | 22 | 333 | 4444 | 55 | 6 | 77 | 888 |'],
  ])('leaves %s alone', (_name, text) => {
    expect(redactPanText(text)).toBe(text);
  });
});

describe('PAN detector: linear work', () => {
  // Counted in steps (characters read, spans tried), not in time: four times the text takes at
  // most four times the steps, and a bounded number per character, whatever the text is.
  const shapes: Array<[string, string]> = [
    ['dashed digits', '1234-5678-'],
    ['digits and spaces', '1 '],
    ['one long digit run', '1'],
    ['card numbers', '4111-1111-1111-1111 '],
    ['pipes', '1234|5678|'],
    ['table cells', '| 4111 '],
    ['JSON escapes', '1\\n'],
    ['percent escapes', '1%20'],
    ['zero-width spaces', '1\u200b'],
    ['UUID-like', '12345678-1234-1234-1234-'],
    ['prose', 'The order 12 ships on Monday. '],
  ];
  it.each(shapes)('%s', (_name, unit) => {
    const MIB = 1 << 20;
    const text = (size: number) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
    const steps = (size: number) => {
      const before = panDetectorSteps();
      redactPanText(text(size));
      return panDetectorSteps() - before;
    };
    const one = steps(MIB);
    const four = steps(4 * MIB);
    expect(four).toBeLessThanOrEqual(4 * one + 1000);
    expect(four / (4 * MIB)).toBeLessThan(64);
  });
});

describe('PAN detector: texts made to be slow to read', () => {
  // Digits of several scripts (an astral one too), separators, escapes of both readings (JSON
  // escapes with and without hex digits among them: a run can start inside one), breaks.
  const atoms = ['4', '1', '0', '7', '\u0664', '\uff14', '\u{1d7d2}', ' ', '-', '.', '\t', '\n'];
  atoms.push('\u200b', '\u2028', '\ud800', '\\u0034', '\\u0020', '\\n', '\\/', '\\x', '\\');
  atoms.push('%20', '%34', '+', '~1', 'a', ',', '|', '\u0301', '\u4e2d', '        ', '\\u4111');
  atoms.push('\\uabcd', '\\u00a4', '\\t', '111111111111', '4111111111111111', '\\u004');

  it('finds the runs of 13 digits or more that the PAN_DIGIT_RUN rule finds, and only those', () => {
    const random = prng(2026);
    const escapes = /\\(?:u[0-9A-Fa-f]{4}|[bfnrt/])/g;
    const mismatches: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      let text = '';
      const size = 1 + Math.floor(random() * 60);
      // Half of the texts: mostly JSON escapes, where a run starts in one escape's hex digits
      // after the separators the run before it read.
      const pool = i % 2 === 0 ? atoms : atoms.slice(14, 21).concat(atoms.slice(-6));
      for (let k = 0; k < size; k++) text += pool[Math.floor(random() * pool.length)];
      const expected: number[] = [];
      for (const match of text.matchAll(PAN_DIGIT_RUN)) {
        const digits = match[0].replace(escapes, '').match(/\p{Nd}/gu)?.length ?? 0;
        if (digits < 13) continue;
        const plain = /^[0-9]+$/.test(match[0]) ? 1 : 0;
        expected.push(match.index, match.index + match[0].length, plain);
      }
      if (JSON.stringify(longRuns(text)) !== JSON.stringify(expected))
        mismatches.push(JSON.stringify(text));
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('reads separators once where every JSON escape starts a run of its hex digits', () => {
    // `\u0034\u0034...` (a JSON body holding `\\u0034`, parsed) starts a run inside every escape;
    // each run read up to nine escapes ahead again: 3 steps a character, now under 2.
    for (const unit of ['\\u0034', '\\u0034 ', '\\u2028', '\\u0020\\n', '\\n\\u4111', '4+']) {
      const text = unit.repeat(Math.ceil((1 << 20) / unit.length));
      const before = panDetectorSteps();
      expect(longRuns(text)).toEqual([]);
      expect((panDetectorSteps() - before) / text.length).toBeLessThan(2);
    }
    // Where the count of separators matters: a run from the hex digits of the fourth escape after
    // a digit reaches the digits after eight more separators, and no further.
    const run = (gaps: number) =>
      '1' + '\\n'.repeat(3) + '\\u4111' + '\\uabcd'.repeat(gaps) + '111111111111';
    expect(redactPanText(run(8))).toBe('1' + '\\n'.repeat(3) + '\\u' + PAN_REDACTED);
    expect(redactPanText(run(9))).toBe(run(9));
  });

  it('redacts 1 MiB of digits glued by escapes the second reading takes, whole', () => {
    // Each of these took 100 to 400 ms to read (bench/pan.bench.ts measures them; jest's module
    // sandbox runs this code too slowly to compare times here).
    const size = 1 << 20;
    const cases: Array<[string, string]> = [
      ['4+', '+'],
      ['4%20', '%20'],
      ['4~1', '~1'],
      ['\\u0034 ', ' '],
    ];
    for (const [unit, rest] of cases) {
      const text = unit.repeat(Math.floor(size / unit.length));
      expect(redactPanText(text) === PAN_REDACTED + rest).toBe(true);
    }
  });
});
