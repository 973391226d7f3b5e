import { Partitioners, type PartitionerArgs, type PartitionMetadata } from 'kafkajs';
import { keyPartitioner, murmur2 } from './kafka-partitioner';

const partitions = (n: number, leader = 1): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

describe('murmur2', () => {
  it("gives the Java client's values", () => {
    // Kafka's UtilsTest#testMurmur2
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, expected] of cases) expect(murmur2(Buffer.from(key))).toBe(expected);
  });
});

describe('keyPartitioner', () => {
  it("puts every key where kafkajs's default partitioner does", () => {
    const ours = keyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 40);
      const bytes = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
      const key = i % 2 === 0 ? bytes : `ORD-${i}-${bytes.toString('hex')}`;
      const args: PartitionerArgs = {
        topic: 't',
        partitionMetadata: partitions(1 + (i % 13)),
        message: { key, value: 'v' },
      };
      expect(ours(args)).toBe(theirs(args));
    }
  });

  it('keeps a chosen partition, and spreads key-less messages over partitions with a leader', () => {
    const partitioner = keyPartitioner();
    const metadata = [
      ...partitions(2),
      ...partitions(2, -1).map((p) => ({ ...p, partitionId: p.partitionId + 2 })),
    ];
    expect(
      partitioner({
        topic: 't',
        partitionMetadata: metadata,
        message: { value: 'v', partition: 3 },
      }),
    ).toBe(3);
    const chosen = new Set<number>();
    for (let i = 0; i < 10; i++)
      chosen.add(partitioner({ topic: 't', partitionMetadata: metadata, message: { value: 'v' } }));
    expect([...chosen].sort()).toEqual([0, 1]);
  });
});
