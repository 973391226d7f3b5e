import { routeCardNumberProblems } from './route-card-numbers';

describe('routeCardNumberProblems', () => {
  it('names each value, number and object whose key holds a card number, never the number', () => {
    const doc = {
      id: 'r',
      pipeline: [
        { filter: 'pan != "4111 1111 1111 1111"' },
        { validate: { schema: { properties: { '5555-5555-5555-4444': {} } } } },
        { transform: '{ "a": 1 }' },
      ],
      destinations: [{ type: 'http', headers: { n: 4111111111111111 } }],
    };
    const problems = routeCardNumberProblems(doc, JSON.stringify(doc));
    expect(problems).toEqual([
      { pointer: '/destinations/0/headers/n', message: 'must not hold a card number' },
      { pointer: '/pipeline/0/filter', message: 'must not hold a card number' },
      {
        pointer: '/pipeline/1/validate/schema/properties',
        message: 'a key of this object must not hold a card number',
      },
    ]);
    expect(JSON.stringify(problems)).not.toMatch(/4111|5555/);
  });

  it('places one only in the text (a comment) by line and column', () => {
    const text = 'id: r\n# card 4111-1111-1111-1111\nsource: { type: http, path: p }\n';
    expect(routeCardNumberProblems({ id: 'r', source: { type: 'http', path: 'p' } }, text)).toEqual(
      [
        {
          pointer: '',
          message: 'the route text must not hold a card number (in a comment?)',
          line: 2,
          column: 8,
        },
      ],
    );
  });

  it('finds nothing in an ordinary route and its text', () => {
    const doc = { id: 'orders-eu', pipeline: [{ filter: 'total > 100' }], destinations: [] };
    expect(routeCardNumberProblems(doc, '# orders 2024-01-01\n' + JSON.stringify(doc))).toEqual([]);
  });
});
