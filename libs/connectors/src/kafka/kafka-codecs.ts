import { promisify } from 'node:util';
import { gzip as gzipCallback, unzip as unzipCallback, type ZlibOptions } from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import type { KafkaCompression } from './kafka.protocol';

const COMPRESSION_TYPES: Record<KafkaCompression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** The kafkajs compression type of a destination's `compression` (none when unset). */
export function kafkaCompressionType(compression: KafkaCompression | undefined): CompressionTypes {
  return COMPRESSION_TYPES[compression ?? 'none'];
}

/** A kafkajs codec: compresses a record batch's encoded records, decompresses a fetched one. */
export interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/**
 * Registers snappy, lz4 and zstd in kafkajs, and replaces its gzip with one whose inflating is
 * bounded, so that every consumer reads batches in any codec whatever its own route produces.
 * kafkajs keeps one codec table per process; registering again changes nothing. All are
 * JavaScript, WebAssembly or Node's zlib, so the gateway needs no native build.
 */
export function registerKafkaCodecs(): void {
  CompressionCodecs[CompressionTypes.GZIP] = () => gzipCodec;
  CompressionCodecs[CompressionTypes.Snappy] = () => snappyCodec;
  CompressionCodecs[CompressionTypes.LZ4] = () => lz4Codec;
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstdCodec;
}

/**
 * Largest record batch any codec inflates, so that a crafted batch (a few KiB of compressed zeros
 * said to be gigabytes) cannot make a consumer allocate without bound. snappy's header states the
 * size, lz4 and gzip count as they go, zstd's frames are walked for their bound first.
 */
const MAX_INFLATED = 256 * 1024 * 1024;

