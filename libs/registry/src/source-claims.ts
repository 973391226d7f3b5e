import type { RouteSpec } from '@junction/connectors';

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
 * their own claims.
 */
export interface SourceClaim {
  /** Compared between routes: type, connection and the place, as the broker sees it. */
  key: string;
  /** The field that names the place, for the problem's pointer. */
  pointer: string;
  /** The place in words, for the message. */
  place: string;
}

export function sourceClaim(routeId: string, document: RouteSpec): SourceClaim | undefined {
  const s = document.source as unknown as Record<string, unknown>;
  const text = (name: string) => (typeof s[name] === 'string' ? (s[name] as string) : undefined);
  const connection = text('connection');
  if (connection === undefined) return undefined;
  const claim = (pointer: string, place: string, ...parts: string[]) => ({
    key: JSON.stringify([s.type, connection, ...parts]),
    pointer,
    place,
  });
  switch (s.type) {
    case 'amqp': {
      const queue = text('queue');
      return queue === undefined ? undefined : claim('/source/queue', `queue ${queue}`, queue);
    }
    case 'kafka': {
      const topic = text('topic');
      if (topic === undefined) return undefined;
      const group = text('groupId') ?? `junction.${routeId}`;
      const pointer = s.groupId === undefined ? '/source/topic' : '/source/groupId';
      return claim(pointer, `topic ${topic} in consumer group ${group}`, topic, group);
    }
    case 'amqp10': {
      const address = text('address');
      if (address === undefined) return undefined;
      if (s.capability !== 'topic')
        return claim('/source/address', `address ${address}`, 'queue', address);
      const subscription = text('subscription') ?? `junction.${routeId}`;
      return claim(
        s.subscription === undefined ? '/source/address' : '/source/subscription',
        `subscription ${subscription} of topic ${address}`,
        'topic',
        address,
        subscription,
      );
    }
    case 'mqtt': {
      const topic = text('topic');
      const group = text('shareGroup');
      if (topic === undefined || group === undefined) return undefined;
      return claim('/source/shareGroup', `$share/${group}/${topic}`, topic, group);
    }
    default:
      return undefined;
  }
}
