import { createHash } from 'node:crypto';

/**
 * Bytes hashed between two turns of the event loop: about 1.5 ms of SHA-256 here. Anything a
 * route may run (at most the 1 MiB message limit) is hashed in one go, as before.
 */
export const DIGEST_SLICE_BYTES = 2 * 1024 * 1024;

/**
 * The hex SHA-256 of a payload as received (what a dead letter and its audit record keep of the
 * whole). A broker hands over far larger messages than a route runs (Mosquitto up to 256 MB):
 * hashing a 200 MB MQTT message took 120 ms on the event loop, twice (dead letter, then audit
 * record), so such a payload is hashed in slices with a turn of the event loop between them.
 */
export async function payloadSha256(payload: Buffer): Promise<string> {
  const hash = createHash('sha256');
  for (let at = 0; ; at += DIGEST_SLICE_BYTES) {
    hash.update(payload.subarray(at, at + DIGEST_SLICE_BYTES));
    if (at + DIGEST_SLICE_BYTES >= payload.length) return hash.digest('hex');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
