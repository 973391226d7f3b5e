import { testResources, validateRoute } from '@junction/pipeline';
import { CONNECTORS } from '../connectors';

/** HTTP destinations in route documents: the schema and checks the plugin gives the engine. */
const resources = testResources({ protocols: CONNECTORS });

const route = (destination: Record<string, unknown>) => ({
  id: 'relay',
  source: { type: 'http', path: 'relay', auth: 'none' },
  destinations: [{ type: 'http', connection: 'erp', path: '/hooks', ...destination }],
});

async function problemsOf(doc: unknown): Promise<string[]> {
  return (await validateRoute(doc, resources)).map((p) => `${p.pointer || '/'}: ${p.message}`);
}

describe('http destination passHeaders', () => {
  it("takes a webhook's signature headers to pass on", async () => {
    expect(
      await problemsOf(route({ passHeaders: ['Stripe-Signature', 'x-hub-signature-256'] })),
    ).toEqual([]);
  });

  it('refuses, at the entry, a header Junction sets and an override or identity claim', async () => {
    expect(
      await problemsOf(
        route({
          passHeaders: [
            'content-type',
            'X-Forwarded-For',
            'x-http-method-override',
            'x-remote-user',
          ],
        }),
      ),
    ).toEqual([
      '/destinations/0/passHeaders/0: is a header Junction sets itself; it is never passed on',
      '/destinations/0/passHeaders/1: overrides the method or URL, or claims where the request came from or who sent it: never passed on',
      '/destinations/0/passHeaders/2: overrides the method or URL, or claims where the request came from or who sent it: never passed on',
      '/destinations/0/passHeaders/3: overrides the method or URL, or claims where the request came from or who sent it: never passed on',
    ]);
  });

  it("refuses the rest of a proxy's identity claim: groups and extras beside the user, Kong's consumer", async () => {
    const claims = [
      'X-Remote-Group',
      'x-remote-extra-scopes',
      'X-Consumer-Username',
      'x-credential-identifier',
      'X-Apigateway-Api-Userinfo',
    ];
    expect(await problemsOf(route({ passHeaders: claims }))).toEqual(
      claims.map(
        (_, i) =>
          `/destinations/0/passHeaders/${i}: overrides the method or URL, or claims where the request came from or who sent it: never passed on`,
      ),
    );
  });

  it('refuses what is no header name, and more than 20', async () => {
    expect((await problemsOf(route({ passHeaders: ['bad header'] })))[0]).toMatch(
      /^\/destinations\/0\/passHeaders\/0: /,
    );
    const many = Array.from({ length: 21 }, (_, i) => `x-sig-${i}`);
    expect((await problemsOf(route({ passHeaders: many })))[0]).toMatch(
      /^\/destinations\/0\/passHeaders: /,
    );
  });
});
