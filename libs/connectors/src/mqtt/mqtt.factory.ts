import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
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
 * The session of a route's source: `junction-<route>-<node>-<hash of the subscription>`. The hash
 * gives a route whose topic or group changed a new session, instead of one still subscribed to
 * the old filter too (MQTT cannot list a session's subscriptions to clean them up).
 */
export function mqttSourceClientId(
  spec: MqttSourceSpec,
  routeId: string,
  nodeName?: string,
): string {
  if (spec.clientId) return spec.clientId;
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
        clientId: mqttSourceClientId(spec, route.routeId, context.options.nodeName),
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
