import { compileRoute, envelopeOf, testResources, validateRoute } from '@junction/pipeline';
import { CONNECTORS } from '../connectors';

/** MQTT in route documents: the schema and checks the plugin gives the engine, and the topic expression. */
const resources = testResources({ protocols: CONNECTORS });

const route = (source: unknown, destination: unknown) => ({
  id: 'telemetry',
  source,
  destinations: [destination],
});
const source = { type: 'mqtt', connection: 'mosquitto', topic: 'devices/+/telemetry' };
const destination = { type: 'mqtt', connection: 'mosquitto', topic: 'alerts' };

async function problemsOf(doc: unknown): Promise<string[]> {
  return (await validateRoute(doc, resources)).map((p) => `${p.pointer || '/'}: ${p.message}`);
}

describe('mqtt routes', () => {
  it('accepts an MQTT source and destination, with a share group and QoS 2 publishing', async () => {
    expect(
      await problemsOf(
        route(
          { ...source, shareGroup: 'junction', qos: 1, prefetch: 50 },
          { ...destination, qos: 2, retain: true, headers: { 'x-from': 'junction' } },
        ),
      ),
    ).toEqual([]);
  });

  it.each<[string, unknown, unknown, string[]]>([
    [
      'a # that is not the last level',
      { ...source, topic: 'devices/#/x' },
      destination,
      ['/source/topic: # must be a whole level, and the last one'],
    ],
    [
      'a share group written into the topic',
      { ...source, topic: '$share/g/devices' },
      destination,
      [
        '/source/topic: must not start with $share/: give the group in shareGroup and the filter here',
      ],
    ],
    ['QoS 2 on a source', { ...source, qos: 2 }, destination, ['/source/qos: must be one of 0, 1']],
    [
      'no topic on a destination',
      source,
      { type: 'mqtt', connection: 'mosquitto' },
      ['/destinations/0: needs topic or topicExpression'],
    ],
    [
      'both topics on a destination',
      source,
      { ...destination, topicExpression: '"a"' },
      ['/destinations/0: give topic or topicExpression, not both'],
    ],
    [
      'a wildcard in a destination topic',
      source,
      { ...destination, topic: 'alerts/#' },
      ['/destinations/0/topic: must match ^[^$+#][^+#]*$'],
    ],
  ])('%s', async (_name, src, dest, expected) => {
    expect(await problemsOf(route(src, dest))).toEqual(expected);
  });

  it('reports a topic expression that does not compile at its field', async () => {
    const problems = await problemsOf(
      route(source, { type: 'mqtt', connection: 'mosquitto', topicExpression: '"a" &' }),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^\/destinations\/0\/topicExpression: /);
  });

  it('gives each message the topic its expression computes', async () => {
    const compiled = await compileRoute(
      route(source, {
        type: 'mqtt',
        connection: 'mosquitto',
        topicExpression: '"alerts/" & $lowercase(site) & "/" & $headers."mqtt-topic"',
      }),
      resources,
    );
    const result = await compiled.run(
      envelopeOf({ site: 'HAM' }, { 'mqtt-topic': 'devices/7/telemetry' }),
    );
    expect(result.outcome).toBe('deliver');
    if (result.outcome !== 'deliver') return;
    expect(result.deliveries.map((d) => d.routingKey)).toEqual(['alerts/ham/devices/7/telemetry']);
  });

  it('describes itself for the CLI and the audit trail', () => {
    const plugin = CONNECTORS.mqtt;
    expect(plugin.describeSource!({ ...source, type: 'mqtt', shareGroup: 'g' })).toBe(
      'mqtt mosquitto topic $share/g/devices/+/telemetry',
    );
    expect(plugin.describeReceipt!({ kind: 'mqtt', topic: 'alerts/x', qos: 1 })).toBe(
      'mqtt:alerts/x',
    );
  });
});
