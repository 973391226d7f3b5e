import { Scalar } from 'yaml';
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

  it('checks unique keys in one pass: each key is read a few times, not once per other key', () => {
    // yaml's own check compares each key with every earlier one of its map: a 189 KB text of
    // 20,000 keys held the event loop 9 s. Count the reads of scalars' values instead of timing.
    let reads = 0;
    const stored = Symbol('value');
    Object.defineProperty(Scalar.prototype, 'value', {
      configurable: true,
      get(this: { [stored]: unknown }) {
        reads++;
        return this[stored];
      },
      set(this: { [stored]: unknown }, v: unknown) {
        this[stored] = v;
      },
    });
    try {
      const keys = Array.from({ length: 5_000 }, (_, i) => `k${i}: ${i}`);
      const parsed = parseRouteSource(`id: x\nmeta: {${keys.join(', ')}}\n`);
      expect(parsed.problems).toEqual([]);
      expect(Object.keys((parsed.value as { meta: object }).meta)).toHaveLength(5_000);
      expect(reads).toBeLessThan(20 * 5_000);
    } finally {
      delete (Scalar.prototype as { value?: unknown }).value;
    }
  });

  it('names each repeated key, and at most maxProblems problems', () => {
    const twice = parseRouteSource('id: x\nsource:\n  type: http\n  path: a\n  type: amqp\n');
    expect(twice.problems).toEqual([
      { pointer: '', message: 'cannot parse: Map keys must be unique', line: 5, column: 3 },
    ]);
    // Equal by value, as yaml compares them: 1 and "1" differ, keys in other maps do not count.
    expect(
      parseRouteSource('a: {1: x, "1": y}\nb: {a: 1}\nc: [{a: 1}, {a: 2}]\n').problems,
    ).toEqual([]);
    const many = parseRouteSource(`id: x\nmeta: {${'a: 1, '.repeat(20_000)}}\n`);
    expect(many.value).toBeUndefined();
    expect(many.problems).toHaveLength(SOURCE_LIMITS.maxProblems);
    expect(many.problems[0]).toMatchObject({ line: 2, column: 14 });
  });

  it('runs no code and knows no custom tags', () => {
    const { value } = parseRouteSource('id: !!js/function "function () { return 1 }"\n');
    expect(value).toEqual({ id: 'function () { return 1 }' });
  });
});
