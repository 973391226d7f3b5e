/** Header rules of the http protocol, shared by its destination and its (pure) connection spec. */

/** Headers Junction sets itself (or that frame the request): never taken from config or a message. */
export const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
  'proxy-connection',
  'authorization',
  'content-type',
  'content-encoding',
  'idempotency-key',
]);
/**
 * Headers a message may carry (an ingest caller's, an AMQP or Kafka producer's) that an HTTP
 * destination never passes on, whatever the route says: they are sent with the connection's
 * credentials, and frameworks, proxies and gateways take them to change the request those
 * credentials make (`X-HTTP-Method-Override: DELETE`, `X-Original-URL: /admin/...`), where it came
 * from (`X-Forwarded-For` past an address allowlist), or who sent it: the identity an
 * authenticating proxy in front of the far side asserts (oauth2-proxy's `X-Auth-Request-User`,
 * IAP's `X-Goog-Authenticated-User-Email`, ALB's `X-Amzn-Oidc-Identity`, App Service's
 * `X-MS-Client-Principal`, Cloudflare Access, Kong's `X-Consumer-*`, the Kubernetes front proxy's
 * `X-Remote-User` / `X-Remote-Group` / `X-Remote-Extra-*`), which the service trusts as is.
 * A sender's own credentials (`X-Api-Key`, a token) are dropped too, unless the destination
 * names them in `passHeaders` (see forwardableHeaders).
 */
export const MESSAGE_HEADER_REFUSED =
  /^(?:x-(?:http-)?method(?:-override)?|x-http-method-override|x-original-(?:url|uri|method|host)|x-rewrite-url|x-override-url|x-host|forwarded|x-forwarded(?:-.*)?|x-real-ip|x-client-ip|true-client-ip|x-cluster-client-ip|cf-connecting-ip|fastly-client-ip|(?:x-)?remote-(?:user|group|extra-.*)|x-consumer-.*|x-credential-identifier|x-anonymous-consumer|x-apigateway-api-userinfo|x-auth-request-.*|x-authenticated-.*|x-endpoint-api-userinfo|x-goog-authenticated-user-.*|x-goog-iap-jwt-assertion|x-amzn-oidc-.*|x-ms-client-principal(?:-.*)?|cf-access-.*|x-pomerium-.*|x-user(?:-.*)?|x-email)$/i;

/** An HTTP header name (RFC 9110 token). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header value that can be sent: no line break or other control character but a tab. */
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Credential headers kept as secrets (`secrets["header:X-Api-Key"]`), so that they are stored
 * encrypted and never shown. `Authorization` may be one (a scheme other than Bearer or Basic);
 * bearerToken and basicPassword take its place when set.
 */
/**
 * Why a secret header (`secrets["header:<name>"]` of an http connection) cannot be sent, or
 * undefined when it can: the one rule, for the registry when the secret is stored and for the
 * destination when it sends. An Authorization header is allowed: it is what most secrets are.
 */
export function secretHeaderProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) return 'must name a valid header after "header:"';
  const lower = name.toLowerCase();
  if (RESERVED_HEADERS.has(lower) && lower !== 'authorization')
    return `${name} is set by Junction itself`;
  return undefined;
}
