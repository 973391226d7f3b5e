import { createHmac, timingSafeEqual } from 'node:crypto';
import { JunctionError } from '@junction/common';

/** The header a signed ingest request carries. */
export const SIGNATURE_HEADER = 'x-junction-signature';
/** How far a signature's timestamp may be from the gateway's clock, either way. */
export const SIGNATURE_TOLERANCE_S = 300;

const FORMAT =
  't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>\\n<Idempotency-Key, or nothing>\\n<raw body>">';

/** What is signed: the timestamp and the Idempotency-Key (neither holds a newline), then the body. */
function mac(
  key: Buffer | string,
  t: number,
  idempotencyKey: string,
  body: Buffer | string,
): Buffer {
  return createHmac('sha256', key).update(`${t}\n${idempotencyKey}\n`).update(body).digest();
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
): string {
  return `t=${t},v1=${mac(key, t, idempotencyKey, body).toString('hex')}`;
}

/**
 * Checks `X-Junction-Signature` (several `v1=` values are allowed, so a sender can sign with an
 * old and a new key while the secret is being rotated). Throws UNAUTHENTICATED with what is wrong
 * ({@link SignatureMismatch}: well-formed, but signed with another key, body or Idempotency-Key).
 * Returns the signature that matched.
 */
export function checkIngestSignature(
  header: string | string[] | undefined,
  body: Buffer,
  key: Buffer,
  nowMs: number,
  idempotencyKey = '',
): Buffer {
  if (typeof header !== 'string' || header.trim() === '')
    throw new JunctionError(
      'UNAUTHENTICATED',
      `this ingest path needs a signed request: X-Junction-Signature: ${FORMAT}`,
    );
  let t: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (name === 'v1' && /^[0-9a-fA-F]{64}$/.test(value))
      signatures.push(Buffer.from(value, 'hex'));
  }
  if (t === undefined || signatures.length === 0)
    throw new JunctionError(
      'UNAUTHENTICATED',
      `X-Junction-Signature is malformed; expected ${FORMAT}`,
    );
  const skew = Math.round(Math.abs(nowMs / 1000 - t));
  if (skew > SIGNATURE_TOLERANCE_S)
    throw new JunctionError(
      'UNAUTHENTICATED',
      `X-Junction-Signature is ${skew} s away from the gateway's clock (tolerance ${SIGNATURE_TOLERANCE_S} s); sign each request when it is sent`,
    );
  const expected = mac(key, t, idempotencyKey, body);
  if (!signatures.some((s) => timingSafeEqual(s, expected))) throw new SignatureMismatch();
  return expected;
}

export class SignatureMismatch extends JunctionError {
  constructor() {
    super(
      'UNAUTHENTICATED',
      'X-Junction-Signature does not match the body (and Idempotency-Key, when one is sent)',
    );
  }
}
