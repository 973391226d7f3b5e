import { gzipSync } from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import {
  gzipCodec,
  kafkaCompressionType,
  lz4Codec,
  registerKafkaCodecs,
  snappyCodec,
  zstdBound,
  zstdCodec,
  type KafkaCodec,
} from './kafka-codecs';

/** Deterministic bytes: JSON-like text (compressible) followed by pseudo-random noise. */
function sample(size: number, seed = 7): Buffer {
  const text = Buffer.from(
    Array.from(
      { length: Math.ceil(size / 64) },
      (_, i) => `{"orderId":"o-${i}","amount":${i % 97}}`,
    ).join(','),
  );
  const out = Buffer.alloc(size);
  text.copy(out, 0, 0, Math.min(size, text.length));
  let x = seed;
  for (let i = Math.floor(size / 2); i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

const codecs: [string, KafkaCodec][] = [
  ['gzip', gzipCodec],
  ['snappy', snappyCodec],
  ['lz4', lz4Codec],
  ['zstd', zstdCodec],
];

describe('kafka codecs', () => {
  it.each(codecs)(
    '%s: round-trips empty, small, multi-block and incompressible batches',
    async (_name, codec) => {
      for (const size of [0, 1, 13, 100, 70_000, 300_000]) {
        const input = sample(size);
        const compressed = await codec.compress({ buffer: input });
        expect((await codec.decompress(compressed)).equals(input)).toBe(true);
      }
    },
  );

  it.each(codecs)(
    '%s: compresses only the bytes of the view it is given, not the memory around it',
    async (_name, codec) => {
      // kafkajs's encoder hands over a view into Node's shared buffer pool (patches/): the
      // bytes around it belong to other buffers (other messages), and must never be sent.
      for (const size of [1, 100, 70_000]) {
        const memory = Buffer.alloc(size + 4096, 0xa5);
        const input = sample(size);
        const view = memory.subarray(1000, 1000 + size);
        input.copy(view);
        const compressed = await codec.compress({ buffer: view });
        expect((await codec.decompress(compressed)).equals(input)).toBe(true);
      }
    },
  );

  it.each(codecs)('%s: makes compressible batches smaller', async (_name, codec) => {
    const input = Buffer.from('{"status":"ok","amount":10}'.repeat(200));
    expect((await codec.compress({ buffer: input })).length).toBeLessThan(input.length / 4);
  });

  it('lz4: writes the frame Kafka reads (version 1, independent 64 KiB blocks, no checksums)', async () => {
    const frame = await lz4Codec.compress({ buffer: sample(200_000) });
    expect(frame.readUInt32LE(0)).toBe(0x184d2204);
    expect(frame[4]).toBe(0x60);
    expect(frame[5]).toBe(0x40);
    expect(frame.readUInt32LE(frame.length - 4)).toBe(0);
  });

  it("lz4: every block keeps the format's end rules (last match 12 bytes before the end, 5 literal bytes last)", async () => {
    const input = Buffer.from('{"a":1,"b":"xyzxyzxyz"}'.repeat(20_000)); // full 64 KiB blocks
    const frame = await lz4Codec.compress({ buffer: input });
    let at = 7;
    let blocks = 0;
    for (let word = frame.readUInt32LE(at); word !== 0; word = frame.readUInt32LE(at)) {
      const end = at + 4 + (word & 0x7fffffff);
      let ip = at + 4;
      let out = 0;
      let lastMatchStart = -1;
      let lastMatchEnd = -1;
      const length = (n: number) => {
        if (n < 15) return n;
        for (;;) {
          const b = frame[ip++];
          n += b;
          if (b !== 255) return n;
        }
      };
      if (!(word & 0x80000000)) {
        while (ip < end) {
          const token = frame[ip++];
          const literals = length(token >> 4);
          ip += literals;
          out += literals;
          if (ip >= end) break;
          ip += 2;
          const match = length(token & 15) + 4;
          lastMatchStart = out;
          out += match;
          lastMatchEnd = out;
        }
        expect(lastMatchStart).toBeLessThanOrEqual(out - 12);
        expect(lastMatchEnd).toBeLessThanOrEqual(out - 5);
      }
      blocks += 1;
      at = end;
    }
    expect(blocks).toBe(Math.ceil(input.length / 65536));
    expect((await lz4Codec.decompress(frame)).equals(input)).toBe(true);
  });

  it('lz4: reads a frame with a content size and block checksums, and refuses a damaged header', async () => {
    const data = Buffer.from('hello, hello, hello, lz4');
    // FLG: version 1, independent blocks, block checksums, content size; BD: 64 KiB.
    const descriptor = Buffer.concat([Buffer.from([0x78, 0x40]), Buffer.alloc(8)]);
    descriptor.writeUInt32LE(data.length, 2);
    const { hash } = jest.requireActual<{
      hash: (s: number, b: Uint8Array, a: number, n: number) => number;
    }>('lz4js/xxh32.js');
    const checksum = (hash(0, descriptor, 0, descriptor.length) >>> 8) & 0xff;
    const block = Buffer.alloc(4);
    block.writeUInt32LE((0x80000000 | data.length) >>> 0);
    const frame = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18]),
      descriptor,
      Buffer.from([checksum]),
      block,
      data,
      Buffer.alloc(4), // block checksum (not checked: the record batch has its CRC)
      Buffer.alloc(4), // end mark
    ]);
    expect((await lz4Codec.decompress(frame)).toString()).toBe(data.toString());
    frame[4 + descriptor.length] ^= 0xff;
    await expect(lz4Codec.decompress(frame)).rejects.toThrow(/checksum/);
    await expect(lz4Codec.decompress(Buffer.from('not lz4 at all'))).rejects.toThrow(
      /not an LZ4 frame/,
    );
  });

  it('snappy: reads the xerial framing of the Java clients', async () => {
    const parts = [Buffer.from('first chunk '.repeat(20)), Buffer.from('second chunk')];
    const chunks = await Promise.all(parts.map((p) => snappyCodec.compress({ buffer: p })));
    const header = Buffer.from([
      0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1,
    ]);
    const framed = Buffer.concat([
      header,
      ...chunks.flatMap((c) => {
        const length = Buffer.alloc(4);
        length.writeUInt32BE(c.length);
        return [length, c];
      }),
    ]);
    expect((await snappyCodec.decompress(framed)).toString()).toBe(Buffer.concat(parts).toString());
    const cut = framed.subarray(0, framed.length - 3);
    await expect(snappyCodec.decompress(cut)).rejects.toThrow(/past the batch/);
  });

  it('gzip: stops inflating a batch at 256 MiB (300 members of 1 MiB of zeros, 300 KiB sent)', async () => {
    const bomb = Buffer.concat(Array.from({ length: 300 }, () => gzipSync(Buffer.alloc(1 << 20))));
    expect(bomb.length).toBeLessThan(400_000);
    await expect(gzipCodec.decompress(bomb)).rejects.toThrow(
      /gzip: a batch inflating to .* is over/,
    );
  }, 30_000);

  /** A zstd frame written by hand: `descriptor` and `window` bytes, then the blocks (type, size, content). */
  function zstdFrame(
    head: number[],
    blocks: [type: number, size: number, content: Buffer][],
  ): Buffer {
    const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, ...head])];
    blocks.forEach(([type, size, content], i) => {
      const header = Buffer.alloc(3);
      header.writeUIntLE((size << 3) | (type << 1) | (i === blocks.length - 1 ? 1 : 0), 0, 3);
      parts.push(header, content);
    });
    return Buffer.concat(parts);
  }
  const rle = (size: number, byte: number): [number, number, Buffer] => [
    1,
    size,
    Buffer.from([byte]),
  ];

  it('zstd: bounds a frame by walking its blocks, as fzstd inflates it', async () => {
    // window 128 KiB (exponent 7), no content size: as a streaming writer (Kafka's Java client) frames it.
    const frame = zstdFrame(
      [0x00, 7 << 3],
      [rle(1000, 0x61), [0, 3, Buffer.from('xyz')], rle(2, 0x62)],
    );
    expect(zstdBound(frame)).toBe(1005);
    expect((await zstdCodec.decompress(frame)).toString()).toBe(`${'a'.repeat(1000)}xyzbb`);
    const real = await zstdCodec.compress({ buffer: sample(300_000) });
    expect(zstdBound(real)).toBeGreaterThanOrEqual(300_000);
  });

  it('zstd: refuses, before inflating, a batch that would inflate past 256 MiB or states a huge size or window', async () => {
    const blocks = Array.from({ length: 2100 }, () => rle(128 * 1024, 0));
    const bomb = zstdFrame([0x00, 7 << 3], blocks);
    expect(bomb.length).toBeLessThan(10_000);
    await expect(zstdCodec.decompress(bomb)).rejects.toThrow(
      /zstd: a batch inflating to .* is over/,
    );
    // single segment, a 4-byte content size of 1 GiB
    const stated = zstdFrame([0xa0, 0, 0, 0, 0x40], [rle(10, 0)]);
    await expect(zstdCodec.decompress(stated)).rejects.toThrow(/inflating to 1073741824/);
    // a 1 GiB window (exponent 20)
    await expect(zstdCodec.decompress(zstdFrame([0x00, 20 << 3], [rle(10, 0)]))).rejects.toThrow(
      /window of 1073741824 bytes/,
    );
    // a content size larger than the blocks can hold (fzstd would size its buffer by it)
    await expect(
      zstdCodec.decompress(zstdFrame([0xa0, 0, 0, 0, 0x01], [rle(10, 0)])),
    ).rejects.toThrow(/states more content/);
    await expect(
      zstdCodec.decompress(zstdFrame([0x00, 7 << 3], [rle(10, 0)]).subarray(0, 8)),
    ).rejects.toThrow(/runs past the batch/);
  });

  it('registers gzip, snappy, lz4 and zstd in kafkajs and maps the destination setting', () => {
    registerKafkaCodecs();
    registerKafkaCodecs();
    expect(CompressionCodecs[CompressionTypes.GZIP]()).toBe(gzipCodec);
    expect(CompressionCodecs[CompressionTypes.Snappy]()).toBe(snappyCodec);
    expect(CompressionCodecs[CompressionTypes.LZ4]()).toBe(lz4Codec);
    expect(CompressionCodecs[CompressionTypes.ZSTD]()).toBe(zstdCodec);
    expect(kafkaCompressionType(undefined)).toBe(CompressionTypes.None);
    expect(kafkaCompressionType('gzip')).toBe(CompressionTypes.GZIP);
    expect(kafkaCompressionType('zstd')).toBe(CompressionTypes.ZSTD);
  });
});
