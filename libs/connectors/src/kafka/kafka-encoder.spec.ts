/**
 * kafkajs's protocol encoder as patched (patches/kafkajs+2.2.4.patch): its buffers come from
 * Node's shared pool (allocUnsafe) and varints are written in place, with varlongs in int32 range
 * done without BigInt. What it writes must be what unpatched kafkajs 2.2.4 wrote, byte for byte:
 * the golden digest below was taken from the unpatched package. Against a real broker:
 * kafka.int-spec.ts and the other Kafka int-specs.
 */
import { createHash } from 'node:crypto';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's protocol modules ship no types */
interface Encoder {
  buf: Buffer;
  buffer: Buffer;
  writeVarInt(value: number): Encoder;
  writeVarLong(value: number | string): Encoder;
  writeUVarInt(value: number): Encoder;
}
const Encoder = require('kafkajs/src/protocol/encoder') as {
  new (initialSize?: number): Encoder;
  sizeOfVarLong(value: number | string): number;
};
const { RecordBatch: encodeBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (batch: object) => Promise<{ buffer: Buffer }>;
};
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<{
  records: Array<{
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | Buffer[]>;
    offset: string;
    timestamp: string;
  }>;
}>;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  record: object,
) => unknown;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Kafka's varint of a signed 64-bit value: zigzag, then 7 bits a byte, low first (the spec, in BigInt). */
function varlong(value: bigint): string {
  let zigzag = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const bytes: number[] = [];
  while (zigzag >= 0x80n) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes).toString('hex');
}

/** A seeded sequence of unsigned 32-bit numbers (mulberry32): the same values every run. */
function* seeded(seed: number, count: number): Generator<number> {
  for (let i = 0; i < count; i++) {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    yield (t ^ (t >>> 14)) >>> 0;
  }
}

const BOUNDARIES = [
  0,
  -0,
  1,
  -1,
  63,
  64,
  -64,
  -65,
  8191,
  8192,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
];

/** Records of every shape the encoder takes: null and Buffer keys, header arrays, non-ASCII, growth past 512 bytes. */
const RECORDS = [
  {
    offsetDelta: 0,
    timestampDelta: 0,
    key: 'order-1',
    value: '{"a":1}',
    headers: { 'junction-id': 'm-1' },
  },
  {
    offsetDelta: 1,
    timestampDelta: -70,
    key: null,
    value: Buffer.from('bytes'),
    headers: { many: ['x', 'yz'], ü: 'é' },
  },
  { offsetDelta: 2, timestampDelta: 2 ** 31, key: Buffer.from([0, 255]), value: null },
  {
    offsetDelta: 300,
    timestampDelta: 5_000_000_000,
    key: 'k',
    value: 'v'.repeat(700),
    headers: {},
  },
];

/** Records of 480 to 528 bytes of value: the encoder's first 512 bytes run out at every field. */
const GROWING = Array.from({ length: 17 }, (_, i) => {
  const n = 480 + 3 * i;
  return {
    offsetDelta: 3 * i,
    timestampDelta: n * 1000,
    key: 'k'.repeat(n % 7),
    value: 'x'.repeat(n),
    headers: { [`h${n}`]: 'v'.repeat(n % 11), many: ['a', 'b'.repeat(n % 5)] },
  };
});

/** SHA-256 of what unpatched kafkajs 2.2.4 wrote for RECORDS and for GROWING (see `batches`). */
const GOLDEN = {
  records: '29abdd1504e868fd7101d8337f10d443aa68b6741ada52cffd125050a898a49c',
  growing: '7601abe124421d7fab2a7639a30e8e7ad1594e45bda0ecedaa8f7f0058e7ea34',
};

const BATCH = {
  firstOffset: '0',
  firstTimestamp: 1_700_000_000_000,
  maxTimestamp: 1_700_005_000_000,
  lastOffsetDelta: 300,
  producerId: '7',
  producerEpoch: 1,
  firstSequence: 42,
};

