/**
 * The one-pass audit text (auditJson, auditReceiptsJson, messageRowText) against the two-pass
 * path it replaces on the hot path (canonicalJson of safeJson, messageRow): byte for byte the
 * same over seeded random values, odd ones included, so that rows written either way hash alike.
 */
import type { MessageRecord } from '@junction/runtime';
import {
  auditJson,
  auditReceiptsJson,
  canonicalJson,
  safeJson,
  scrubSecrets,
  type Json,
} from './audit-json';
// The PAN detector's seeded generator (mulberry32), so that a failure can be replayed.
import { prng as random } from '../../pipeline/src/pan/pan-corpus';
import { isPanSeparator } from '../../pipeline/src/pan/pan-detector';
import { messageRow, messageRowText } from './audit-rows';
import { chainHash, chainHashOf, GENESIS_HASH, MESSAGES } from './audit-tables';

const PANS = ['4111111111111111', '4111 1111 1111 1111', '5105-1051-0510-5100', '378282246310005'];
const PIECES = [
  '',
  'a',
  'orders-eu',
  ' ',
  '"',
  '\\',
  '\n',
  '\t',
  '\u0000',
  '\u0001',
  '\u2028',
  '\uD800',
  '\uDC00',
  '\uD83D\uDE00',
  'é',
  '中文',
  '٤١١١',
  '12345',
  '+49 30 1234567',
  '2026-11-26T10:00:00Z',
  'b7f9d1c4-3c2e-4a6b-9f0e-2d8c4b1a7e65',
  'amqp://user:hunter2@host:5672/',
  'https://erp.example.com/orders',
  '411111******1111',
  '01937c5e-1234-7111-8111-111111111111',
  '41111111-1111-1111-1111-111111111111',
  '[PAN REDACTED]',
  ...PANS,
];
const KEYS = [
  'id',
  'b',
  'a',
  'Z',
  '10',
  '2',
  '',
  'é',
  '__proto__',
  'toJSON',
  'password',
  'token',
  'apiKey',
  'secrets',
  'authorization',
  'url',
  'kind',
  '[PAN REDACTED]',
];
/** Odd texts the detector leaves as they are, for keys. */
const KEY_PIECES = [
  '',
  'a',
  '"',
  '\\',
  '\n',
  '\t',
  '\u0001',
  '\u2028',
  '\uD83D\uDE00',
  'é',
  '中文',
  '٤١',
  '12',
];
/** Keys the detector renames, which may collide with another (left to the two-pass path). */
const PAN_KEYS = ['4111111111111111', '4111 1111 1111 1111'];

class Money {
  constructor(readonly amount: number) {}
}

