import { CREDENTIAL_NAME, queryCredentialNames } from './spec-fields';

describe('credential names (headers a message may not pass on, query parameters a URL may not carry)', () => {
  it.each([
    'authorization',
    'Proxy-Authorization',
    'x-auth-token',
    'X-Api-Key',
    'apikey',
    'access_token',
    'token',
    'x-csrf-token',
    'oauth_token',
    'client_secret',
    'password',
    'pwd',
    'cookie',
    'x-session-id',
    'Stripe-Signature',
    'x-hub-signature-256',
    'x-amz-security-token',
    'private_key',
    // PagerDuty's integration key, Azure's primary key, a gateway's hash key: credentials.
    'routing_key',
    'primary_key',
    'hash_key',
    'key',
    'sig',
    'pass',
    // the sort/partition/... look-alikes are keys only: a signature or a password by any prefix is one
    'message_sig',
    'X-Order-Sig',
    'group_pass',
    'row-pass',
    'jwt',
    'X-JWT-Assertion',
    'client_assertion',
    'x-hmac',
    'passphrase',
    'passcode',
  ])('%s is one', (name) => {
    expect(CREDENTIAL_NAME.test(name)).toBe(true);
  });

  it.each([
    'author',
    'x-author',
    'authority',
    'page_token',
    'nextToken',
    'continuation-token',
    'sort_key',
    'partition_key',
    'idempotency_key',
    'passenger',
    'monkey',
    'x-tenant',
  ])('%s is none', (name) => {
    expect(CREDENTIAL_NAME.test(name)).toBe(false);
  });

  it('takes a query parameter named `code` for a credential (Azure Functions, OAuth), never a kind of code', () => {
    expect(queryCredentialNames('/api/orders?code=k&country_code=DE&promo-code=X&Code=k')).toEqual([
      'code',
      'Code',
    ]);
    // As a header name it is none: message headers named so pass on as before.
    expect(CREDENTIAL_NAME.test('code')).toBe(false);
  });

  it('reads them in a query as a server does', () => {
    expect(queryCredentialNames('/posts?author=jane&page_token=abc&api%5Fkey=k')).toEqual([
      'api_key',
    ]);
  });
});
