import { createHmac, timingSafeEqual } from 'node:crypto';
import { JunctionError } from '@junction/common';

/** The header a signed ingest request carries. */
export const SIGNATURE_HEADER = 'x-junction-signature';
/** How far a signature's timestamp may be from the gateway's clock, either way. */
export const SIGNATURE_TOLERANCE_S = 300;

const FORMAT =
  't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>\\n<Idempotency-Key, or nothing>\\n<raw body>">';
const FORMAT_V2 =
  't=<unix seconds>,v2=<hex HMAC-SHA256 of "v2\\n<t>\\n<route path>\\n<Idempotency-Key, or nothing>\\n<raw body>">';

/**
 * What is signed: v1, the timestamp and the Idempotency-Key (neither holds a newline), then the
 * body; v2 (a `path` given), `v2`, the timestamp, the route's normalised ingest path (no newline
 * either) and the Idempotency-Key, then the body: the version leads, so no v1 text is a v2 one.
 */
function mac(
  key: Buffer | string,
  t: number,
  idempotencyKey: string,
  body: Buffer | string,
  path?: string,
): Buffer {
  const head =
    path === undefined ? `${t}\n${idempotencyKey}\n` : `v2\n${t}\n${path}\n${idempotencyKey}\n`;
  return createHmac('sha256', key).update(head).update(body).digest();
}

/**
 * The signature of one request: HMAC-SHA256, keyed with the route's shared secret, over
 * `<t>\n<Idempotency-Key>\n<raw body>` (an empty line without a key), as `t=<t>,v1=<hex>`. The
 * timestamp is signed, so a captured request cannot be replayed once older than the tolerance;
 * the Idempotency-Key is signed, so a replay within it cannot pass for another message.
 */
export function signIngest(
  key: Buffer | string,
  body: Buffer | string,
  t: number,
  idempotencyKey = '',
  /** v2: the route's ingest path as normalised (`partner/orders`); v1 without. */
  path?: string,
): string {
  const version = path === undefined ? 'v1' : 'v2';
  return `t=${t},${version}=${mac(key, t, idempotencyKey, body, path).toString('hex')}`;
}

/**
 * Checks `X-Junction-Signature` (several values are allowed, so a sender can sign with an old and
 * a new key while the secret is being rotated). With `path` (a route with `signature: v2`) only
 * `v2=` values count, made for that path: a v1 signature, or one made for another route's path,
 * is refused, so a request captured on its way to one route cannot be sent to another that shares
 * the key. Throws UNAUTHENTICATED with what is wrong ({@link SignatureMismatch}: well-formed, but
 * signed with another key, body, Idempotency-Key or path). Returns the signature that matched.
 */
export function checkIngestSignature(
  header: string | string[] | undefined,
  body: Buffer,
  key: Buffer,
  nowMs: number,
  idempotencyKey = '',
  path?: string,
): Buffer {
  const version = path === undefined ? 'v1' : 'v2';
  const format = path === undefined ? FORMAT : FORMAT_V2;
  if (typeof header !== 'string' || header.trim() === '')
    throw new JunctionError(
      'UNAUTHENTICATED',
      `this ingest path needs a signed request: X-Junction-Signature: ${format}`,
    );
  let t: number | undefined;
  let otherVersion = false;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (name === version && /^[0-9a-fA-F]{64}$/.test(value))
      signatures.push(Buffer.from(value, 'hex'));
    else if (name !== version && /^v\d$/.test(name)) otherVersion = true;
  }
  if (t !== undefined && signatures.length === 0 && otherVersion)
    throw new JunctionError(
      'UNAUTHENTICATED',
      `this ingest path takes ${version} signatures only: X-Junction-Signature: ${format}`,
    );
  if (t === undefined || signatures.length === 0)
    throw new JunctionError(
      'UNAUTHENTICATED',
      `X-Junction-Signature is malformed; expected ${format}`,
    );
  const skew = Math.round(Math.abs(nowMs / 1000 - t));
  if (skew > SIGNATURE_TOLERANCE_S)
    throw new JunctionError(
      'UNAUTHENTICATED',
      `X-Junction-Signature is ${skew} s away from the gateway's clock (tolerance ${SIGNATURE_TOLERANCE_S} s); sign each request when it is sent`,
    );
  const expected = mac(key, t, idempotencyKey, body, path);
  if (!signatures.some((s) => timingSafeEqual(s, expected))) throw new SignatureMismatch();
  return expected;
}

export class SignatureMismatch extends JunctionError {
  constructor() {
    super(
      'UNAUTHENTICATED',
      'X-Junction-Signature does not match the body (and Idempotency-Key, when one is sent, and the path, for v2)',
    );
  }
}
