import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { registerKafkaCodecs } from '../kafka/kafka-codecs';

/**
 * A zstd frame around `records`: valid (a broker, with zstd's default limit of 128 MiB, takes
 * it), but with a 64 MiB window, over the 32 MiB a Junction consumer allows. A batch of it is one
 * a Junction source cannot decode, whatever it does.
 */
export function wideWindowFrame(records: Buffer): Buffer {
  const block = Buffer.alloc(3);
  block.writeUIntLE((records.length << 3) | 1, 0, 3); // one raw block, the last
  // Frame header: no content size, window exponent 16 (2^26 bytes).
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 16 << 3]), block, records]);
}

/**
 * Runs `produce` with kafkajs's zstd codec compressing into {@link wideWindowFrame}s, then puts
 * Junction's codecs back (kafkajs keeps one codec table per process).
 */
export async function withWideWindowZstd<T>(produce: () => Promise<T>): Promise<T> {
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: ({ buffer }: { buffer: Buffer }) => Promise.resolve(wideWindowFrame(buffer)),
    decompress: () => Promise.reject(new Error('not used')),
  });
  try {
    return await produce();
  } finally {
    registerKafkaCodecs();
  }
}
