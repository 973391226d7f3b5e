import { parseRouteSource, SOURCE_LIMITS, withPositions } from './route-source';

describe('parseRouteSource', () => {
  it('parses YAML and JSON alike, comments and all', () => {
    const yaml = '# orders\nid: orders # the id\nsource:\n  type: http\n';
    expect(parseRouteSource(yaml)).toMatchObject({
      value: { id: 'orders', source: { type: 'http' } },
      problems: [],
    });
    expect(parseRouteSource('{"id":"orders","n":[1,2]}').value).toEqual({
      id: 'orders',
      n: [1, 2],
    });
  });

  it('says where a syntax error is (line and column)', () => {
    const cases: Array<[string, number]> = [
      ['id: a\nid: b\n', 2],
      ['id: x\nsource: [1, 2\n', 3],
      ['id: x\n  bad: : :\n', 1],
      ['{"id": "x",,}', 1],
    ];
    for (const [text, line] of cases) {
      const { value, problems } = parseRouteSource(text);
      expect({ text, value }).toEqual({ text, value: undefined });
      expect(problems.length).toBeGreaterThan(0);
      expect(problems[0]).toMatchObject({
        pointer: '',
        message: expect.stringMatching(/^cannot parse: /),
        line: expect.any(Number),
        column: expect.any(Number),
      });
      expect({ text, line: problems[0].line! >= 1 && problems[0].line! <= line + 1 }).toEqual({
        text,
        line: true,
      });
    }
  });

  it('locates a JSON pointer in the text, or its nearest parent', () => {
    const parsed = parseRouteSource(
      'id: x\nsource:\n  type: http\npipeline:\n  - transform: "a"\n',
    );
    expect(parsed.locate('/pipeline/0/transform')).toEqual({ line: 5, column: 16 });
    expect(parsed.locate('/source/type')).toEqual({ line: 3, column: 9 });
    expect(parsed.locate('/pipeline/0/missing')).toEqual({ line: 5, column: 5 });
    expect(withPositions([{ pointer: '/source/type', message: 'bad' }], parsed)[0]).toEqual({
      pointer: '/source/type',
      message: 'bad',
      line: 3,
      column: 9,
    });
  });

  it('refuses alias bombs, deep nesting and huge texts without crashing', () => {
    let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 8; i++)
      bomb += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    const deepFlow =
      '['.repeat(SOURCE_LIMITS.maxDepth + 1) + ']'.repeat(SOURCE_LIMITS.maxDepth + 1);
    const deepBlock =
      Array.from({ length: SOURCE_LIMITS.maxDepth + 2 }, (_, i) => `${' '.repeat(i)}k:`).join(
        '\n',
      ) + ' 1';
    const dashes = '- '.repeat(20_000) + 'x';
    const huge = `id: x\ndescription: "${'a'.repeat(SOURCE_LIMITS.maxLength)}"\n`;
    for (const [what, text] of Object.entries({ bomb, deepFlow, deepBlock, dashes, huge })) {
      const { value, problems } = parseRouteSource(text);
      expect({ what, value, refused: problems.length > 0 }).toEqual({
        what,
        value: undefined,
        refused: true,
      });
    }
    // Brackets in quoted strings and comments do not count as nesting.
    const quoted = `id: x\ndescription: "${'['.repeat(200)}"\n# ${'{'.repeat(200)}\n`;
    expect(parseRouteSource(quoted).problems).toEqual([]);
  });

  it('runs no code and knows no custom tags', () => {
    const { value } = parseRouteSource('id: !!js/function "function () { return 1 }"\n');
    expect(value).toEqual({ id: 'function () { return 1 }' });
  });
});
