/**
 * How many routes of Junction a message has passed through: every delivery carries the count it
 * came with plus one, as header `junction-hops` (an AMQP header, a Kafka header, an MQTT user
 * property, an AMQP 1.0 application property, an HTTP header), and each source reads it back.
 * Routes that feed each other in a circle (route A's destination is route B's source and back,
 * or an exchange binding no route document shows) would pass one message around for ever, and
 * a route with two destinations in such a circle doubles it at every turn: a message past the
 * limit is dead-lettered instead of run.
 */
export const HOPS_HEADER = 'junction-hops';

/** The default limit: legitimate chains of routes are a few long; a doubling loop stops at 2^10. */
export const DEFAULT_MAX_HOPS = 10;

/** The count a message came with: 0 when absent or not a count (a sender's junk). */
export function hopsOf(headers: Record<string, string>): number {
  const value = headers[HOPS_HEADER];
  return value !== undefined && /^\d{1,9}$/.test(value) ? Number(value) : 0;
}