function generator(seed: number) {
  const rnd = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)];
  const text = (): string => {
    let out = '';
    for (let n = Math.floor(rnd() * 4); n >= 0; n--) out += pick(PIECES);
    return out;
  };
  const number = (): number =>
    pick([
      0,
      -0,
      1,
      -17,
      12.5,
      1e21,
      1e-7,
      2 ** 53,
      NaN,
      Infinity,
      4111111111111111,
      -4111111111111111,
      1234567890123,
      rnd() * 1e6,
      Math.floor(rnd() * 1e15),
    ]);
  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth > 5 || r < 0.3) {
      // Now and then what JSON.stringify treats in its own way (the whole value then takes
      // the two-pass path); mostly what JSON bodies hold.
      if (rnd() < 0.01) {
        return pick<() => unknown>([
          () => 10n,
          () => new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(rnd() * 1e6))),
          () => new Date(NaN),
          () => Buffer.from('ab'),
          () => new Money(3),
          () => new Map([[1, 2]]),
        ])();
      }
      return pick<() => unknown>([
        text,
        text,
        number,
        () => rnd() < 0.5,
        () => null,
        () => undefined,
        () => () => 1,
        () => Symbol('s'),
      ])();
    }
    if (r < 0.55) {
      const items = Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
      if (rnd() < 0.1) items.length += 2; // holes
      return items;
    }
    const out: Record<string, unknown> = rnd() < 0.1 ? Object.create(null) : {};
    for (let n = Math.floor(rnd() * 6); n > 0; n--) {
      const r = rnd();
      const key =
        r < 0.7
          ? pick(KEYS)
          : r < 0.97
            ? pick(KEY_PIECES) + pick(KEY_PIECES)
            : r < 0.99
              ? text()
              : pick(PAN_KEYS);
      const child = key === 'secrets' && rnd() < 0.5 ? ['password', 'token'] : value(depth + 1);
      // A __proto__ key as JSON.parse makes it: an own property, not the prototype.
      Object.defineProperty(out, key, {
        value: child,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  const receipt = (): unknown =>
    rnd() < 0.7
      ? pick([
          { kind: 'amqp', exchange: text(), routingKey: text() },
          { kind: 'kafka', topic: text(), partition: 0, offset: String(Math.floor(rnd() * 99)) },
          { kind: 'http', status: 201, url: pick(PIECES) },
          { kind: 'log' },
        ])
      : value(1);
  const record = (): MessageRecord => ({
    messageId: rnd() < 0.9 ? text() : (Math.floor(rnd() * 1e16) as unknown as string),
    routeId: text(),
    routeVersion: pick([1, 3, -2, 2 ** 40, 1.5]),
    source: value(1) as MessageRecord['source'],
    outcome: pick(['delivered', 'filtered', 'dead-lettered'] as const),
    receipts: Array.from({ length: Math.floor(rnd() * 3) }, (_, i) => ({
      destination: i,
      receipt: receipt() as never,
    })),
    attempts: pick([1, 2, 0]),
    receivedAt: pick(['2025-01-02T03:04:05.678Z', '2025-01-02T03:04:06+01:00', 'nonsense']),
    doneAt: '2025-01-02T03:04:06.000Z',
    ...(rnd() < 0.3 ? { error: { code: text(), message: text(), where: text() } } : {}),
    body: value(0),
    payload: Buffer.from(text()),
    auditPayload: rnd() < 0.9 ? 'masked' : 'none',
    ...(rnd() < 0.3
      ? { traceId: pick(['4bf92f3577b34da6a3ce929d0e0e4736', '0'.repeat(32), 'x']) }
      : {}),
  });
  return { value, receipt, record };
}

const twoPass = (value: unknown): string => canonicalJson(safeJson(value));

describe('audit text in one pass', () => {
  it('is byte for byte the two-pass text, over seeded random values', () => {
    const { value } = generator(15);
    const differ: unknown[] = [];
    for (let i = 0; i < 2_000; i++) {
      const v = value(0);
      const text = auditJson(v);
      if (text !== twoPass(v)) differ.push([i, text, twoPass(v)]);
      // A fixpoint: what the verifier recomputes from the stored jsonb is this very text.
      if (canonicalJson(JSON.parse(text) as Json) !== text) differ.push([i, text]);
    }
    expect(differ).toEqual([]);
  });

  it('is the two-pass text for receipts, secrets scrubbed on the way', () => {
    const { receipt } = generator(16);
    const differ: unknown[] = [];
    for (let i = 0; i < 2_000; i++) {
      const receipts = Array.from({ length: 1 + (i % 3) }, (_, d) => ({
        destination: d,
        receipt: receipt(),
      }));
      const expected = twoPass(
        receipts.map((r) => ({ destination: r.destination, receipt: scrubSecrets(r.receipt) })),
      );
      const { text } = auditReceiptsJson(receipts);
      if (text !== expected) differ.push([i, text, expected]);
    }
    expect(differ).toEqual([]);
    const { text, scrubbed } = auditReceiptsJson([
      { destination: 0, receipt: { kind: 'http', url: 'https://u:hunter2@erp.example.com/' } },
    ]);
    expect(scrubbed).toBe(true);
    expect(text).toBe(
      '[{"destination":0,"receipt":{"kind":"http","url":"https://u:[REMOVED]@erp.example.com/"}}]',
    );
  });

  it('is the two-pass text for the odd values it leaves to that path', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const deep: unknown = JSON.parse('{"a":'.repeat(300) + '1' + '}'.repeat(300));
    const odd: unknown[] = [
      cyclic,
      deep,
      { big: 12n, when: new Date(0), money: new Money(1) },
      { '4111111111111111': 1, '[PAN REDACTED]': 2 },
      { '[PAN REDACTED]': 2, '4111 1111 1111 1111': 1, '5105105105105100': 3 },
      { toJSON: () => ({ replaced: true }) },
      undefined,
      () => 1,
    ];
    for (const v of odd) expect(auditJson(v)).toBe(twoPass(v));
  });

  it('makes a message row as the two-pass path does, field by field, and it hashes the same', () => {
    const { record } = generator(17);
    const now = new Date('2025-06-01T00:00:00.000Z');
    const at = '2025-06-01T00:00:01.000Z';
    const differ: unknown[] = [];
    for (let i = 0; i < 1_000; i++) {
      const r = record();
      const row = messageRow(r, now);
      const text = messageRowText(r, now);
      const content = MESSAGES.content(row);
      const expected = content.map(canonicalJson);
      if (text.content.join('\n') !== expected.join('\n')) differ.push([i, text.content, expected]);
      if (text.targets.join('\n') !== row.targets.join('\n')) differ.push([i, text.targets]);
      const hash = chainHash('audit_messages', GENESIS_HASH, '9', at, content);
      if (!chainHashOf('audit_messages', GENESIS_HASH, '9', at, text.content).equals(hash))
        differ.push([i, 'hash']);
    }
    expect(differ).toEqual([]);
  });
});

describe('audit text: card numbers across line breaks and invisible characters', () => {
  it('no separator the detector knows lets a card number through the fast paths', () => {
    const leaked: string[] = [];
    for (let cp = 0; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      const text = `4111${ch}1111${ch}1111${ch}1111`;
      if (!isPanSeparator(ch)) continue;
      if (auditJson({ note: text, [text]: 1 }).includes('4111')) leaked.push(cp.toString(16));
    }
    expect(leaked.slice(0, 10)).toEqual([]);
  });

  it('redacts the probe body', () => {
    const body = {
      note: 'card 4111\n1111\n1111\n1111',
      n2: '5555\u20285555\u20285555\u20284444',
      n3: '4111\u034f1111\u034f1111\u034f1111',
    };
    const text = auditJson(body);
    expect(text).not.toMatch(/4111|5555/);
    expect(canonicalJson(safeJson(body))).toBe(text);
  });

  it('redacts card numbers written in a URL, a form query, a JSON pointer or JSON escapes', () => {
    const spellings = [
      'https://shop.example/pay?card=4111%201111%201111%201111',
      'https://shop.example/pay?card=4111%2D1111%2D1111%2D1111',
      'https://shop.example/pay?card=4111+1111+1111+1111&x=1',
      '/order/4111~11111~11111~11111',
      '{"card":"\\u0034111111111111111"',
    ];
    for (const spelling of spellings) {
      const body = { note: spelling, [spelling]: 1, list: [spelling] };
      const text = auditJson(body);
      expect(text).not.toMatch(/4111|%34/);
      expect(canonicalJson(safeJson(body))).toBe(text);
    }
  });
});
