import type { KafkaMessage } from 'kafkajs';

/**
 * What kafkajs, as patched (patches/kafkajs+2.2.4.patch), puts on the one record that stands for
 * a record batch it could not decompress or decode. Unpatched, such a batch failed every fetch of
 * its partition: the consumer crashed, restarted at the same offset and crashed again, and the
 * partition stalled for good.
 */
interface UnreadableBatch {
  firstOffset: string;
  lastOffset: string;
  records: number;
  reason: string;
}

/** Why a fetched message is no message (`InboundMessage.unreadable`), if it stands for an unreadable batch. */
export function unreadableReason(
  topic: string,
  partition: number,
  message: KafkaMessage,
): string | undefined {
  const batch = (message as KafkaMessage & { unreadable?: UnreadableBatch }).unreadable;
  if (batch === undefined) return undefined;
  return (
    `the record batch at offsets ${batch.firstOffset}-${batch.lastOffset} of ${topic} ` +
    `partition ${partition} (${batch.records} records) could not be decoded, so it was ` +
    `skipped: ${batch.reason}`
  );
}
