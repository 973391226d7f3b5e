import type { RouteSpec } from './connectors';
import type { RouteProtocols } from '@junction/pipeline';

/**
 * Where a route's source takes messages that no other route may also take: the broker hands each
 * message to one consumer of a queue (AMQP, an AMQP 1.0 anycast address), of a Kafka consumer
 * group, of an AMQP 1.0 durable shared subscription or of an MQTT shared subscription. A second
 * route reading there takes a share of the first route's messages to its own destinations:
 * ten orders sent to one route's queue went five to it and five to a route created later on the
 * same queue, with nothing in the first route's history to say so.
 *
 * Sources every route reads in full (an MQTT topic without a share group, a Kafka topic in
 * another group, an AMQP 1.0 topic under another subscription) claim nothing; HTTP paths have
 * their own claims. An HTTP source that checks signatures claims its connection's signing key:
 * a v1 signature does not name the path it was made for (a v2 one does, and claims nothing).
 */
export interface SourceClaim {
  /** Compared between routes: type, connection and the place, as the broker sees it. */
  key: string;
  /** The field that names the place, for the problem's pointer. */
  pointer: string;
  /** The place in words, for the message. */
  place: string;
  /** Why two routes may not share it (see SourcePlaceClaim.why). */
  why?: string;
}

/** The claim of a route's source, as its protocol makes it (see ProtocolSourceSpec.claim). */
export function sourceClaim(
  protocols: RouteProtocols,
  routeId: string,
  document: RouteSpec,
): SourceClaim | undefined {
  const s = document.source as unknown as Record<string, unknown>;
  if (typeof s.connection !== 'string') return undefined;
  const found = protocols[String(s.type)]?.source?.claim?.(s, routeId);
  return (
    found && {
      key: JSON.stringify([s.type, s.connection, ...found.parts]),
      pointer: `/source${found.pointer}`,
      place: found.place,
      ...(found.why ? { why: found.why } : {}),
    }
  );
}
