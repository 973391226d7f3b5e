import { randomInt } from 'node:crypto';
import type { ICustomPartitioner } from 'kafkajs';

/**
 * Kafka's murmur2 of a key (the Java client's `Utils.murmur2`), as a signed 32-bit integer. The
 * same function as kafkajs's `Partitioners.DefaultPartitioner` uses, in 32-bit arithmetic
 * (`Math.imul`): kafkajs's copy multiplies in its 64-bit Long type, which allocated about 2 KB
 * and took a few microseconds per message of a route; the low 32 bits, all that is kept, are
 * the same.
 */
export function murmur2(key: Buffer): number {
  const m = 0x5bd1e995;
  const length = key.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The last 1 to 3 bytes (the Java original's switch that falls through).
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= key[whole + 2] << 16;
    if (rest >= 2) h ^= key[whole + 1] << 8;
    h ^= key[whole];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * kafkajs's default partitioner, decision for decision: a message's own partition; else the
 * murmur2 of its key modulo the topic's partitions (as the Java client, so keys land where other
 * clients put them); else round-robin over the partitions that have a leader. Faster than
 * kafkajs's (see {@link murmur2}), and the partitions with a leader are listed only for a
 * message without key.
 */
export const keyPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const { key } = message;
    if (key !== null && key !== undefined) {
      const bytes = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
      return (murmur2(bytes) & 0x7fffffff) % partitionMetadata.length;
    }
    const next = (counters.get(topic) ?? randomInt(2 ** 31)) + 1;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[(next & 0x7fffffff) % available.length].partitionId;
    return (next & 0x7fffffff) % partitionMetadata.length;
  };
};
