/* global process, console, Buffer, TextEncoder */
/**
 * A real OpenID provider for the OIDC tests (panva's oidc-provider, which is ES-module-only and
 * so runs here, in a child process of its own). Listens on 127.0.0.1, on a free port, and prints
 * one line `{"issuer": "http://127.0.0.1:<port>"}` when it is ready.
 *
 * Setup (JSON in OIDC_TEST_SETUP): `clients` (oidc-provider client metadata), `accounts`
 * (id -> claims, with `groups`) and `apiAudience` (the resource whose access tokens are JWTs).
 * PKCE is required of every client; logins go through oidc-provider's own development
 * interaction pages (any password is taken), which the tests fill in over HTTP.
 *
 * Refresh tokens are issued to clients allowed the refresh_token grant.
 * `PUT /__test/account?id=...&groups=a,b` sets an account's groups, `DELETE /__test/account?id=...`
 * removes the account (its refresh tokens then fail with invalid_grant), as an admin at the
 * provider would. `POST /__test/fail?what=userinfo` answers the next userinfo request 503;
 * `what=token` lets the next token request run, then drops its connection unanswered.
 *
 * To test how the gateway treats a misbehaving provider, `POST /__test/tamper?mode=...` changes
 * the ID token of the next token response, re-signed with the provider's real key where it must
 * look genuine: signature (one signature byte changed), audience, expired, nonce, issuer,
 * alg-hs256 (signed with HS256 and the client secret), alg-none.
 */
import { createServer } from 'node:http';
import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

const setup = JSON.parse(process.env.OIDC_TEST_SETUP ?? '{}');
const accounts = setup.accounts ?? {};

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = {
  ...(await jose.exportJWK(privateKey)),
  kid: 'test-key',
  alg: 'RS256',
  use: 'sig',
};

const provider = new Provider(issuer, {
  clients: setup.clients ?? [],
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['oidc-test-cookie-key'] },
  pkce: { required: () => true },
  // Every refresh spends its token, so a token used twice (two checks at once) is a reuse.
  rotateRefreshToken: () => true,
  // Refresh tokens to clients allowed the grant, as offline tokens (outliving the session at the
  // provider). oidc-provider would honour offline_access only with prompt=consent, as the spec
  // says; Keycloak, Okta and Entra ID, which the gateway meets, issue them without.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  async findAccount(_ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, resource) {
        if (resource !== setup.apiAudience) throw new errors.InvalidTarget();
        return {
          scope: 'api:read',
          audience: setup.apiAudience,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // The groups travel in JWT access tokens too, for APIs that take them as bearer tokens.
  async extraTokenClaims(_ctx, token) {
    const account = accounts[token.accountId];
    return token.kind === 'AccessToken' && account ? { groups: account.groups ?? [] } : undefined;
  },
});
provider.on('server_error', (_ctx, err) => console.error(`oidc-provider: ${err.stack}`));

let tamper = null;
const failNext = new Set();

async function resign(idToken, change) {
  const claims = { ...jose.decodeJwt(idToken), ...change };
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid, typ: 'JWT' })
    .sign(privateKey);
}

async function tampered(idToken, mode, clientId) {
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'signature': {
      const [h, p, s] = idToken.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[sig.length >> 1] ^= 0x01;
      return `${h}.${p}.${sig.toString('base64url')}`;
    }
    case 'audience':
      return resign(idToken, { aud: 'someone-else', azp: undefined });
    case 'expired':
      return resign(idToken, { iat: now - 7200, exp: now - 3600 });
    case 'nonce':
      return resign(idToken, { nonce: 'not-the-nonce' });
    case 'issuer':
      return resign(idToken, { iss: 'http://127.0.0.1:1/evil' });
    case 'alg-hs256': {
      const client = (setup.clients ?? []).find((c) => c.client_id === clientId);
      return new jose.SignJWT(jose.decodeJwt(idToken))
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(client.client_secret));
    }
    case 'alg-none': {
      const [, p] = idToken.split('.');
      return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    }
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/account') {
    const id = String(ctx.query.id);
    if (ctx.method === 'DELETE') delete accounts[id];
    else
      accounts[id] = {
        ...accounts[id],
        groups: String(ctx.query.groups ?? '')
          .split(',')
          .filter(Boolean),
      };
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/__test/fail' && ctx.method === 'POST') {
    failNext.add(String(ctx.query.what));
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/me' && failNext.delete('userinfo')) {
    ctx.status = 503;
    return;
  }
  if (ctx.path === '/__test/tamper' && ctx.method === 'POST') {
    tamper = ctx.query.mode || null;
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && failNext.delete('token')) {
    ctx.req.socket.destroy();
    return;
  }
  if (ctx.path === '/token' && ctx.status === 200 && tamper && ctx.body?.id_token) {
    const mode = tamper;
    tamper = null;
    ctx.body = {
      ...ctx.body,
      id_token: await tampered(ctx.body.id_token, mode, ctx.oidc?.client?.clientId),
    };
  }
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'])
  process.on(signal, () => server.close(() => process.exit(0)));
