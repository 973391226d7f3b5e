import { connect } from 'amqplib';
import { SignedAnchor } from './anchors';

/** Somewhere besides the anchor folder that a signed anchor is sent to. */
export interface AnchorPublisher {
  readonly name: string;
  publish(anchor: SignedAnchor, file: string): Promise<void>;
}

/**
 * Each anchor as one persistent message on a durable RabbitMQ queue, confirmed by the broker
 * before the publish counts: a copy on another machine the database host cannot reach. One
 * connection per anchor (at most one a minute by default), so a broker outage costs nothing
 * while no anchor is due and needs no reconnect logic.
 */
export class AmqpAnchorPublisher implements AnchorPublisher {
  readonly name: string;

  constructor(
    private readonly url: string,
    private readonly queue: string,
  ) {
    this.name = `amqp queue ${queue}`;
  }

  async publish(anchor: SignedAnchor, file: string): Promise<void> {
    const connection = await connect(this.url, { timeout: 10_000 });
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue(this.queue, { durable: true });
      channel.sendToQueue(this.queue, Buffer.from(JSON.stringify(anchor)), {
        persistent: true,
        contentType: 'application/json',
        messageId: file,
        type: anchor.format,
      });
      await channel.waitForConfirms();
      await channel.close();
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
}
