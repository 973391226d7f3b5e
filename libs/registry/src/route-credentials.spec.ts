import { routeCredentialProblems } from './route-credentials';

const route = (path: string, deadLetterPath = '/dlq') => ({
  id: 'to-erp',
  source: { type: 'http', path: 'orders' },
  destinations: [
    { type: 'amqp', connection: 'rabbit', queue: 'q?token=not-a-url' },
    { type: 'http', connection: 'erp', path, method: 'POST' },
  ],
  errors: { deadLetter: { type: 'http', connection: 'erp', path: deadLetterPath } },
});

describe('route documents: no credential in an HTTP destination path', () => {
  // A route document is shown to every reader of routes, in its versions and the audit trail.
  it.each([
    ['/orders?api_key=k-1', 'api_key'],
    ['/orders?x=1&access_token=t', 'access_token'],
    ['/orders?Password=p', 'Password'],
    ['/orders?%74oken=t', 'token'],
    ['/orders?sig=abc', 'sig'],
  ])('refuses %s, naming %s and the slot to use, never its value', (path, name) => {
    const problems = routeCredentialProblems(route(path, path));
    expect(problems.map((p) => p.pointer)).toEqual([
      '/destinations/1/path',
      '/errors/deadLetter/path',
    ]);
    for (const p of problems) {
      expect(p.message).toMatch(
        new RegExp(`^must not carry credentials in its query \\(${name}\\);.*secrets`),
      );
      expect(p.message).not.toMatch(/k-1|=t\b|=p\b|abc/);
    }
  });

  it('keeps paths with ordinary queries and fragments, and other destination kinds', () => {
    for (const path of ['/orders', '/orders?region=eu&page=2', '/orders#token=x', '/keys/list'])
      expect([path, routeCredentialProblems(route(path))]).toEqual([path, []]);
    expect(routeCredentialProblems({ destinations: 'x', errors: null })).toEqual([]);
    expect(routeCredentialProblems(null)).toEqual([]);
  });
});
