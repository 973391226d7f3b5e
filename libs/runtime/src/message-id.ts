import { createHash } from 'node:crypto';
import { containsPan } from '@junction/pipeline';

/**
 * The longest message id kept as it came, in UTF-8 bytes: what an AMQP `messageId` can carry
 * (a short string). A longer one could not go on to an AMQP destination, and past about 2.7 KB
 * Postgres refuses the audit row and the dead letter (their ids are indexed), for good: the
 * message was given back to its source again and again, and its Kafka partition looped.
 */
export const MAX_MESSAGE_ID_BYTES = 255;

/**
 * A message id as the runtime keeps it. The id a source gives (AMQP `messageId`, Kafka header
 * `junction-id`, an MQTT `junction-id` user property, an AMQP 1.0 `message-id`, an id made from
 * an HMAC signature) becomes the message's id everywhere: the audit trail, dead letters, log
 * lines, replies and every destination. One that holds a card number, or is longer than
 * {@link MAX_MESSAGE_ID_BYTES}, is replaced by a UUID made from it (SHA-256, as RFC 9562's
 * version 8): the same for every redelivery, so receivers still drop duplicates, and a whole UUID
 * is never read as a card number. HTTP ingest refuses such an Idempotency-Key outright (400)
 * before it gets here when it holds a card number.
 */
export function keptMessageId(id: string): string {
  if (Buffer.byteLength(id, 'utf8') <= MAX_MESSAGE_ID_BYTES && !containsPan(id)) return id;
  const h = createHash('sha256').update(id, 'utf8').digest('hex');
  const variant = '89ab'[parseInt(h[16], 16) & 3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
