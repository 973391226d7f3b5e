import { placeAt, type JsonSchema } from '@junction/pipeline';
import type { ConnectorPlugin, ConnectionTarget } from '../plugin';
import { CONNECTION_FIELD, tlsConfigSchema, urlTarget } from '../spec-fields';
import type { MqttPoolOptions } from './mqtt.factory';

/**
 * MQTT, the pure part of the plugin: specs, schemas (with descriptions and examples), cross-field
 * checks and egress targets. No MQTT.js here: the client code is in mqtt.factory.ts.
 */

export interface MqttSourceSpec {
  type: 'mqtt';
  connection: string;
  /** Topic filter; `+` and `#` wildcards allowed. */
  topic: string;
  /** Subscribe as `$share/<shareGroup>/<topic>`: processes of one group split the messages. */
  shareGroup?: string;
  qos?: 0 | 1;
  /** Most messages in the gateway's hands at once (MQTT 5: the receive maximum). */
  prefetch?: number;
  /** The session's client id; default `junction-<route id>-<node name>-<secret>` (see mqttSourceClientId). */
  clientId?: string;
}

export interface MqttDestinationSpec {
  type: 'mqtt';
  connection: string;
  /** Fixed topic; or `topicExpression`. */
  topic?: string;
  /** JSONata expression giving the topic per message. */
  topicExpression?: string;
  qos?: 0 | 1 | 2;
  retain?: boolean;
  /** Static user properties (MQTT 5). */
  headers?: Record<string, string>;
  when?: string;
}

/** What the broker confirmed: the topic (computed, for topicExpression) and the QoS it was sent with. */
export interface MqttReceipt {
  kind: 'mqtt';
  topic: string;
  qos: 0 | 1 | 2;
}

/** Default ports by URL scheme. */
export const MQTT_DEFAULT_PORTS: Record<string, number> = { mqtt: 1883, mqtts: 8883 };

/** Header (MQTT 5 user property) carrying the message id, as on Kafka. */
export const MQTT_ID_PROPERTY = 'junction-id';
/** Headers the source adds: the topic a message came on (wildcards), and whether it was retained. */
export const MQTT_TOPIC_HEADER = 'mqtt-topic';
export const MQTT_RETAIN_HEADER = 'mqtt-retain';

/** Why `topic` cannot be published to, or undefined (MQTT 3.1.1 and 5, section 4.7). */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'must not be empty';
  if (Buffer.byteLength(topic, 'utf8') > 65535) return 'must be at most 65535 bytes';
  if (/[+#]/.test(topic)) return 'must not contain the wildcards + or # (they are for filters)';
  if (topic.includes('\u0000')) return 'must not contain NUL';
  if (topic.startsWith('$')) return 'must not start with $ (reserved for the broker)';
  return mqttTextProblem(topic);
}

/**
 * Why a string cannot go in an MQTT packet (a topic, a user property's name or value), or
 * undefined. MQTT 5 (1.5.4) lets a broker take control characters (U+0001 to U+001F, U+007F to
 * U+009F) and non-characters for a malformed packet, and Mosquitto does: it drops the
 * connection, with every route publishing on it, and the retry sends the same packet again. A
 * lone surrogate would go out as U+FFFD: another string than the route made.
 */
export function mqttTextProblem(text: string): string | undefined {
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const name = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f))
      return `must not contain control characters (${name}): MQTT brokers drop the connection`;
    if (code >= 0xd800 && code <= 0xdfff) return `must not contain a lone surrogate (${name})`;
    if ((code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe)
      return `must not contain the non-character ${name}: MQTT brokers drop the connection`;
  }
  return undefined;
}

/** Why `filter` is not a valid subscription filter, or undefined. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'must not be empty';
  if (Buffer.byteLength(filter, 'utf8') > 65535) return 'must be at most 65535 bytes';
  if (filter.includes('\u0000')) return 'must not contain NUL';
  if (filter.startsWith('$share/'))
    return 'must not start with $share/: give the group in shareGroup and the filter here';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i += 1) {
    const level = levels[i];
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1))
      return '# must be a whole level, and the last one';
    if (level.includes('+') && level !== '+') return '+ must be a whole level';
  }
  return mqttTextProblem(filter);
}

/** Whether a topic matches a (valid) filter: `+` one level, `#` the rest (MQTT 4.7.1). */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  const want = filter.split('/');
  const have = topic.split('/');
  // Wildcards in the first level do not match topics starting with $ (4.7.2).
  if (topic.startsWith('$') && (want[0] === '+' || want[0] === '#')) return false;
  for (let i = 0; i < want.length; i += 1) {
    if (want[i] === '#') return true;
    if (i >= have.length || (want[i] !== '+' && want[i] !== have[i])) return false;
  }
  return want.length === have.length;
}

