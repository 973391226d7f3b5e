// The engine's own specs check it against the real protocol map (see eslint.config.mjs).
import { CONNECTORS } from '@junction/connectors';
import { validateRoute } from '../compile';
import { testResources } from '../testing';

const resources = testResources({ protocols: CONNECTORS });

async function problemsOf(doc: unknown): Promise<string[]> {
  return (await validateRoute(doc, resources)).map((p) => `${p.pointer || '/'}: ${p.message}`);
}

const LOOP = 'every message would come back to the route and be sent again, without end';

describe('route loops: a destination that writes to its own source', () => {
  it('is refused for kafka, at the destination and at the dead letters', async () => {
    expect(
      await problemsOf({
        id: 'loop',
        source: { type: 'kafka', connection: 'k', topic: 'orders' },
        destinations: [
          { type: 'kafka', connection: 'k', topic: 'orders.out' },
          { type: 'kafka', connection: 'k', topic: 'orders' },
        ],
        errors: { deadLetter: { type: 'kafka', connection: 'k', topic: 'orders' } },
      }),
    ).toEqual([
      `/destinations/1: writes to the route's own source (kafka k topic orders): ${LOOP}`,
      `/errors/deadLetter: writes to the route's own source (kafka k topic orders): ${LOOP}`,
    ]);
  });

  it('is refused for an amqp queue, not for an exchange', async () => {
    const doc = (destination: Record<string, unknown>) => ({
      id: 'loop',
      source: { type: 'amqp', connection: 'rabbit', queue: 'orders.in' },
      destinations: [{ type: 'amqp', connection: 'rabbit', ...destination }],
    });
    expect(await problemsOf(doc({ queue: 'orders.in' }))).toEqual([
      `/destinations/0: writes to the route's own source (amqp rabbit queue orders.in): ${LOOP}`,
    ]);
    expect(await problemsOf(doc({ exchange: 'orders', routingKey: '"in"' }))).toEqual([]);
  });

  it('is refused for an MQTT topic and an AMQP 1.0 address: each protocol names its place', async () => {
    expect(
      await problemsOf({
        id: 'loop',
        source: { type: 'mqtt', connection: 'm', topic: 'orders/eu' },
        destinations: [{ type: 'mqtt', connection: 'm', topic: 'orders/eu' }],
      }),
    ).toEqual([
      `/destinations/0: writes to the route's own source (mqtt m topic orders/eu): ${LOOP}`,
    ]);
    expect(
      await problemsOf({
        id: 'loop',
        source: { type: 'amqp10', connection: 'a', address: 'orders' },
        destinations: [{ type: 'amqp10', connection: 'a', address: 'orders' }],
      }),
    ).toEqual([
      `/destinations/0: writes to the route's own source (amqp10 a address orders): ${LOOP}`,
    ]);
  });

  it('accepts the same name on another connection or of another type', async () => {
    expect(
      await problemsOf({
        id: 'bridge',
        source: { type: 'kafka', connection: 'k', topic: 'orders' },
        destinations: [
          { type: 'kafka', connection: 'other-cluster', topic: 'orders' },
          { type: 'mqtt', connection: 'k', topic: 'orders' },
        ],
      }),
    ).toEqual([]);
  });
});