function tooLarge(codec: string, size: number): Error {
  return new Error(`${codec}: a batch inflating to ${size} bytes is over ${MAX_INFLATED}`);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------- gzip

const gzipAsync = promisify(gzipCallback);
const unzipAsync = promisify<Buffer, ZlibOptions, Buffer>(unzipCallback);

/** kafkajs's gzip, with zlib told to stop at MAX_INFLATED (it has no limit of its own). */
export const gzipCodec: KafkaCodec = {
  compress: (encoder) => gzipAsync(encoder.buffer),
  async decompress(buffer) {
    try {
      return await unzipAsync(buffer, { maxOutputLength: MAX_INFLATED });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw tooLarge('gzip', MAX_INFLATED + 1);
      throw error;
    }
  },
};

// ---------------------------------------------------------------- snappy

interface Snappyjs {
  compress(input: Buffer): Buffer;
  uncompress(input: Buffer, maxLength?: number): Buffer;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- snappyjs ships no types
const snappy = require('snappyjs') as Snappyjs;

/** The framing snappy-java (Kafka's Java clients) writes: a magic header, then length-prefixed chunks. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

/**
 * Writes raw snappy (snappy-java reads a block without its framing as one chunk); reads both raw
 * snappy and the xerial framing of the Java clients.
 */
export const snappyCodec: KafkaCodec = {
  compress: async (encoder) => snappy.compress(encoder.buffer),
  async decompress(buffer) {
    if (buffer.length < XERIAL_HEADER_BYTES || !buffer.subarray(0, 8).equals(XERIAL_MAGIC))
      return snappy.uncompress(buffer, MAX_INFLATED);
    const chunks: Buffer[] = [];
    let size = 0;
    let at = XERIAL_HEADER_BYTES;
    while (at + 4 <= buffer.length) {
      const length = buffer.readUInt32BE(at);
      at += 4;
      if (at + length > buffer.length) throw new Error('snappy: a chunk runs past the batch');
      const chunk = snappy.uncompress(buffer.subarray(at, at + length), MAX_INFLATED - size);
      size += chunk.length;
      chunks.push(chunk);
      at += length;
    }
    return Buffer.concat(chunks, size);
  },
};

// ---------------------------------------------------------------- lz4

interface Lz4js {
  decompressBlock(
    src: Uint8Array,
    dst: Uint8Array,
    sIndex: number,
    sLength: number,
    dIndex: number,
  ): number;
}
/* eslint-disable @typescript-eslint/no-require-imports -- lz4js ships no types */
const lz4 = require('lz4js') as Lz4js;
const xxh32 = (
  require('lz4js/xxh32.js') as { hash(seed: number, b: Uint8Array, at: number, n: number): number }
).hash;
/* eslint-enable @typescript-eslint/no-require-imports */

const LZ4_MAGIC = 0x184d2204;
/** FLG: version 01, blocks independent, no checksums, no content size: what Kafka's Java client writes. */
const LZ4_FLG = 0x60;
const LZ4_FLG_BLOCK_CHECKSUM = 0x10;
const LZ4_FLG_CONTENT_SIZE = 0x08;
const LZ4_FLG_DICTIONARY = 0x01;
/** BD: 64 KiB blocks, as Kafka's Java client. */
const LZ4_BD = 0x40;
const LZ4_BLOCK_SIZES: Record<number, number> = {
  4: 64 * 1024,
  5: 256 * 1024,
  6: 1024 * 1024,
  7: 4 * 1024 * 1024,
};
const LZ4_UNCOMPRESSED = 0x80000000;
const LZ4_MIN_MATCH = 4;
/** The last match of a block starts at least 12 bytes before its end... */
const LZ4_MATCH_START_LIMIT = 12;
/** ...and its last 5 bytes are literals: the reference decoder (Kafka's) refuses anything else. */
const LZ4_LAST_LITERALS = 5;
const lz4Table = new Int32Array(1 << 16);

/** Length of a sequence's literals or match past the token's 4 bits: 255s, then the rest. */
function lz4WriteLength(dst: Buffer, at: number, length: number): number {
  for (; length >= 255; length -= 255) dst[at++] = 255;
  dst[at++] = length;
  return at;
}

/** Worst case of one block: literals only, with their length bytes. */
function lz4BlockBound(size: number): number {
  return size + Math.ceil(size / 255) + 16;
}

/**
 * One LZ4 block (greedy, 4-byte hash, matches within 64 KiB), written at `dst[at]`; returns the
 * end. lz4js's block coder lets a block's last match start closer to its end than the format
 * allows, which Kafka's decoder refuses in every full block: hence this one.
 */
function lz4CompressBlock(src: Buffer, dst: Buffer, at: number): number {
  const end = src.length;
  let anchor = 0;
  const emit = (literals: number, offset: number, match: number) => {
    const token = Math.min(literals, 15) << 4;
    dst[at++] = offset === 0 ? token : token | Math.min(match - LZ4_MIN_MATCH, 15);
    if (literals >= 15) at = lz4WriteLength(dst, at, literals - 15);
    at += src.copy(dst, at, anchor, anchor + literals);
    if (offset === 0) return;
    dst.writeUInt16LE(offset, at);
    at += 2;
    if (match - LZ4_MIN_MATCH >= 15) at = lz4WriteLength(dst, at, match - LZ4_MIN_MATCH - 15);
  };
  if (end > LZ4_MATCH_START_LIMIT) {
    lz4Table.fill(-1);
    const lastStart = end - LZ4_MATCH_START_LIMIT;
    const matchEnd = end - LZ4_LAST_LITERALS;
    for (let ip = 0; ip <= lastStart;) {
      const word = src.readInt32LE(ip);
      const hash = Math.imul(word, 2654435761) >>> 16;
      const ref = lz4Table[hash];
      lz4Table[hash] = ip;
      if (ref < 0 || ip - ref > 0xffff || src.readInt32LE(ref) !== word) {
        ip += 1 + ((ip - anchor) >> 6); // skip faster through data that does not compress
        continue;
      }
      let match = LZ4_MIN_MATCH;
      while (ip + match < matchEnd && src[ip + match] === src[ref + match]) match++;
      emit(ip - anchor, ip - ref, match);
      ip += match;
      anchor = ip;
    }
  }
  emit(end - anchor, 0, 0);
  return at;
}

/** The frame descriptor's checksum: the second byte of xxh32 of FLG, BD (and content size). */
function lz4HeaderChecksum(descriptor: Uint8Array): number {
  return (xxh32(0, descriptor, 0, descriptor.length) >>> 8) & 0xff;
}

/**
 * LZ4 frames (the format Kafka uses since message format v1) with independent 64 KiB blocks, as
 * Kafka's Java client writes them; lz4js's own frames chain their blocks, which Kafka refuses.
 * Blocks are read with lz4js's block decoder.
 */
export const lz4Codec: KafkaCodec = {
  async compress({ buffer: input }) {
    const blockSize = LZ4_BLOCK_SIZES[LZ4_BD >> 4];
    const blocks = Math.max(1, Math.ceil(input.length / blockSize));
    const out = Buffer.allocUnsafe(7 + blocks * (4 + lz4BlockBound(blockSize)) + 4);
    out.writeUInt32LE(LZ4_MAGIC, 0);
    out[4] = LZ4_FLG;
    out[5] = LZ4_BD;
    out[6] = lz4HeaderChecksum(out.subarray(4, 6));
    let at = 7;
    for (let from = 0; from < input.length; from += blockSize) {
      const block = input.subarray(from, Math.min(from + blockSize, input.length));
      const size = lz4CompressBlock(block, out, at + 4) - (at + 4);
      if (size < block.length) {
        out.writeUInt32LE(size, at);
        at += 4 + size;
      } else {
        out.writeUInt32LE((LZ4_UNCOMPRESSED | block.length) >>> 0, at);
        block.copy(out, at + 4);
        at += 4 + block.length;
      }
    }
    out.writeUInt32LE(0, at);
    return Buffer.from(out.subarray(0, at + 4));
  },

  async decompress(frame) {
    if (frame.length < 7 || frame.readUInt32LE(0) !== LZ4_MAGIC)
      throw new Error('lz4: not an LZ4 frame');
    const flg = frame[4];
    if ((flg & 0xc0) !== 0x40) throw new Error('lz4: unknown frame version');
    if (flg & LZ4_FLG_DICTIONARY)
      throw new Error('lz4: frames with a dictionary are not supported');
    const blockSize = LZ4_BLOCK_SIZES[(frame[5] >> 4) & 7];
    if (blockSize === undefined) throw new Error('lz4: unknown block size');
    let at = 6 + (flg & LZ4_FLG_CONTENT_SIZE ? 8 : 0);
    if (at >= frame.length || frame[at] !== lz4HeaderChecksum(frame.subarray(4, at)))
      throw new Error('lz4: frame descriptor checksum mismatch');
    at += 1;
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      if (at + 4 > frame.length) throw new Error('lz4: the frame ends without its end mark');
      const word = frame.readUInt32LE(at);
      at += 4;
      if (word === 0) break;
      const length = word & ~LZ4_UNCOMPRESSED;
      if (length > blockSize || at + length > frame.length)
        throw new Error('lz4: a block runs past the frame');
      let block: Buffer;
      if (word & LZ4_UNCOMPRESSED) {
        block = frame.subarray(at, at + length);
      } else {
        const into = Buffer.allocUnsafe(blockSize);
        const written = lz4.decompressBlock(frame, into, at, length, 0);
        if (written > blockSize) throw new Error('lz4: a block inflates past its size');
        block = into.subarray(0, written);
      }
      size += block.length;
      if (size > MAX_INFLATED) throw tooLarge('lz4', size);
      chunks.push(block);
      at += length + (flg & LZ4_FLG_BLOCK_CHECKSUM ? 4 : 0);
    }
    // A content checksum, if any, follows the end mark; the record batch has its own CRC.
    return Buffer.concat(chunks, size);
  },
};

// ---------------------------------------------------------------- zstd

interface ZstdWasm {
  init(): Promise<void>;
  compress(input: Uint8Array, level?: number): Uint8Array;
}
interface Fzstd {
  decompress(input: Uint8Array): Uint8Array;
}
/* eslint-disable @typescript-eslint/no-require-imports -- loaded with the codec */
const zstdWasm = require('@bokuweb/zstd-wasm') as ZstdWasm;
const fzstd = require('fzstd') as Fzstd;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Kafka's default zstd level. */
const ZSTD_LEVEL = 3;
let zstdReady: Promise<void> | undefined;

/**
 * zstd: compressed by the reference library built to WebAssembly (@bokuweb/zstd-wasm),
 * decompressed by fzstd, which also reads the streamed frames of the Java client (no content size
 * in their header, which the wasm build's one-shot decoder needs).
 */
export const zstdCodec: KafkaCodec = {
  async compress(encoder) {
    zstdReady ??= zstdWasm.init();
    await zstdReady;
    return asBuffer(zstdWasm.compress(encoder.buffer, ZSTD_LEVEL));
  },
  async decompress(buffer) {
    zstdBound(buffer);
    return asBuffer(fzstd.decompress(buffer));
  },
};

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames carry 0x184D2A50 to 0x184D2A5F. */
const ZSTD_SKIPPABLE_MASK = 0xfffffff0;
const ZSTD_SKIPPABLE = 0x184d2a50;
/** Largest window fzstd is let allocate: the reference decoder's default limit is 128 MiB; Kafka's writers use a few MiB. */
const ZSTD_MAX_WINDOW = 32 * 1024 * 1024;
const ZSTD_MAX_BLOCK = 128 * 1024;

/**
 * Walks the zstd frames of a batch without inflating them and returns the most they can inflate
 * to (a raw or RLE block states its size, a compressed one is at most the block maximum); refuses
 * a batch whose bound, stated content size or window is over the limits, before fzstd allocates
 * either (it sizes its buffer from the frame header).
 */
export function zstdBound(buffer: Buffer): number {
  let at = 0;
  let bound = 0;
  const need = (bytes: number) => {
    if (at + bytes > buffer.length) throw new Error('zstd: a frame runs past the batch');
  };
  while (at < buffer.length) {
    need(4);
    const magic = buffer.readUInt32LE(at);
    at += 4;
    if ((magic & ZSTD_SKIPPABLE_MASK) >>> 0 === ZSTD_SKIPPABLE) {
      need(4);
      at += 4 + buffer.readUInt32LE(at);
      need(0);
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw new Error('zstd: not a zstd frame');
    need(1);
    const descriptor = buffer[at++];
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const checksum = (descriptor >> 2) & 1;
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3];
    if (descriptor & 0x08) throw new Error('zstd: a reserved header bit is set');
    let window = 0;
    if (!singleSegment) {
      need(1);
      const exponent = buffer[at] >> 3;
      const base = 2 ** (10 + exponent);
      window = base + (base / 8) * (buffer[at] & 7);
      at += 1;
    }
    at += dictionaryBytes;
    const sizeBytes = contentSizeFlag ? 1 << contentSizeFlag : singleSegment;
    need(sizeBytes);
    let contentSize = -1;
    if (sizeBytes === 1) contentSize = buffer[at];
    else if (sizeBytes === 2) contentSize = buffer.readUInt16LE(at) + 256;
    else if (sizeBytes === 4) contentSize = buffer.readUInt32LE(at);
    else if (sizeBytes === 8) contentSize = Number(buffer.readBigUInt64LE(at));
    at += sizeBytes;
    if (singleSegment) window = contentSize;
    if (contentSize > MAX_INFLATED) throw tooLarge('zstd', contentSize);
    if (window > ZSTD_MAX_WINDOW)
      throw new Error(`zstd: a frame's window of ${window} bytes is over ${ZSTD_MAX_WINDOW}`);
    const blockMax = Math.min(window, ZSTD_MAX_BLOCK);
    let frameBound = 0;
    for (let last = 0; !last;) {
      need(3);
      const header = buffer.readUIntLE(at, 3);
      at += 3;
      last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw new Error('zstd: a reserved block type');
      if (size > blockMax) throw new Error('zstd: a block is over its maximum size');
      need(type === 1 ? 1 : size);
      at += type === 1 ? 1 : size;
      frameBound += type === 2 ? blockMax : size;
      if (bound + frameBound > MAX_INFLATED) throw tooLarge('zstd', bound + frameBound);
    }
    if (contentSize > frameBound)
      throw new Error('zstd: a frame states more content than its blocks hold');
    at += checksum * 4;
    need(0);
    bound += frameBound;
  }
  return bound;
}