export const MQTT_CONNECTION_CONFIG_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    url: {
      type: 'string',
      pattern: '^mqtts?://[^/?#]+/?$',
      description:
        'Broker URL, mqtt:// or mqtts:// (TLS), without user or password (username goes in config, the password in secrets.password).',
      examples: ['mqtt://127.0.0.1:1883', 'mqtts://broker.example.com:8883'],
    },
    username: {
      type: 'string',
      minLength: 1,
      description: 'User name; its password goes in secrets.password.',
      examples: ['junction'],
    },
    protocolVersion: {
      enum: ['3.1.1', '5'],
      default: '5',
      description:
        'MQTT protocol. 5 carries headers (user properties) and the message id, and bounds the messages in flight by receive maximum; 3.1.1 carries only topic and payload.',
      examples: ['5'],
    },
    tls: {
      ...tlsConfigSchema('tlsKey'),
      description: 'mqtts: a private CA to trust, a client certificate (key in secrets.tlsKey).',
    },
    keepaliveSeconds: {
      type: 'integer',
      minimum: 5,
      maximum: 3600,
      default: 30,
      description: 'MQTT keep alive: a silent broker is taken for gone after 1.5 times this.',
      examples: [30],
    },
    sessionExpirySeconds: {
      type: 'integer',
      minimum: 60,
      maximum: 4294967295,
      default: 604800,
      description:
        "MQTT 5: how long the broker keeps a stopped source's session and its queued messages (3.1.1 sessions last as long as the broker keeps them).",
      examples: [604800],
    },
  },
};

export const MQTT_SECRET_KEYS = ['password', 'tlsKey'] as const;
export const MQTT_TARGET_FIELDS = ['url', 'username', 'tls'] as const;

/** Where a (valid) config connects to first, for the egress policy. */
export function mqttEgressTargets(config: Record<string, unknown>): ConnectionTarget[] {
  return urlTarget(config.url, '/config/url', MQTT_DEFAULT_PORTS);
}

/** A user or password written into the URL, where it would be stored and shown in plain text. */
export function mqttEmbeddedSecretProblems(
  config: Record<string, unknown>,
): Array<{ pointer: string; message: string }> {
  if (typeof config.url !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(config.url))
    return [];
  return [
    {
      pointer: '/config/url',
      message:
        'must not contain a user or password; put them in config.username and secrets.password',
    },
  ];
}

export const MQTT_SOURCE_FIELDS = {
  description:
    'Subscribe to an MQTT topic filter with a persistent session; QoS 1 messages are acknowledged (PUBACK) only after delivery and audit.',
  required: ['connection', 'topic'],
  properties: {
    connection: { ...CONNECTION_FIELD, examples: ['mosquitto'] },
    topic: {
      type: 'string',
      minLength: 1,
      maxLength: 65535,
      description:
        'Topic filter to subscribe to; + matches one level, # the rest. The topic each message came on is in header mqtt-topic.',
      examples: ['devices/+/telemetry', 'orders/#'],
    },
    shareGroup: {
      type: 'string',
      pattern: '^[^/+#$\\u0000]{1,200}$',
      description:
        'Subscribe as $share/<group>/<topic>: gateway processes running this route split the messages instead of each getting all. Shared subscriptions get no retained messages.',
      examples: ['junction'],
    },
    qos: {
      enum: [0, 1],
      default: 1,
      description:
        '1: at least once, acknowledged only after delivery and audit, redelivered after a crash. 0: at most once (no acknowledgement; lost if the gateway stops with it). QoS 2 is not offered: its PUBREC hands the message over before the route has run.',
      examples: [1],
    },
    prefetch: {
      type: 'integer',
      minimum: 1,
      maximum: 65535,
      default: 20,
      description:
        'Most messages handled at once (MQTT 5: the receive maximum the broker honours; 3.1.1: the rest wait in the gateway, unacknowledged). 1 keeps the order.',
      examples: [20],
    },
    clientId: {
      type: 'string',
      pattern: '^[A-Za-z0-9._:-]{1,128}$',
      description:
        "The session's client id. Default: junction-<route id>-<node name>-<secret>, the secret an HMAC of route, node, topic and group under a key of the gateway, so that no other client of the broker can compute it and take the session over; the same after a restart (so the session and its unacknowledged messages are picked up again) and different in each gateway process. One set here is taken as written: anyone who knows it can take the session over unless the broker binds it to the gateway's account. Set it only with one process.",
      examples: ['junction-telemetry'],
    },
  } as Record<string, JsonSchema>,
  example: {
    type: 'mqtt',
    connection: 'mosquitto',
    topic: 'devices/+/telemetry',
    shareGroup: 'junction',
  },
};

