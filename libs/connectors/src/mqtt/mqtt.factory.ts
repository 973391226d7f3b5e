import { createHash, createHmac, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConnectorError } from '../connector';
import type { ConnectorContext, ConnectorFactories } from '../plugin';
import {
  createMqttClient,
  endClient,
  mqttConnectorError,
  mqttSettings,
  MqttPublisher,
  type MqttClientOptions,
} from './mqtt-client';
import { MqttDestination } from './mqtt.destination';
import type { MqttDestinationSpec, MqttSourceSpec } from './mqtt.protocol';
import { MqttSource } from './mqtt.source';

export type MqttPoolOptions = Omit<MqttClientOptions, 'egress'> & {
  /**
   * This gateway process's name in MQTT client ids: stable across restarts (a restarted process
   * resumes its sessions) and different per process (two processes never take each other's
   * session). Default: the host name.
   */
  nodeName?: string;
  /**
   * Keys the secret part of the sources' client ids (HMAC-SHA256): the same after a restart (a
   * restarted process resumes its sessions), secret (so no other client of the broker can compute
   * a route's client id and take its session over), and derived for this purpose alone (a client
   * id tells nothing about other keys). Needed by every source without a `clientId` of its own.
   */
  clientIdKey?: Buffer;
  /**
   * How long a source waits, with nothing more coming and nothing in hand, before it ends the
   * session of its former client id (see mqttLegacySourceClientId). Default 2 s.
   */
  legacyDrainIdleMs?: number;
  /** How long a source's `start()` waits to be connected and subscribed. Default 30 s. */
  startTimeoutMs?: number;
  /** How long a send waits for PUBACK / PUBCOMP. Default 10 s. */
  publishTimeoutMs?: number;
  /** Most payload bytes of QoS 0 messages a source holds while its route is behind. Default 64 MiB. */
  qos0WaitingBytes?: number;
};

/** Client ids allow any UTF-8 in MQTT 5 and Mosquitto, but brokers limited to 3.1's set exist. */
function idPart(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '-');
}

/**
 * The session of a route's source: `junction-<route>-<node>-<secret>`, the secret an HMAC of the
 * route, node, topic and group keyed with `key`: without the key nobody can compute it, so
 * nobody can connect with it and take the session (and its messages) over. It changes with the
 * topic or group: a route whose subscription changed gets a new session, instead of one still
 * subscribed to the old filter too (MQTT cannot list a session's subscriptions to clean them up).
 * A route's own `clientId` is taken as written.
 */
export function mqttSourceClientId(
  spec: MqttSourceSpec,
  routeId: string,
  key: Buffer | undefined,
  nodeName?: string,
): string {
  if (spec.clientId) return spec.clientId;
  if (!key?.length)
    throw new ConnectorError(
      'REJECTED',
      `mqtt source of route ${routeId}: no key for its client id (the pool's mqtt.clientIdKey), and no clientId of its own`,
      false,
    );
  const node = nodeName ?? hostname();
  const secret = createHmac('sha256', key)
    .update(JSON.stringify([routeId, node, spec.topic, spec.shareGroup ?? null]))
    .digest('hex')
    // 64 bits: out of reach of guessing by connecting, and the id only 8 characters longer.
    .slice(0, 16);
  return `junction-${idPart(routeId)}-${idPart(node)}-${secret}`;
}

/**
 * The client id sources had before it was keyed: `junction-<route>-<node>-<hash of topic and
 * group>`, which anyone who knows the route, the node name and the topic can compute. Its session
 * may still hold messages queued before the upgrade: a source drains it once, then ends it.
 * Undefined for a route with a `clientId` of its own (it did not change).
 */
export function mqttLegacySourceClientId(
  spec: MqttSourceSpec,
  routeId: string,
  nodeName?: string,
): string | undefined {
  if (spec.clientId) return undefined;
  const subscription = createHash('sha256')
    .update(JSON.stringify([spec.topic, spec.shareGroup ?? null]))
    .digest('hex')
    .slice(0, 8);
  return `junction-${idPart(routeId)}-${idPart(nodeName ?? hostname())}-${subscription}`;
}

function clientOptions(context: ConnectorContext<MqttPoolOptions>): MqttClientOptions {
  const { connectTimeoutMs, reconnectPeriodMs } = context.options;
  return { connectTimeoutMs, reconnectPeriodMs, egress: context.egress };
}

/** The MQTT.js side of the MQTT plugin: a session per source, a publishing client per connection. */
export const mqttFactories: ConnectorFactories<
  MqttSourceSpec,
  MqttDestinationSpec,
  MqttPoolOptions
> = {
  createSource(spec, connection, context, route) {
    mqttSettings(connection); // a bad connection fails here, not at start
    return new MqttSource(
      connection,
      spec,
      {
        routeId: route.routeId,
        clientId: mqttSourceClientId(
          spec,
          route.routeId,
          context.options.clientIdKey,
          context.options.nodeName,
        ),
        legacyClientId: mqttLegacySourceClientId(spec, route.routeId, context.options.nodeName),
        legacyDrainIdleMs: context.options.legacyDrainIdleMs ?? 2_000,
        startTimeoutMs: context.options.startTimeoutMs ?? 30_000,
        qos0WaitingBytes: context.options.qos0WaitingBytes,
        client: clientOptions(context),
      },
      context.logger,
    );
  },

  createDestination(spec, connection, context) {
    const publisher = context.shared(
      connection,
      () =>
        new MqttPublisher(
          connection,
          `junction-pub-${idPart(context.options.nodeName ?? hostname())}-${randomUUID().slice(0, 8)}`,
          clientOptions(context),
          context.logger,
        ),
    );
    return new MqttDestination(publisher, spec, {
      publishTimeoutMs: context.options.publishTimeoutMs ?? 10_000,
    });
  },

  /** Connects once (CONNACK accepted) and disconnects. */
  async probe(connection, { timeoutMs, egress }, opened) {
    const settings = mqttSettings(connection);
    const client = createMqttClient(
      settings,
      { clientId: `junction-probe-${randomUUID().slice(0, 8)}`, persistent: false },
      { connectTimeoutMs: timeoutMs, reconnectPeriodMs: 0, egress },
    );
    opened(() => endClient(client));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (err) => reject(mqttConnectorError(err, `mqtt ${settings.safeUrl}`)));
      client.once('close', () =>
        reject(mqttConnectorError(new Error('connection closed'), `mqtt ${settings.safeUrl}`)),
      );
    });
  },
};
