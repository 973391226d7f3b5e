import Ajv2020 from 'ajv/dist/2020';
import type { IPublishPacket } from 'mqtt';
import { mqttSettings } from './mqtt-client';
import { mqttLegacySourceClientId, mqttSourceClientId } from './mqtt.factory';
import {
  checkMqttDestination,
  mqttConnector,
  mqttEgressTargets,
  mqttEmbeddedSecretProblems,
  topicFilterProblem,
  topicMatchesFilter,
  topicNameProblem,
} from './mqtt.protocol';
import { inboundMessage } from './mqtt.source';

describe('mqtt topics', () => {
  it.each([
    ['orders/eu', undefined],
    ['', 'must not be empty'],
    ['orders/+', 'must not contain the wildcards'],
    ['orders/#', 'must not contain the wildcards'],
    ['$SYS/x', 'must not start with $'],
  ])('topic name %j', (topic, problem) => {
    if (problem === undefined) expect(topicNameProblem(topic)).toBeUndefined();
    else expect(topicNameProblem(topic)).toContain(problem);
  });

  it.each([
    ['devices/+/telemetry', undefined],
    ['#', undefined],
    ['a/#', undefined],
    ['+', undefined],
    ['a/#/b', '# must be a whole level, and the last one'],
    ['a/b#', '# must be a whole level'],
    ['a/b+/c', '+ must be a whole level'],
    ['$share/g/a', 'give the group in shareGroup'],
  ])('topic filter %j', (filter, problem) => {
    if (problem === undefined) expect(topicFilterProblem(filter)).toBeUndefined();
    else expect(topicFilterProblem(filter)).toContain(problem);
  });

  it('wants exactly one of topic and topicExpression on a destination', () => {
    const problems: string[] = [];
    const report = (pointer: string, message: string) => problems.push(`${pointer} ${message}`);
    checkMqttDestination({ type: 'mqtt', connection: 'm' }, report);
    checkMqttDestination(
      { type: 'mqtt', connection: 'm', topic: 'a', topicExpression: '"b"' },
      report,
    );
    checkMqttDestination({ type: 'mqtt', connection: 'm', topic: '$x' }, report);
    expect(problems).toEqual([
      ' needs topic or topicExpression',
      ' give topic or topicExpression, not both',
      '/topic must not start with $ (reserved for the broker)',
    ]);
  });
});

