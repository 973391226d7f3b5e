import type * as amqp from 'amqplib';
import { eventually } from './gateway-process';

/** How many copies beyond the first: at-least-once allows them, the fault tests count them. */
export function duplicates(seen: Map<string, number>): number {
  return [...seen.values()].reduce((n, c) => n + (c - 1), 0);
}

/** Reads a RabbitMQ queue (acking each) until every id was seen; returns how often each came. */
export async function readAmqpQueue(
  connection: amqp.ChannelModel,
  queue: string,
  ids: string[],
  timeoutMs = 90_000,
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const ch = await connection.createChannel();
  await ch.assertQueue(queue, { durable: true });
  const { consumerTag } = await ch.consume(queue, (msg) => {
    if (!msg) return;
    const id = String(msg.properties.messageId ?? '');
    seen.set(id, (seen.get(id) ?? 0) + 1);
    ch.ack(msg);
  });
  try {
    await eventually(
      () => {
        const missing = ids.filter((id) => !seen.has(id));
        if (missing.length > 0) throw new Error(`${missing.length} of ${ids.length} missing`);
      },
      timeoutMs,
      `all ${ids.length} ids on ${queue}`,
    );
  } finally {
    await ch.cancel(consumerTag);
    await ch.close();
  }
  return seen;
}
