/**
 * The local test broker's files, for the interop tests and the Kafka bench: its folder found as
 * scripts/kafka.sh finds it (JUNCTION_KAFKA_HOME, default <repo>/.cache/kafka), the jars of its
 * Java client, and the record batches it stored for a topic.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The repository: the closest folder above this file that holds scripts/kafka.sh (from src or dist). */
function repoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir))
    if (existsSync(join(dir, 'scripts', 'kafka.sh'))) return dir;
  throw new Error(`no scripts/kafka.sh above ${__dirname}`);
}

export function kafkaHome(): string {
  return resolve(process.env.JUNCTION_KAFKA_HOME ?? join(repoRoot(), '.cache', 'kafka'));
}

/** Java class path of the broker's jars (Kafka's Java client among them). */
export function kafkaClassPath(): string {
  const libs = join(kafkaHome(), 'libs');
  if (!existsSync(libs)) throw new Error(`no Kafka jars in ${libs} (run scripts/kafka.sh jars)`);
  return `${libs}/*`;
}

/** The segment files of a topic's partitions in the broker's data folder (scripts/kafka.sh's log.dirs). */
function segments(topic: string): string[] {
  const data = join(kafkaHome(), 'data');
  if (!existsSync(data)) throw new Error(`no Kafka data folder ${data}: is the broker local?`);
  return readdirSync(data)
    .filter((dir) => dir.startsWith(`${topic}-`) && /^\d+$/.test(dir.slice(topic.length + 1)))
    .flatMap((dir) =>
      readdirSync(join(data, dir))
        .filter((file) => file.endsWith('.log'))
        .sort()
        .map((file) => join(data, dir, file)),
    );
}

/** Kafka's compression codec ids (a record batch's attributes & 7). */
export const KAFKA_CODEC_IDS: Record<number, string> = {
  0: 'none',
  1: 'gzip',
  2: 'snappy',
  3: 'lz4',
  4: 'zstd',
};

/** Every record batch the broker stored for a topic: its codec and size in bytes. */
export function storedBatches(topic: string): { codec: string; bytes: number }[] {
  const batches: { codec: string; bytes: number }[] = [];
  for (const file of segments(topic)) {
    const log = readFileSync(file);
    // Record batch v2: baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic
    // int8, crc int32, attributes int16, ...; batchLength counts from the leader epoch on.
    for (let at = 0; at + 23 <= log.length;) {
      const bytes = 12 + log.readInt32BE(at + 8);
      if (bytes <= 12 || at + bytes > log.length) break; // the tail of a batch still being written
      const codec = log.readInt16BE(at + 21) & 7;
      batches.push({ codec: KAFKA_CODEC_IDS[codec] ?? String(codec), bytes });
      at += bytes;
    }
  }
  return batches;
}
