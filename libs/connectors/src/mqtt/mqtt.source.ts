import type { IPublishPacket, MqttClient } from 'mqtt';
import { backoffDelay, cancellableSleep, InFlight } from '../backoff';
import {
  ConnectorError,
  type InboundMessage,
  type MessageHandler,
  type Source,
} from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import {
  assertCanAcknowledge,
  createMqttClient,
  endClient,
  endSession,
  mqttConnectorError,
  mqttSettings,
  MqttConnectionWatch,
  brokerHasRead,
  sendPuback,
  type MqttClientOptions,
} from './mqtt-client';
import {
  MQTT_ID_PROPERTY,
  MQTT_RETAIN_HEADER,
  MQTT_TOPIC_HEADER,
  topicFilterProblem,
  topicMatchesFilter,
  type MqttSourceSpec,
} from './mqtt.protocol';
import type { ConnectorConnection } from '../connector';

export interface MqttSourceOptions {
  routeId: string;
  /** The session's client id: the same after a restart, different in each gateway process. */
  clientId: string;
  /**
   * The client id this route's session had before (a guessable one, see
   * mqttLegacySourceClientId): once subscribed, the source takes what that session still holds
   * through the route and then ends it.
   */
  legacyClientId?: string;
  /** How long the drain of the former session waits with nothing coming before it ends it. */
  legacyDrainIdleMs?: number;
  /** Internal: the drain of a former session: resumes it, never subscribes, unsubscribes it. */
  draining?: boolean;
  /** How long `start()` waits for the broker (connected and subscribed). */
  startTimeoutMs: number;
  /** Most payload bytes of QoS 0 messages held waiting for a handler (default 64 MiB). */
  qos0WaitingBytes?: number;
  client: MqttClientOptions;
}

export const DEFAULT_MQTT_PREFETCH = 20;
/** QoS 0 messages held beyond the prefetch; more are dropped (QoS 0 promises no delivery). */
const MAX_WAITING_QOS0 = 10_000;
/**
 * And their payloads' bytes: the broker sends QoS 0 messages as fast as it has them, with no
 * receive maximum, and a route behind a slow destination held 1,000 of 1 MB (1 GB) within
 * seconds; at the count alone, 10,000 of them, or a few of Mosquitto's 256 MB ones, could be held.
 */
export const DEFAULT_QOS0_WAITING_BYTES = 64 * 1024 * 1024;

interface Delivery {
  packet: IPublishPacket;
  /** The connection it came on: an ack goes only on that one. */
  connection: number;
}

/**
 * Subscribes a topic filter (optionally as `$share/<group>/...`) in a persistent session and
 * hands each message to the handler, at most `prefetch` at once. A QoS 1 message is acknowledged
 * (PUBACK) only after its handler resolved, and only on the connection it came on: if that one
 * died, the broker sends the message again (DUP) on the next connection of this session, with the
 * same client id, so nothing is acknowledged that was not handled. A handler that rejects gets the
 * message again here after a short, growing backoff (MQTT has no negative acknowledgement), which
 * keeps the order with prefetch 1. A stop leaves the unfinished ones unacknowledged in the
 * session, for the next start. MQTT 5 messages carry their id and headers in user properties.
 */
export class MqttSource implements Source {
  private client?: MqttClient;
  private watch?: MqttConnectionWatch;
  private handler?: MessageHandler;
  private stopping = false;
  /** Connections made so far; the current one's number. */
  private connection = 0;
  private running = 0;
  private failures = 0;
  private droppedCount = 0;
  /** Payload bytes of the messages in `waiting`. */
  private waitingBytes = 0;
  private readonly qos0WaitingBytes: number;
  private readonly prefetch: number;
  private readonly qos: 0 | 1;
  private readonly filter: string;
  private readonly spec: MqttSourceSpec;
  private readonly inFlight = new InFlight();
  private readonly waiting: Delivery[] = [];
  private readonly backoffs = new Set<{ cancel(): void }>();
  /** Fails a start still waiting for its subscription (a stop came first). */
  private abortStart?: (err: Error) => void;
  /** Draining: whether the broker still had the session. */
  private sessionFound = false;
  /** Draining: told of each message in and each one done, to see the session run dry. */
  private activity?: () => void;
  /** The drain of the former session, running beside this one. */
  private legacy?: { source: MqttSource; done: Promise<void> };
  private stopped?: Promise<void>;