export const MQTT_DESTINATION_FIELDS = {
  description:
    'Publish to an MQTT topic; QoS 1 resolves on PUBACK, QoS 2 on PUBCOMP, QoS 0 once written.',
  required: ['connection'],
  properties: {
    connection: { ...CONNECTION_FIELD, examples: ['mosquitto'] },
    topic: {
      type: 'string',
      minLength: 1,
      maxLength: 65535,
      pattern: '^[^$+#][^+#]*$',
      description: 'Topic to publish to (no wildcards). Give topic or topicExpression.',
      examples: ['orders/eu'],
    },
    topicExpression: {
      type: 'string',
      minLength: 1,
      description:
        'JSONata expression giving the topic of each message (a string, no wildcards). Give topic or topicExpression.',
      examples: ['"orders/" & $lowercase(country)'],
    },
    qos: {
      enum: [0, 1, 2],
      default: 1,
      description:
        '1: the broker acknowledges (PUBACK); 2: exactly once to the broker (PUBREC/PUBREL/PUBCOMP); 0: fire and forget, for telemetry a loss of which is acceptable.',
      examples: [1],
    },
    retain: {
      type: 'boolean',
      default: false,
      description:
        'Publish retained: the broker keeps the last message of the topic for new subscribers.',
      examples: [false],
    },
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description:
        "Static user properties added to every message (MQTT 5; the message's own headers and its id in junction-id travel too).",
      examples: [{ 'x-source': 'junction' }],
    },
  } as Record<string, JsonSchema>,
  example: {
    type: 'mqtt',
    connection: 'mosquitto',
    topicExpression: '"orders/" & country',
    qos: 1,
  },
  expressions: { routingKey: 'topicExpression' },
  refused: {
    priority:
      'MQTT (3.1.1 and 5) carries no message priority: publish urgent messages to a topic of their own (topicExpression) and give its subscribers the capacity, or use an amqp or amqp10 destination',
  },
};

/** Cross-field checks of a source: the filter's wildcards are whole levels. */
export function checkMqttSource(
  spec: Record<string, unknown>,
  report: (relative: string, message: string) => void,
): void {
  if (typeof spec.topic === 'string') {
    const problem = topicFilterProblem(spec.topic);
    if (problem) report('/topic', problem);
  }
}

/** Cross-field checks of a destination: exactly one of topic and topicExpression. */
export function checkMqttDestination(
  spec: Record<string, unknown>,
  report: (relative: string, message: string) => void,
): void {
  const fixed = spec.topic !== undefined;
  const computed = spec.topicExpression !== undefined;
  if (fixed === computed)
    report(
      '',
      fixed ? 'give topic or topicExpression, not both' : 'needs topic or topicExpression',
    );
  if (typeof spec.topic === 'string') {
    const problem = topicNameProblem(spec.topic);
    if (problem) report('/topic', problem);
  }
}

export function describeMqttSource(spec: MqttSourceSpec): string {
  return `mqtt ${spec.connection} topic ${spec.shareGroup ? `$share/${spec.shareGroup}/` : ''}${spec.topic}`;
}

export function describeMqttDelivery(
  spec: MqttDestinationSpec,
  delivery: { routingKey?: string },
): string {
  return `mqtt ${spec.connection} topic ${delivery.routingKey ?? spec.topic ?? '?'} qos ${spec.qos ?? 1}${spec.retain ? ' retained' : ''}`;
}

export function describeMqttReceipt(receipt: Readonly<Record<string, unknown>>): string {
  return `mqtt:${String(receipt.topic ?? '')}`;
}

/**
 * The MQTT plugin (see plugin.ts): its pure part. `load()` brings MQTT.js in on first use only
 * (a synchronous require, so that the pool's source() and destination() stay synchronous).
 */
export const mqttConnector: ConnectorPlugin<
  MqttSourceSpec,
  MqttDestinationSpec,
  MqttPoolOptions,
  MqttReceipt
> = {
  kind: 'mqtt',
  description:
    'MQTT 3.1.1 and 5 (tested against Mosquitto 2.0): persistent sessions acknowledged after delivery, shared subscriptions, QoS 0/1/2 publishing.',
  connection: {
    configSchema: MQTT_CONNECTION_CONFIG_SCHEMA,
    secretKeys: MQTT_SECRET_KEYS,
    targetFields: MQTT_TARGET_FIELDS,
    egressTargets: mqttEgressTargets,
    embeddedSecretProblems: mqttEmbeddedSecretProblems,
  },
  source: {
    ...MQTT_SOURCE_FIELDS,
    check: checkMqttSource,
    reads: (spec) => placeAt(spec, 'topic'),
    // A plain subscription gets every message; a shared one ($share/<group>/...) one per group.
    claim(spec) {
      const topic = placeAt(spec, 'topic');
      const group = placeAt(spec, 'shareGroup');
      return topic && group
        ? {
            parts: [topic.value, group.value],
            pointer: '/shareGroup',
            place: `$share/${group.value}/${topic.value}`,
          }
        : undefined;
    },
  },
  destination: {
    ...MQTT_DESTINATION_FIELDS,
    check: checkMqttDestination,
    writes: (spec) => placeAt(spec, 'topic'),
  },
  describeSource: describeMqttSource,
  describeDelivery: (spec, delivery) => describeMqttDelivery(spec, delivery),
  describeReceipt: describeMqttReceipt,
  load: () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
    (require('./mqtt.factory') as typeof import('./mqtt.factory')).mqttFactories,
};
