import type { Kafka } from 'kafkajs';

/**
 * For tests: reads `topic` from its start in a group of its own and counts how often each
 * `junction-id` came, until `stop()`. read_committed unless `readUncommitted` (kafkajs's option).
 */
export async function countKafkaIds(
  kafka: Kafka,
  topic: string,
  options: { groupId: string; readUncommitted?: boolean },
): Promise<{ seen: Map<string, number>; stop: () => Promise<void> }> {
  const seen = new Map<string, number>();
  const consumer = kafka.consumer({ maxWaitTimeInMs: 100, ...options });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const id = message.headers?.['junction-id']?.toString() ?? '';
      seen.set(id, (seen.get(id) ?? 0) + 1);
    },
  });
  return { seen, stop: () => consumer.disconnect() };
}