  constructor(
    private readonly stored: ConnectorConnection,
    spec: MqttSourceSpec,
    private readonly options: MqttSourceOptions,
    private readonly logger: ConnectorLogger,
  ) {
    this.prefetch = spec.prefetch ?? DEFAULT_MQTT_PREFETCH;
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1 || this.prefetch > 65535)
      throw new RangeError(`prefetch must be an integer from 1 to 65535, not ${spec.prefetch}`);
    this.qos = spec.qos ?? 1;
    this.qos0WaitingBytes = options.qos0WaitingBytes ?? DEFAULT_QOS0_WAITING_BYTES;
    const problem = topicFilterProblem(spec.topic);
    if (problem)
      throw new ConnectorError('REJECTED', `mqtt source topic ${spec.topic}: ${problem}`, false);
    this.filter = spec.shareGroup ? `$share/${spec.shareGroup}/${spec.topic}` : spec.topic;
    this.spec = spec;
  }

  private get name(): string {
    return `mqtt source ${this.filter} (route ${this.options.routeId})`;
  }

  /** QoS 0 messages dropped so far because the route was behind (more waiting than allowed). */
  get dropped(): number {
    return this.droppedCount;
  }

  async start(handler: MessageHandler): Promise<void> {
    if (this.client) throw new Error(`${this.name}: already started`);
    this.handler = handler;
    this.stopping = false;
    this.stopped = undefined;
    const settings = mqttSettings(this.stored);
    const client = createMqttClient(
      settings,
      {
        clientId: this.options.clientId,
        persistent: true,
        ...(this.qos === 1 ? { receiveMaximum: this.prefetch } : {}),
      },
      this.options.client,
    );
    assertCanAcknowledge(client);
    this.client = client;
    this.watch = new MqttConnectionWatch(
      this.stored.name,
      client,
      `${this.name} on ${settings.safeUrl}`,
      this.logger,
    );
    // Called back at once, so the client goes on reading (other messages, PINGRESP); the
    // acknowledgement is sent by hand once the route is done (see sendPuback).
    client.handleMessage = (packet, callback) => {
      this.onPublish({ packet, connection: this.connection });
      callback(DEFERRED_ACK);
    };
    let subscribed: (() => void) | undefined;
    let failed: ((err: Error) => void) | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      subscribed = resolve;
      failed = reject;
    });
    this.abortStart = failed;
    let sessionWasNew = false;
    client.on('connect', (connack) => {
      this.connection += 1;
      if (this.options.draining) return this.resumed(client, connack.sessionPresent, subscribed);
      if (this.connection === 1) sessionWasNew = !connack.sessionPresent;
      // 3.1.1: a kept session keeps its subscription (subscribing again would resend retained
      // messages). 5: subscribed on every connection; retain handling 1 sends retained messages
      // only when the subscription is new.
      if (connack.sessionPresent && settings.protocolVersion === 4) return subscribed?.();
      client.subscribe(
        this.filter,
        { qos: this.qos, ...(settings.protocolVersion === 5 ? { rh: 1 } : {}) },
        (err, granted) => {
          // SUBACK's granted QoS: 0x80 and up is a refusal (MQTT 5: its reason code).
          const grant = granted?.[0];
          if (err || !grant || grant.qos >= 0x80) {
            const why = err
              ? errorText(err)
              : `the broker refused it (reason ${grant?.qos ?? 'none'})`;
            const error = mqttConnectorError(
              Object.assign(new Error(`subscribe failed: ${why}`), {
                code: err ? (err as { code?: unknown }).code : grant?.qos,
              }),
              this.name,
            );
            this.logger.error(error.message);
            failed?.(error);
            return;
          }
          subscribed?.();
        },
      );
    });
    const timer = setTimeout(
      () =>
        failed?.(
          new ConnectorError(
            'UNREACHABLE',
            `${this.name}: not subscribed within ${this.options.startTimeoutMs} ms${this.watch?.error ? `: ${errorText(this.watch.error)}` : ''}`,
            true,
          ),
        ),
      this.options.startTimeoutMs,
    );
    try {
      await ready;
    } catch (err) {
      await this.close(client);
      throw err;
    } finally {
      clearTimeout(timer);
      subscribed = undefined;
      failed = undefined;
      this.abortStart = undefined;
    }
    // After this session is subscribed: what is published from now on is kept here, so ending
    // the former session loses nothing. Only while this session is new (the first start after
    // the upgrade): once it exists, every message of the topic comes here too, and a session
    // under the former, guessable id holds copies made by whoever subscribed it (any client of
    // the broker may): taking them through the route at each start would deliver each message
    // again, under a new id. (What a stopped first drain left stays there until it expires.)
    const legacyClientId = this.options.legacyClientId;
    if (legacyClientId && legacyClientId !== this.options.clientId && !sessionWasNew)
      this.logger.debug(
        `${this.name}: its session was kept, so the former session is not looked for`,
      );
    else if (legacyClientId && legacyClientId !== this.options.clientId) {
      const source = new MqttSource(
        this.stored,
        this.spec,
        { ...this.options, clientId: legacyClientId, legacyClientId: undefined, draining: true },
        this.logger,
      );
      this.legacy = { source, done: this.drainLegacy(source, handler) };
    }
  }

  /**
   * Draining: a session found is unsubscribed (so it gets nothing new; what it holds still comes,
   * MQTT 3.10.4, as Mosquitto does), and its messages run through the route as any other.
   */
  private resumed(client: MqttClient, found: boolean, ready?: () => void): void {
    if (this.connection > 1) return; // a reconnection: the first connection said it all
    this.sessionFound = found;
    if (!found) return ready?.();
    client.unsubscribe(this.filter, (err) => {
      if (err) this.logger.warn(`${this.name}: unsubscribe failed: ${errorText(err)}`);
      ready?.();
    });
  }

  /**
   * Takes what the former (guessable) session still holds through the route, then ends it: once
   * nothing came and nothing was in hand for `legacyDrainIdleMs`, its acks read by the broker, a
   * clean connection with its client id makes the broker drop it. A failure or a stop leaves it
   * with what it still holds (looked for again only by a start whose own session is new).
   */
  private async drainLegacy(source: MqttSource, handler: MessageHandler): Promise<void> {
    try {
      await source.start(handler);
      if (source.sessionFound) {
        this.logger.info(`${source.name}: taking the messages of the former session`);
        await source.quiet(this.options.legacyDrainIdleMs ?? 2_000);
      }
      // Stopped: the session keeps what it still holds, for the next start.
      if (this.stopping) return;
      await source.stop();
      if (this.stopping) return;
      await endSession(mqttSettings(this.stored), source.options.clientId, this.options.client);
      if (source.sessionFound) this.logger.info(`${source.name}: former session ended`);
    } catch (err) {
      await source.stop().catch(() => undefined);
      if (!this.stopping)
        this.logger.warn(
          `${source.name}: former session not drained, tried again at the next start: ${errorText(err)}`,
        );
    }
  }

  /** Resolves once no message came and none was in hand for `idleMs`, or on stop. */
  private quiet(idleMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.activity = undefined;
        resolve();
      };
      this.activity = () => {
        clearTimeout(timer);
        if (this.stopping) return done();
        if (this.running === 0 && this.waiting.length === 0) timer = setTimeout(done, idleMs);
      };
      this.activity();
    });
  }

  stop(): Promise<void> {
    // Once: the drain of a former session and the route may both stop it.
    this.stopped ??= this.stopNow();
    return this.stopped;
  }

  private async stopNow(): Promise<void> {
    const legacy = this.legacy;
    this.legacy = undefined;
    if (legacy) {
      this.stopping = true;
      await legacy.source.stop();
      await legacy.done;
    }
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    this.activity?.();
    this.abortStart?.(new ConnectorError('CLOSED', `${this.name}: stopped while starting`, false));
    // Not acknowledged: they stay in the session for the next start.
    this.waiting.splice(0);
    this.waitingBytes = 0;
    for (const backoff of this.backoffs) backoff.cancel();
    await this.inFlight.settled();
    // The acks sent last are read by the broker before the DISCONNECT: see brokerHasRead.
    await brokerHasRead(client);
    await this.close(client);
  }

  private async close(client: MqttClient): Promise<void> {
    if (this.watch) this.watch.closing = true;
    // Not forced: the acknowledgements written before go out ahead of the DISCONNECT.
    await endClient(client);
    if (this.client === client) this.client = undefined;
  }

  private onPublish(delivery: Delivery): void {
    if (this.stopping) return; // unacknowledged: the session keeps it
    if (this.running < this.prefetch) return this.run(delivery);
    const bytes = delivery.packet.payload.length;
    if (
      delivery.packet.qos === 0 &&
      (this.waiting.length >= MAX_WAITING_QOS0 || this.waitingBytes + bytes > this.qos0WaitingBytes)
    ) {
      this.droppedCount += 1;
      if (this.droppedCount % 1000 === 1)
        this.logger.warn(
          `${this.name}: QoS 0 messages dropped, the route is behind (${this.droppedCount} so far; at most ${MAX_WAITING_QOS0} messages or ${this.qos0WaitingBytes} bytes wait)`,
        );
      return;
    }
    this.waitingBytes += bytes;
    this.waiting.push(delivery);
  }

  private run(delivery: Delivery): void {
    this.running += 1;
    this.activity?.();
    const done = this.handle(delivery).finally(() => {
      this.running -= 1;
      const next = this.stopping ? undefined : this.waiting.shift();
      if (next) {
        this.waitingBytes -= next.packet.payload.length;
        this.run(next);
      }
      this.activity?.();
    });
    void this.inFlight.track(done);
  }

  private async handle({ packet, connection }: Delivery): Promise<void> {
    // A former session could have been taken by anyone (its client id was guessable) and
    // subscribed to other topics: only the route's own go through the route.
    if (this.options.draining && !topicMatchesFilter(this.spec.topic, packet.topic)) {
      this.logger.warn(
        `${this.name}: dropped a message of the former session on ${packet.topic}, not a topic of this route`,
      );
      this.acknowledge(packet, connection);
      return;
    }
    let message = inboundMessage(packet);
    for (;;) {
      try {
        await this.handler!(message);
        this.failures = 0;
        this.acknowledge(packet, connection);
        return;
      } catch (err) {
        this.failures += 1;
        this.logger.debug(`${this.name}: handler rejected: ${errorText(err)}`);
      }
      // A QoS 1 message whose connection went comes again from the broker, on the new one.
      const given = (): boolean =>
        this.stopping || (packet.qos > 0 && connection !== this.connection);
      if (given()) return;
      const sleep = cancellableSleep(backoffDelay(this.failures - 1, 50, 5_000));
      this.backoffs.add(sleep);
      await sleep.promise;
      this.backoffs.delete(sleep);
      if (given()) return;
      message = { ...message, redelivered: true };
    }
  }

  private acknowledge(packet: IPublishPacket, connection: number): void {
    if (packet.qos === 0 || packet.messageId === undefined) return;
    const client = this.client;
    if (!client || connection !== this.connection || !client.connected) {
      this.logger.debug(`${this.name}: connection gone before the ack; the broker sends it again`);
      return;
    }
    sendPuback(client, packet.messageId);
  }
}

/** Passed to MQTT.js's `handleMessage` callback: skips its own PUBACK (sent later, by hand). */
const DEFERRED_ACK = new Error('acknowledged by the source once handled');

/** An MQTT PUBLISH as the runtime sees it. */
export function inboundMessage(packet: IPublishPacket): InboundMessage {
  const headers = stringifyUserProperties(packet.properties?.userProperties);
  headers[MQTT_TOPIC_HEADER] = packet.topic;
  if (packet.retain) headers[MQTT_RETAIN_HEADER] = 'true';
  const id = headers[MQTT_ID_PROPERTY];
  return {
    id: id === undefined || id === '' ? undefined : id,
    headers,
    payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
    source: { type: 'mqtt', name: packet.topic },
    redelivered: packet.dup,
  };
}

/** MQTT 5 user properties as headers (a name given several times: its values joined with ", "). */
export function stringifyUserProperties(
  properties: Record<string, string | string[]> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!properties) return out;
  for (const [key, value] of Object.entries(properties))
    out[key] = Array.isArray(value) ? value.join(', ') : String(value);
  return out;
}
