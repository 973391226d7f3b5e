import { parseRouteSource, parseRouteSourceData, SOURCE_LIMITS } from './route-source';
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

  it('places pointers at their nodes: escaped, numeric and quoted keys, items, the nearest ancestor', () => {
    const text = [
      'a/b~c:', //                     1
      '  d: [x, {e: 1}]', //           2
      '"0":', //                       3
      '  "1": [true, null]', //        4
      'list:', //                      5
      '  - first', //                  6
      '  - second: 2', //              7
      'dup: 1', //                     8
      'dup: 2', //                     9
    ].join('\n');
    const { locate } = parseRouteSource(text);
    const at = (pointer: string) => {
      const found = locate(pointer);
      return found && `${found.line}:${found.column}`;
    };
    expect(at('')).toBe('1:1');
    expect(at('/a~1b~0c')).toBe('2:3');
    expect(at('/a~1b~0c/d/1/e')).toBe('2:14');
    expect(at('/0/1/1')).toBe('4:15');
    expect(at('/list/1/second')).toBe('7:13');
    expect(at('/list/7/nowhere')).toBe('6:3'); // the nearest ancestor: the list
    expect(at('/dup')).toBe('8:6'); // the first of two equal keys
  });

  it('keeps what crosses threads linear in the text: each node its own key, not its pointer', () => {
    // A long key over many nodes: pointers would be the key's length times the node count.
    const text = `{"${'k'.repeat(60_000)}": [${'1,'.repeat(30_000)}1]}`;
    expect(text.length).toBeLessThanOrEqual(SOURCE_LIMITS.maxLength);
    const { nodes } = parseRouteSourceData(text);
    expect(nodes.parents.length).toBe(30_003);
    // Every item's index as its key: at most a few characters a node, not 60,000.
    expect(nodes.keys.reduce((n, k) => n + k.length, 0)).toBeLessThan(
      text.length + 10 * nodes.parents.length,
    );
  });

  it('refuses texts past the queue it keeps, and past what one owner may have waiting', async () => {
    parser = new RouteSourceParser({ maxQueued: 2, maxPerOwner: 1 });
    const first = parser.parse(slowText(1), 'alice'); // running
    await expect(parser.parse(slowText(2), 'alice')).rejects.toBeInstanceOf(SourceParserBusyError);
    const second = parser.parse(slowText(3), 'bob'); // waiting
    const third = parser.parse(slowText(4)); // waiting
    await expect(parser.parse(slowText(5), 'carol')).rejects.toBeInstanceOf(SourceParserBusyError);
    expect(((await first).value as { id: string }).id).toBe('r1');
    expect(((await second).value as { id: string }).id).toBe('r3');
    expect(((await third).value as { id: string }).id).toBe('r4');
    // Alice's text is done: she may send another.
    expect(((await parser.parse(slowText(6), 'alice')).value as { id: string }).id).toBe('r6');
  });

  it('refuses a text whose parse runs past its time, and parses the next on a new thread', async () => {
    parser = new RouteSourceParser({ timeoutMs: 1 });
    const parsed = await parser.parse(slowText());
    expect(parsed.value).toBeUndefined();
    expect(parsed.problems).toEqual([
      { pointer: '', message: 'cannot parse: the source takes too long to parse' },
    ]);
    // The next text gets a new thread (and time enough).
    (parser as unknown as { options: { timeoutMs: number } }).options.timeoutMs = 60_000;
    expect(((await parser.parse(slowText(7))).value as { id: string }).id).toBe('r7');
  });
});
