import { parseRouteSource, SOURCE_LIMITS } from './route-source';
import { RouteSourceParser, SourceParserBusyError } from './route-source-thread';

/** A YAML text near the size limit that takes the yaml library a few hundred ms to parse. */
const slowText = (n = 0) => `id: r${n}\nextra: [${'1, '.repeat(43_000)}${n}]\n`;

/** Resolves 'parsed' if `p` settles before the event loop turns once, else 'turned'. */
function beforeATurn(p: Promise<unknown>): Promise<'parsed' | 'turned'> {
  return Promise.race([
    p.then(() => 'parsed' as const),
    new Promise<'turned'>((resolve) => setImmediate(() => resolve('turned'))),
  ]);
}

describe('RouteSourceParser', () => {
  let parser: RouteSourceParser;
  beforeEach(() => (parser = new RouteSourceParser()));
  afterEach(() => parser.close());

  it('parses a long text on its own thread: the event loop turns while it runs', async () => {
    const text = slowText();
    expect(text.length).toBeLessThanOrEqual(SOURCE_LIMITS.maxLength);
    const parsing = parser.parse(text);
    expect(await beforeATurn(parsing)).toBe('turned');
    const parsed = await parsing;
    expect(parsed.problems).toEqual([]);
    expect((parsed.value as { extra: number[] }).extra).toHaveLength(43_001);
  });

  it('parses a short text at once, on the caller thread', async () => {
    expect(await beforeATurn(parser.parse('id: short\n'))).toBe('parsed');
  });

  it('answers as parseRouteSource does: values, problems with lines, and where pointers are', async () => {
    const pad = `# ${'.'.repeat(9000)}\n`;
    const texts = [
      `${pad}id: a\nsource:\n  type: http\n  path: a/b\npipeline:\n  - transform: "{ 'x': y }"\n`,
      `${pad}id: a\nid: b\nlist: [1, 2\n`, // a repeated key and an unclosed sequence
      `${pad}__proto__:\n  polluted: true\nconstructor: 1\n"a/b~c": {d: [x, {e: 1}]}\n`,
      `${pad}${'['.repeat(70)}${']'.repeat(70)}\n`, // too deep
      `${pad}a: &x [1, 2]\nb: *x\nc: !!js/function "f"\n`,
      `${pad}"0": {"1": [true, null, 2.5]}\n`,
    ];
    for (const text of texts) {
      const inline = parseRouteSource(text);
      const threaded = await parser.parse(text);
      expect(threaded.value).toEqual(inline.value);
      expect(threaded.problems).toEqual(inline.problems);
      for (const pointer of [
        '',
        '/id',
        '/source/path',
        '/pipeline/0/transform',
        '/a~1b~0c/d/1/e',
        '/0/1/2',
        '/b',
        '/nowhere/deep',
        '/__proto__/polluted',
      ])
        expect({ pointer, at: threaded.locate(pointer) }).toEqual({
          pointer,
          at: inline.locate(pointer),
        });
    }
    const proto = (await parser.parse(texts[2])).value as object;
    // A plain object, whatever realm it was cloned into: its key `__proto__` set no prototype.
    expect(Object.getPrototypeOf(Object.getPrototypeOf(proto))).toBeNull();
    expect('polluted' in Object.getPrototypeOf(proto)).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(proto, '__proto__')).toBe(true);
  });

  it('refuses texts past the queue it keeps, and parses the rest', async () => {
    parser = new RouteSourceParser({ maxQueued: 1 });
    const first = parser.parse(slowText(1)); // running
    const second = parser.parse(slowText(2)); // waiting
    await expect(parser.parse(slowText(3))).rejects.toBeInstanceOf(SourceParserBusyError);
    expect(((await first).value as { id: string }).id).toBe('r1');
    expect(((await second).value as { id: string }).id).toBe('r2');
  });

  it('refuses a text whose parse runs past its time, and parses the next on a new thread', async () => {
    parser = new RouteSourceParser({ timeoutMs: 1 });
    const parsed = await parser.parse(slowText());
    expect(parsed.value).toBeUndefined();
    expect(parsed.problems).toEqual([
      { pointer: '', message: 'cannot parse: the source takes too long to parse' },
    ]);
  });
});