describe('the kafkajs encoder as patched', () => {
  /** The digests of both batches as this kafkajs encodes them. */
  const batches = async () => {
    const digest = async (batch: object) =>
      createHash('sha256')
        .update((await encodeBatch(batch)).buffer)
        .digest('hex');
    return {
      records: await digest({ ...BATCH, records: RECORDS.map(encodeRecord) }),
      growing: await digest({
        ...BATCH,
        maxTimestamp: 1_700_000_050_000,
        lastOffsetDelta: GROWING.length - 1,
        records: GROWING.map(encodeRecord),
      }),
    };
  };

  it('writes the record batches unpatched kafkajs 2.2.4 wrote, byte for byte', async () => {
    expect(await batches()).toEqual(GOLDEN);
  });

  it('sends no byte it did not write: the same batches from memory full of other data', async () => {
    // Every buffer the encoder takes comes full of a pattern, as reused memory would.
    const allocUnsafe = Buffer.allocUnsafe.bind(Buffer);
    const spy = jest
      .spyOn(Buffer, 'allocUnsafe')
      .mockImplementation((size: number) => allocUnsafe(size).fill(0xa5));
    try {
      expect(await batches()).toEqual(GOLDEN);
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('decodes back to the records it was given', async () => {
    const { buffer } = await encodeBatch({ ...BATCH, records: RECORDS.map(encodeRecord) });
    const { records } = await decodeBatch(new Decoder(buffer));
    expect(
      records.map((r) => ({
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key?.toString('hex') ?? null,
        value: r.value?.toString() ?? null,
        headers: Object.fromEntries(
          Object.entries(r.headers).map(([k, v]) => [
            k,
            Array.isArray(v) ? v.map(String) : String(v),
          ]),
        ),
      })),
    ).toEqual([
      {
        offset: '0',
        timestamp: '1700000000000',
        key: Buffer.from('order-1').toString('hex'),
        value: '{"a":1}',
        headers: { 'junction-id': 'm-1' },
      },
      {
        offset: '1',
        timestamp: '1699999999930',
        key: null,
        value: 'bytes',
        headers: { many: ['x', 'yz'], ü: 'é' },
      },
      {
        offset: '2',
        timestamp: String(1_700_000_000_000 + 2 ** 31),
        key: '00ff',
        value: null,
        headers: {},
      },
      {
        offset: '300',
        timestamp: '1705000000000',
        key: Buffer.from('k').toString('hex'),
        value: 'v'.repeat(700),
        headers: {},
      },
    ]);
  });

  it('decodes a record of 10,000 headers at once, every name its own', async () => {
    // kafkajs copied the headers object once per header: a record of 5,000 headers held the
    // gateway's event loop 5 s, 20,000 about 90 s (the consumer lost its group meanwhile); a
    // 1 MB record holds over 100,000. And a header named constructor came out as an array.
    // Unpatched, this record alone takes about 20 s (over the test's 5 s); patched, 0.1 s.
    const headers = JSON.parse('{"__proto__":"p","constructor":"c"}') as Record<
      string,
      string | string[]
    >;
    for (let i = 0; i < 10_000; i++) headers[`h${i}`] = 'v';
    headers.many = ['a', 'b', 'c'];
    const record = { offsetDelta: 0, timestampDelta: 0, key: null, value: '{}', headers };
    const { buffer } = await encodeBatch({
      ...BATCH,
      lastOffsetDelta: 0,
      records: [encodeRecord(record)],
    });
    const [decoded] = (await decodeBatch(new Decoder(buffer))).records;
    expect(Object.keys(decoded.headers)).toHaveLength(10_003);
    expect(Object.getPrototypeOf(decoded.headers)).toBe(Object.prototype);
    expect(String(Object.getOwnPropertyDescriptor(decoded.headers, '__proto__')?.value)).toBe('p');
    expect(String(decoded.headers.constructor)).toBe('c');
    expect(String(decoded.headers.h9999)).toBe('v');
    expect((decoded.headers.many as Buffer[]).map(String)).toEqual(['a', 'b', 'c']);
  });

  it('writes varlongs as Kafka defines them, in and beyond int32 range', () => {
    const values = [...BOUNDARIES];
    for (const n of seeded(7, 5000)) values.push(n | 0, (n % 256) - 128, -(n % 100_000));
    for (const n of seeded(11, 2000)) values.push(((n * 4099) % 2 ** 40) - 2 ** 39);
    const wrong = values.filter((v) => {
      const bytes = new Encoder().writeVarLong(v).buffer.toString('hex');
      return bytes !== varlong(BigInt(v)) || Encoder.sizeOfVarLong(v) !== bytes.length / 2;
    });
    expect(wrong).toEqual([]);
    // A Long given as text (as kafkajs takes timestamps) goes the BigInt way, as before.
    expect(new Encoder().writeVarLong('-5000000000').buffer.toString('hex')).toBe(
      varlong(-5_000_000_000n),
    );
  });

  it('writes varints as Kafka defines them', () => {
    const values = BOUNDARIES.filter((v) => v >= -(2 ** 31) && v < 2 ** 31);
    for (const n of seeded(13, 5000)) values.push(n | 0);
    const wrong = values.filter(
      (v) => new Encoder().writeVarInt(v).buffer.toString('hex') !== varlong(BigInt(v)),
    );
    expect(wrong).toEqual([]);
  });

  it('takes a small buffer from the shared pool, not a new ArrayBuffer of its own', () => {
    // Unpatched, each encoder (two or more per record produced) was a zero-filled ArrayBuffer.
    expect(new Encoder().buf.buffer.byteLength).toBe(Buffer.poolSize);
  });

  it('writes the produce requests unpatched kafkajs writes (plain kafkajs from npm), byte for byte', async () => {
    type Request = (request: object) => { encode(): Promise<{ buffer: Buffer }> };
    /* eslint-disable @typescript-eslint/no-require-imports */
    const patched = require('kafkajs/src/protocol/requests/produce/v3/request') as Request;
    const plain = require('kafkajs-plain/src/protocol/requests/produce/v3/request') as Request;
    /* eslint-enable @typescript-eslint/no-require-imports */
    const values = [...seeded(17, 300)];
    // As a route's destination sends them: a key or none, headers (one as a list), a partition
    // set by the partitioner, every record with its timestamp (else the request takes Date.now).
    const messages = values.map((n, i) => ({
      key: i % 3 === 0 ? null : `key-${n % 50}`,
      value: Buffer.from(JSON.stringify({ id: i, n })),
      headers:
        i % 5 === 0 ? { 'junction-id': `m-${i}`, tag: ['a', 'b'] } : { 'junction-id': `m-${i}` },
      partition: n % 4,
      timestamp: String(1_765_000_000_000 + (n % 1000)),
    }));
    const request = {
      acks: -1,
      timeout: 30_000,
      topicData: [0, 1, 2, 3].map((partition) => ({
        topic: 'orders',
        partitions: [
          {
            partition,
            firstSequence: 0,
            messages: messages.filter((m) => m.partition === partition),
          },
        ],
      })),
    };
    const bytes = async (make: Request) => (await make(request).encode()).buffer.toString('hex');
    expect(await bytes(patched)).toBe(await bytes(plain));
  });

  it('groups a batch by partition as unpatched kafkajs does: the same groups, in the same order', () => {
    type Group = (args: object) => Record<string, object[]>;
    /* eslint-disable @typescript-eslint/no-require-imports */
    const patched = require('kafkajs/src/producer/groupMessagesPerPartition') as Group;
    const plain = require('kafkajs-plain/src/producer/groupMessagesPerPartition') as Group;
    /* eslint-enable @typescript-eslint/no-require-imports */
    const messages = [...seeded(19, 2000)].map((n) => ({ value: String(n), n }));
    const args = {
      topic: 'orders',
      partitionMetadata: [0, 1, 2, 3, 4, 5].map((partitionId) => ({ partitionId })),
      messages,
      partitioner: ({ message }: { message: { n: number } }) => message.n % 6,
    };
    const grouped = patched(args);
    expect(grouped).toEqual(plain(args));
    expect(Object.values(grouped).flat()).toHaveLength(2000);
    expect(grouped['3'][0]).toBe(messages.find((m) => m.n % 6 === 3)); // the same objects
    expect(patched({ ...args, partitionMetadata: [] })).toEqual({});
  });
});
