import { CONNECTORS, type RouteSpec } from './connectors';
import { sourceClaim } from './source-claims';

const route = (source: Record<string, unknown>) =>
  ({ id: 'r', source, destinations: [{ type: 'log' }] }) as unknown as RouteSpec;

const claim = (id: string, source: Record<string, unknown>) =>
  sourceClaim(CONNECTORS, id, route(source));
const key = (id: string, source: Record<string, unknown>) => claim(id, source)?.key;

describe('where a source takes messages no other route may take', () => {
  it('an AMQP queue, whatever reads it', () => {
    const q = { type: 'amqp', connection: 'rabbit', queue: 'orders' };
    expect(key('a', q)).toBe(key('b', { ...q, prefetch: 5 }));
    expect(key('a', q)).not.toBe(key('b', { ...q, connection: 'other' }));
    expect(claim('a', q)).toMatchObject({ pointer: '/source/queue' });
  });

  it('a Kafka topic per consumer group (by default one group per route)', () => {
    const t = { type: 'kafka', connection: 'kafka', topic: 'orders' };
    expect(key('a', t)).not.toBe(key('b', t));
    expect(key('a', t)).toBe(key('b', { ...t, groupId: 'junction.a' }));
    expect(claim('a', t)).toMatchObject({ pointer: '/source/topic' });
  });

  it('an AMQP 1.0 queue, or a topic per subscription', () => {
    const q = { type: 'amqp10', connection: 'artemis', address: 'orders' };
    expect(key('a', q)).toBe(key('b', { ...q, capability: 'queue' }));
    const t = { ...q, capability: 'topic' };
    expect(key('a', t)).not.toBe(key('b', t));
    expect(key('a', t)).toBe(key('b', { ...t, subscription: 'junction.a' }));
    expect(key('a', t)).not.toBe(key('a', q));
    expect(claim('a', { ...t, subscription: 's' })).toEqual({
      key: JSON.stringify(['amqp10', 'artemis', 'topic', 'orders', 's']),
      pointer: '/source/subscription',
      place: 'subscription s of topic orders',
    });
  });

  it('an MQTT shared subscription only; plain subscriptions and HTTP paths claim nothing here', () => {
    const m = { type: 'mqtt', connection: 'mosquitto', topic: 'orders/#' };
    expect(key('a', m)).toBeUndefined();
    expect(key('a', { ...m, shareGroup: 'g' })).toBe(key('b', { ...m, shareGroup: 'g' }));
    expect(key('a', { ...m, shareGroup: 'g' })).not.toBe(key('b', { ...m, shareGroup: 'h' }));
    expect(claim('a', { ...m, shareGroup: 'g' })).toMatchObject({
      pointer: '/source/shareGroup',
      place: '$share/g/orders/#',
    });
    expect(key('a', { type: 'http', path: 'orders', auth: 'none' })).toBeUndefined();
    expect(key('a', { type: 'http', path: 'orders' })).toBeUndefined();
    // A protocol that makes no claim (or none known) claims nothing.
    expect(sourceClaim({}, 'a', route(m))).toBeUndefined();
  });

  it("an HTTP source checking signatures: its connection's signing key, whatever the path", () => {
    const signed = { type: 'http', path: 'orders', auth: 'hmac', connection: 'partner' };
    expect(key('a', signed)).toBe(key('b', { ...signed, path: 'orders/cancel', mode: 'sync' }));
    expect(key('a', signed)).not.toBe(key('b', { ...signed, connection: 'other-partner' }));
    expect(claim('a', signed)).toMatchObject({
      pointer: '/source/connection',
      why: expect.stringContaining('a v1 signature does not name the path'),
    });
    // A v2 signature names the path: v2 routes claim no key, and share one.
    expect(key('a', { ...signed, signature: 'v2' })).toBeUndefined();
    expect(key('a', { ...signed, signature: 'v1' })).toBe(key('b', signed));
  });
});