describe('mqtt source sessions', () => {
  const spec = { type: 'mqtt' as const, connection: 'm', topic: 'a/+' };

  const key = Buffer.from('a key of the gateway');

  it('keeps a client id per route, node and subscription', () => {
    const id = mqttSourceClientId(spec, 'orders', key, 'gw-1');
    expect(id).toMatch(/^junction-orders-gw-1-[0-9a-f]{16}$/);
    expect(mqttSourceClientId(spec, 'orders', key, 'gw-1')).toBe(id);
    expect(mqttSourceClientId(spec, 'orders', key, 'gw-2')).not.toBe(id);
    expect(mqttSourceClientId({ ...spec, topic: 'b/+' }, 'orders', key, 'gw-1')).not.toBe(id);
    expect(mqttSourceClientId({ ...spec, shareGroup: 'g' }, 'orders', key, 'gw-1')).not.toBe(id);
    expect(mqttSourceClientId({ ...spec, clientId: 'mine' }, 'orders', key, 'gw-1')).toBe('mine');
    expect(mqttSourceClientId(spec, 'orders', key, 'host name/ü')).toMatch(
      /^junction-orders-host-name--/,
    );
  });

  it('keys the client id: not computable from route, node and topic alone', () => {
    const id = mqttSourceClientId(spec, 'orders', key, 'gw-1');
    expect(mqttSourceClientId(spec, 'orders', Buffer.from('another key'), 'gw-1')).not.toBe(id);
    // Not the former, guessable id (its session is drained and ended, not resumed).
    const legacy = mqttLegacySourceClientId(spec, 'orders', 'gw-1');
    expect(legacy).toMatch(/^junction-orders-gw-1-[0-9a-f]{8}$/);
    expect(id).not.toBe(legacy);
    expect(mqttLegacySourceClientId({ ...spec, clientId: 'mine' }, 'orders', 'gw-1')).toBe(
      undefined,
    );
    expect(() => mqttSourceClientId(spec, 'orders', undefined, 'gw-1')).toThrow(/no key/);
  });

  it('matches topics against filters', () => {
    expect(topicMatchesFilter('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatchesFilter('a/+/c', 'a/b/d')).toBe(false);
    expect(topicMatchesFilter('a/#', 'a')).toBe(true);
    expect(topicMatchesFilter('a/#', 'a/b/c')).toBe(true);
    expect(topicMatchesFilter('a/+', 'a/b/c')).toBe(false);
    expect(topicMatchesFilter('a/b', 'a/b/c')).toBe(false);
    expect(topicMatchesFilter('#', '$SYS/x')).toBe(false);
    expect(topicMatchesFilter('+/x', '$SYS/x')).toBe(false);
  });

  it('turns a PUBLISH into a message: user properties, topic, retain, DUP', () => {
    const packet = {
      cmd: 'publish',
      topic: 'devices/7/status',
      payload: Buffer.from([1, 2]),
      qos: 1,
      dup: true,
      retain: true,
      messageId: 3,
      properties: { userProperties: { 'junction-id': 'm-1', tag: ['a', 'b'] } },
    } as IPublishPacket;
    expect(inboundMessage(packet)).toEqual({
      id: 'm-1',
      headers: {
        'junction-id': 'm-1',
        tag: 'a, b',
        'mqtt-topic': 'devices/7/status',
        'mqtt-retain': 'true',
      },
      payload: Buffer.from([1, 2]),
      source: { type: 'mqtt', name: 'devices/7/status' },
      redelivered: true,
    });
  });
});

describe('mqtt connections', () => {
  it('reads URL, user, password secret and protocol version', () => {
    const settings = mqttSettings({
      name: 'm',
      config: { url: 'mqtts://broker.example.com', username: 'u', protocolVersion: '3.1.1' },
      secrets: { password: 'p' },
    });
    expect(settings).toMatchObject({
      host: 'broker.example.com',
      port: 8883,
      tls: true,
      username: 'u',
      password: 'p',
      protocolVersion: 4,
      safeUrl: 'mqtts://broker.example.com',
    });
    expect(() => mqttSettings({ name: 'm', config: { url: 'amqp://x' }, secrets: {} })).toThrow(
      /mqtt:\/\/ or mqtts:\/\//,
    );
  });

  it('names its egress target and refuses credentials in the URL', () => {
    expect(mqttEgressTargets({ url: 'mqtt://10.0.0.1' })).toEqual([
      { host: '10.0.0.1', port: 1883, pointer: '/config/url' },
    ]);
    expect(mqttEmbeddedSecretProblems({ url: 'mqtt://u:p@h:1883' })).toEqual([
      expect.objectContaining({ pointer: '/config/url' }),
    ]);
    expect(mqttEmbeddedSecretProblems({ url: 'mqtt://h:1883' })).toEqual([]);
  });
});

describe('mqtt plugin', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const sourceFields = mqttConnector.source!;
  const destinationFields = mqttConnector.destination!;
  const side = (fields: typeof sourceFields | typeof destinationFields) =>
    ajv.compile({
      type: 'object',
      required: ['type', ...fields.required],
      additionalProperties: false,
      properties: { type: { const: 'mqtt' }, when: { type: 'string' }, ...fields.properties },
    });

  it('describes every field, with examples that pass its own schema', () => {
    for (const fields of [sourceFields, destinationFields]) {
      expect(side(fields)(fields.example)).toBe(true);
      for (const [name, schema] of Object.entries(fields.properties)) {
        expect({ name, description: typeof schema.description }).toEqual({
          name,
          description: 'string',
        });
        const examples = (schema.examples ?? []) as unknown[];
        expect({ name, examples: examples.length > 0 }).toEqual({ name, examples: true });
        const check = ajv.compile(schema);
        for (const example of examples)
          expect({ name, example, ok: check(example) }).toMatchObject({ ok: true });
      }
    }
    const config = ajv.compile(mqttConnector.connection.configSchema);
    expect(
      config({ url: 'mqtts://broker.example.com:8883', username: 'u', protocolVersion: '5' }),
    ).toBe(true);
    expect(config({ url: 'mqtt://u:p@h' })).toBe(true); // refused by embeddedSecretProblems instead
    expect(config({ url: 'http://h' })).toBe(false);
  });

  it('refuses shared groups and topics the broker would', () => {
    const source = side(sourceFields);
    expect(source({ type: 'mqtt', connection: 'm', topic: 'a', shareGroup: 'a/b' })).toBe(false);
    expect(source({ type: 'mqtt', connection: 'm', topic: 'a', qos: 2 })).toBe(false);
    const destination = side(destinationFields);
    expect(destination({ type: 'mqtt', connection: 'm', topic: 'a/#' })).toBe(false);
    expect(destination({ type: 'mqtt', connection: 'm', topic: 'a/b', qos: 2, retain: true })).toBe(
      true,
    );
  });

  it('loads MQTT.js only through load()', () => {
    expect(Object.keys(mqttConnector.load()).sort()).toEqual([
      'createDestination',
      'createSource',
      'probe',
    ]);
  });
});
