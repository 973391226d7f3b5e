import { containsPan } from '@junction/pipeline';
import { replyContentType, servedReply } from './ingest-reply';

// Counted, not timed: how much work a large reply makes, whatever else the machine runs.
jest.mock('@junction/pipeline', () => {
  const actual = jest.requireActual<typeof import('@junction/pipeline')>('@junction/pipeline');
  return { ...actual, containsPan: jest.fn(actual.containsPan) };
});

const reply = (body: string | Buffer, contentType?: string) => ({
  body: typeof body === 'string' ? Buffer.from(body) : body,
  ...(contentType !== undefined ? { contentType } : {}),
});

describe('the content type of a sync reply', () => {
  afterEach(() => jest.restoreAllMocks());

  it("keeps the reply's own well-formed type, and makes a malformed one bytes", () => {
    expect(replyContentType(reply('<b/>', 'text/html; charset=utf-8'))).toBe(
      'text/html; charset=utf-8',
    );
    expect(replyContentType(reply('{}', 'text/html\u0001'))).toBe('application/octet-stream');
  });

  it('calls a reply that said none JSON when it parses as a message would', () => {
    expect(replyContentType(reply('{"ok":true}'))).toBe('application/json');
    expect(replyContentType(reply('not json'))).toBe('application/octet-stream');
  });

  it('never parses a reply larger or deeper than a message to tell (it would hold the event loop)', () => {
    const parse = jest.spyOn(JSON, 'parse');
    // A partner's 5 MiB of nested arrays held the event loop 1.3 s in JSON.parse.
    expect(replyContentType(reply(Buffer.alloc(5 * 1024 * 1024, '[')))).toBe(
      'application/octet-stream',
    );
    // Valid JSON, but more than a message may be: bytes, unparsed.
    const wide = `[${'1,'.repeat(600 * 1024)}1]`;
    expect(replyContentType(reply(wide))).toBe('application/octet-stream');
    const deep = `${'['.repeat(100)}${']'.repeat(100)}`;
    expect(replyContentType(reply(deep))).toBe('application/octet-stream');
    expect(parse).not.toHaveBeenCalled();
  });
});

describe('a JSON sync reply holding a number a double cannot carry', () => {
  const served = (body: string) => servedReply(reply(body, 'application/json')).body.toString();
  const big = '123456789012345678901234567890';

  it('stays valid JSON with its card numbers redacted, every other number as written', () => {
    for (const [body, expected] of [
      // A 19-digit card number, past a double's precision.
      ['{"card":6222000000000000004}', '{"card":"[PAN REDACTED]"}'],
      [`{"card":4111111111111111, "big": ${big}}`, `{"card":"[PAN REDACTED]", "big": ${big}}`],
      [
        `[41111111111111110e-1,-4111111111111111,${big}]`,
        `["[PAN REDACTED]","[PAN REDACTED]",${big}]`,
      ],
      [
        `{"4111111111111111":"on card 4111 1111 1111 1111 \\"","n":${big}}`,
        `{"[PAN REDACTED]":"on card [PAN REDACTED] \\"","n":${big}}`,
      ],
    ]) {
      const out = served(body);
      expect([body, out]).toEqual([body, expected]);
      expect(() => JSON.parse(out) as unknown).not.toThrow();
    }
  });

  it('goes as it came when it holds no card number', () => {
    const body = `{"id":${big},"amount":0.1000000000000000055,"ref":"x"}`;
    expect(served(body)).toBe(body);
  });

  it('looks into a number or a string only when it could hold a card number', () => {
    // A 5 MiB reply of small numbers beside one long one: three card checks of each number held
    // the event loop 5 s, a JSON.parse of each plain string most of a second.
    const body = `[${big},${'1,"a",2.5,'.repeat(10_000)}"4111111111111111",41111111111111110e-1]`;
    const check = jest.mocked(containsPan);
    check.mockClear();
    const parse = jest.spyOn(JSON, 'parse');
    const out = served(body);
    expect(out).toBe(`[${big},${'1,"a",2.5,'.repeat(10_000)}"[PAN REDACTED]","[PAN REDACTED]"]`);
    expect(check.mock.calls.length).toBeLessThan(10);
    // The body's own parse (is it JSON?), and none per string.
    expect(parse.mock.calls.length).toBeLessThan(3);
    parse.mockRestore();
  });

  it('finds a card number by value however many zeros pad it, and reads long zero runs once', () => {
    const zeros = '0'.repeat(70);
    for (const number of [
      `6222000000000000004${zeros}e-70`,
      `0.${zeros}6222000000000000004e89`,
      `4111111111111111.${zeros}`,
    ])
      expect(served(`[${number},${big}]`)).toBe(`["[PAN REDACTED]",${big}]`);
    // A number with a long run of zeros is no card number; it goes as written, at once
    // (a /0+$/ over the run took minutes).
    const long = `[1.${'0'.repeat(300_000)}1e11,${big}]`;
    expect(served(long)).toBe(long);
  });
});
