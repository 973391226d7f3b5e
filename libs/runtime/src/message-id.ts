import { createHash } from 'node:crypto';
import { containsPan } from '@junction/pipeline';

/**
 * A message id as the runtime keeps it. The id a source gives (AMQP `messageId`, Kafka header
 * `junction-id`, an id made from an HMAC signature) becomes the message's id everywhere: the audit
 * trail, dead letters, log lines, replies and every destination. One that holds a card number is
 * replaced by a UUID made from it (SHA-256, as RFC 9562's version 8): the same for every
 * redelivery, so receivers still drop duplicates, and a whole UUID is never read as a card number.
 * HTTP ingest refuses such an Idempotency-Key outright (400) before it gets here.
 */
export function panFreeMessageId(id: string): string {
  if (!containsPan(id)) return id;
  const h = createHash('sha256').update(id, 'utf8').digest('hex');
  const variant = '89ab'[parseInt(h[16], 16) & 3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
