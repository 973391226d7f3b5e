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
    // Cloud vendors' keys and signed URLs: Azure Functions' function key, an Azure SAS token,
    // AWS and Google Cloud presigned URLs, a Google API key.
    ['/api/orders?code=abc', 'code'],
    ['/api/orders?CODE=abc', 'CODE'],
    ['/orders?sv=2022-11-02&ss=b&sp=rw&sig=abc', 'sig'],
    ['/orders?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc', 'X-Amz-Signature'],
    ['/orders?X-Goog-Signature=abc', 'X-Goog-Signature'],
    ['/orders?Signature=abc', 'Signature'],
    ['/orders?apikey=abc', 'apikey'],
    ['/v1/places?key=abc', 'key'],
    ['/orders?jwt=abc', 'jwt'],
    ['/orders?client_assertion=abc', 'client_assertion'],
    ['/orders?passphrase=abc', 'passphrase'],
    ['/orders?passcode=abc', 'passcode'],
    ['/orders?hmac=abc', 'hmac'],
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
    for (const path of [
      '/orders',
      '/orders?region=eu&page=2',
      '/orders#token=x',
      '/keys/list',
      // A code that names a thing (a country, a currency, a product) is no credential.
      '/orders?country_code=DE&currency-code=EUR&zipcode=10115&promo_code=X&status_code=200',
    ])
      expect([path, routeCredentialProblems(route(path))]).toEqual([path, []]);
    expect(routeCredentialProblems({ destinations: 'x', errors: null })).toEqual([]);
    expect(routeCredentialProblems(null)).toEqual([]);
  });
});
