/**
 * The record batch decoder as patched (patches/kafkajs+2.2.4.patch), without a broker: a batch
 * that cannot be decoded stands as one unreadable record only when the failure would repeat (its
 * CRC holds); damage on the way, a failed allocation or a control batch is thrown, as before, so
 * that the batch is fetched again. Against a real broker: kafka-compression.int-spec.ts.
 */
import { CompressionCodecs, CompressionTypes, type KafkaMessage } from 'kafkajs';
import { registerKafkaCodecs } from './kafka-codecs';
import { unreadableReason } from './kafka-unreadable';
import { withWideWindowZstd } from '../conformance/kafka-wide-window';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's protocol modules ship no types */
const { RecordBatch: encodeBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (batch: object) => Promise<{ buffer: Buffer }>;
};
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<{ records: Array<KafkaMessage & { unreadable?: object }> }>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  record: object,
) => unknown;
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Where, in an encoded batch (firstOffset, length, then the batch), its CRC and attributes are. */
const CRC_AT = 8 + 4 + 5;
const ATTRIBUTES_AT = CRC_AT + 4;

/** Three records at offsets 10-12, zstd-compressed into a frame the consumer refuses. */
async function refusedBatch(): Promise<Buffer> {
  const encoded = await withWideWindowZstd(() =>
    encodeBatch({
      compression: CompressionTypes.ZSTD,
      firstOffset: '10',
      lastOffsetDelta: 2,
      firstTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_000,
      records: [0, 1, 2].map((offsetDelta) =>
        encodeRecord({ offsetDelta, key: null, value: Buffer.from(`order-${offsetDelta}`) }),
      ),
    }),
  );
  return Buffer.from(encoded.buffer);
}

/** The batch with its CRC made right again after an edit. */
function withCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32C(batch.subarray(ATTRIBUTES_AT)), CRC_AT);
  return batch;
}

const decode = (batch: Buffer) => decodeBatch(new Decoder(batch));

describe('a Kafka record batch that cannot be decoded', () => {
  beforeAll(() => registerKafkaCodecs());

  it('stands as one unreadable record at its last offset when the failure would repeat', async () => {
    const { records } = await decode(await refusedBatch());
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      offset: '12',
      key: null,
      value: null,
      headers: {},
      isControlRecord: false,
      unreadable: { firstOffset: '10', lastOffset: '12', records: 3 },
    });
    expect(unreadableReason('orders', 4, records[0])).toMatch(
      /^the record batch at offsets 10-12 of orders partition 4 \(3 records\) could not be decoded, so it was skipped: zstd: a frame's window of 67108864 bytes is over/,
    );
  });

  it('is fetched again, not skipped, when its CRC does not hold (damaged on the way)', async () => {
    const batch = await refusedBatch();
    batch[batch.length - 1] ^= 0xff; // a byte of the last record, the CRC left as it was
    await expect(decode(batch)).rejects.toThrow(/window of 67108864 bytes/);
    // The same damage with a CRC that covers it: the broker stored it so, it would fail for ever.
    const { records } = await decode(withCrc(batch));
    expect(records[0]).toMatchObject({ offset: '12', unreadable: { records: 3 } });
  });

  it('is fetched again when an allocation failed, or when it is a control batch', async () => {
    const batch = await refusedBatch();
    CompressionCodecs[CompressionTypes.ZSTD] = () => ({
      compress: () => Promise.reject(new Error('not used')),
      decompress: () => Promise.reject(new RangeError('Array buffer allocation failed')),
    });
    try {
      await expect(decode(batch)).rejects.toThrow(/allocation failed/);
    } finally {
      registerKafkaCodecs();
    }
    const control = await refusedBatch();
    control.writeInt16BE(control.readInt16BE(ATTRIBUTES_AT) | 0x20, ATTRIBUTES_AT);
    await expect(decode(withCrc(control))).rejects.toThrow(/window of 67108864 bytes/);
  });

  it('leaves a batch it can decode as it was', async () => {
    const plain = await encodeBatch({
      firstOffset: '7',
      lastOffsetDelta: 1,
      records: [0, 1].map((offsetDelta) =>
        encodeRecord({ offsetDelta, key: null, value: Buffer.from(`v${offsetDelta}`) }),
      ),
    });
    const { records } = await decode(Buffer.from(plain.buffer));
    expect(records.map((r) => [r.offset, r.value?.toString(), r.unreadable])).toEqual([
      ['7', 'v0', undefined],
      ['8', 'v1', undefined],
    ]);
  });
});
