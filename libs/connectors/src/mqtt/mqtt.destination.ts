import type { IClientPublishOptions } from 'mqtt';
import { InFlight } from '../backoff';
import {
  ConnectorError,
  type DeliveryReceipt,
  type Destination,
  type OutboundMessage,
} from '../connector';
import { mqttConnectorError, type MqttPublisher } from './mqtt-client';
import {
  MQTT_ID_PROPERTY,
  mqttTextProblem,
  topicNameProblem,
  type MqttDestinationSpec,
} from './mqtt.protocol';

export interface MqttDestinationOptions {
  /** Longest a send waits for the broker's PUBACK or PUBCOMP (reconnects included). */
  publishTimeoutMs: number;
}

/**
 * Publishes through the connection's shared client to the spec's topic, or to the topic the
 * route's `topicExpression` gave the message (`routingKey`). QoS 1 resolves on PUBACK, QoS 2 on
 * PUBCOMP, QoS 0 once written to the socket. MQTT 5 carries the id (user property `junction-id`),
 * the headers and the spec's static headers as user properties, and `application/json` as content
 * type; MQTT 3.1.1 carries the topic and the payload only. A PUBACK with an MQTT 5 error reason
 * (not authorized, topic invalid) rejects the send for good; a lost connection or the time limit
 * for a retry.
 */
export class MqttDestination implements Destination {
  private readonly inFlight = new InFlight();
  private closed = false;

  constructor(
    private readonly publisher: MqttPublisher,
    private readonly spec: MqttDestinationSpec,
    private readonly options: MqttDestinationOptions,
  ) {
    if ((spec.topic === undefined) === (spec.topicExpression === undefined))
      throw new ConnectorError(
        'REJECTED',
        'mqtt destination: give topic or topicExpression (one of them)',
        false,
      );
    const problem = spec.topic === undefined ? undefined : topicNameProblem(spec.topic);
    if (problem)
      throw new ConnectorError(
        'REJECTED',
        `mqtt destination topic ${spec.topic}: ${problem}`,
        false,
      );
    for (const [key, value] of Object.entries(spec.headers ?? {})) {
      const why = mqttTextProblem(key) ?? mqttTextProblem(value);
      if (why)
        throw new ConnectorError('REJECTED', `mqtt destination header '${key}': ${why}`, false);
    }
  }

  send(message: OutboundMessage): Promise<DeliveryReceipt> {
    if (this.closed)
      return Promise.reject(new ConnectorError('CLOSED', 'mqtt destination is closed', false));
    return this.inFlight.track(this.publish(message));
  }

  /** Waits for sends in flight; the client belongs to the connection and stays. */
  async close(): Promise<void> {
    this.closed = true;
    await this.inFlight.settled();
  }

  private async publish(message: OutboundMessage): Promise<DeliveryReceipt> {
    const topic = this.spec.topic ?? message.routingKey;
    if (topic === undefined)
      throw new ConnectorError('REJECTED', 'mqtt publish: the route gave no topic', false);
    const problem = topicNameProblem(topic);
    if (problem)
      throw new ConnectorError('REJECTED', `mqtt publish: topic '${topic}' ${problem}`, false);
    const qos = this.spec.qos ?? 1;
    const where = `mqtt publish to ${topic}`;
    const { client, settings } = this.publisher;
    if (this.publisher.isClosed)
      throw new ConnectorError('CLOSED', `${where}: client closed`, false);
    const options: IClientPublishOptions = { qos, retain: this.spec.retain ?? false };
    if (settings.protocolVersion === 5) {
      const userProperties = {
        ...this.spec.headers,
        ...message.headers,
        [MQTT_ID_PROPERTY]: message.id,
      };
      // A header from any source (a tab in an HTTP header, anything in an AMQP one) that the
      // broker would take for a malformed packet fails this message, not the connection.
      for (const [key, value] of Object.entries(userProperties)) {
        const why = mqttTextProblem(key) ?? mqttTextProblem(value);
        if (why)
          throw new ConnectorError(
            'REJECTED',
            `${where}: header '${key}' cannot be a user property: its ${mqttTextProblem(key) ? 'name' : 'value'} ${why}`,
            false,
          );
      }
      options.properties = { contentType: 'application/json', userProperties };
    }
    const timeoutMs = this.options.publishTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ConnectorError(
              'TIMEOUT',
              `${where}: no ${qos === 2 ? 'PUBCOMP' : qos === 1 ? 'PUBACK' : 'write'} within ${timeoutMs} ms${client.connected ? '' : ' (not connected)'}`,
              true,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      // A publish that outlives the deadline stays queued in the client and may still go out:
      // at least once allows the copy the retry makes.
      const sent = client.publishAsync(topic, message.body, options);
      sent.catch(() => undefined);
      await Promise.race([sent, deadline]);
      return { kind: 'mqtt', topic, qos };
    } catch (err) {
      throw mqttConnectorError(err, where);
    } finally {
      clearTimeout(timer);
    }
  }
}
