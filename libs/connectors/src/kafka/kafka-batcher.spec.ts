import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { ConnectorError } from '../connector';
import {
  KafkaBatcher,
  pinningPartitioner,
  recordPositions,
  type BatchClock,
  type BatchRecord,
  type KafkaBatchOptions,
  type RecordPosition,
} from './kafka-batcher';

/** A clock moved by hand: timers run only in `advance`, in the order they fall due. */
class ManualClock implements BatchClock {
  private time = 0;
  private readonly timers = new Set<{ at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  schedule(callback: () => void, ms: number): () => void {
    const timer = { at: this.time + ms, callback };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  get pending(): number {
    return this.timers.size;
  }

  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers].filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers.delete(due);
      this.time = Math.max(this.time, due.at);
      due.callback();
      await settle();
    }
    this.time = until;
    await settle();
  }
}

/** Lets promise callbacks run (the batcher settles records from a promise of its send). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

interface Call {
  records: readonly BatchRecord[];
  ack(): void;
  fail(err: unknown): void;
}

/** A send that the test acknowledges by hand: partition = the key's number, offsets count per partition. */
function manualSend() {
  const calls: Call[] = [];
  const next = new Map<number, number>();
  const send = (records: readonly BatchRecord[]) =>
    new Promise<RecordPosition[]>((resolve, reject) => {
      calls.push({
        records,
        ack: () =>
          resolve(
            records.map(({ message }) => {
              const partition = Number(message.key);
              const offset = next.get(partition) ?? 0;
              next.set(partition, offset + 1);
              return { partition, offset: String(offset) };
            }),
          ),
        fail: reject,
      });
    });
  return { calls, send };
}

const record = (partition: number, value = 'v'): BatchRecord => ({
  topic: 't',
  message: { key: String(partition), value },
});

const OPTIONS: KafkaBatchOptions = {
  lingerMs: 5,
  maxMessages: 100,
  maxBytes: 1_000_000,
  timeoutMs: 1_000,
};

function batcher(options: Partial<KafkaBatchOptions> = {}) {
  const clock = new ManualClock();
  const { calls, send } = manualSend();
  return { clock, calls, batcher: new KafkaBatcher(send, { ...OPTIONS, ...options }, clock) };
}

/** Where each promise ended: its position, or its error's code (or message). */
function outcomes(promises: Array<Promise<RecordPosition>>) {
  const results: unknown[] = promises.map(() => 'pending');
  promises.forEach((p, i) =>
    p.then(
      (position) => (results[i] = position),
      (err: Error & { code?: string }) => (results[i] = err.code ?? err.message),
    ),
  );
  return results;
}

describe('KafkaBatcher', () => {
  it('sends what arrives within the linger as one batch and answers each record with its own offset', async () => {
    const { clock, calls, batcher: b } = batcher();
    const results = outcomes([b.add(record(0)), b.add(record(1)), b.add(record(0))]);
    await clock.advance(4);
    expect(calls).toHaveLength(0);
    await clock.advance(1);
    expect(calls).toHaveLength(1);
    expect(calls[0].records.map((r) => r.message.key)).toEqual(['0', '1', '0']);
    expect(results).toEqual(['pending', 'pending', 'pending']);
    calls[0].ack();
    await settle();
    expect(results).toEqual([
      { partition: 0, offset: '0' },
      { partition: 1, offset: '0' },
      { partition: 0, offset: '1' },
    ]);
    expect(b.size).toBe(0);
  });

  it('sends at once when the batch is full, and cuts it at maxMessages and maxBytes', async () => {
    const { calls, batcher: b } = batcher({ maxMessages: 3, maxBytes: 12 });
    b.add(record(0, 'aaaa'));
    b.add(record(0, 'bbbb'));
    expect(calls).toHaveLength(0);
    b.add(record(0, 'cccc')); // 3 x (1 + 4) bytes: over maxBytes
    expect(calls).toHaveLength(1);
    // Two fit in 12 bytes; the third waits for the next batch.
    expect(calls[0].records.map((r) => r.message.value)).toEqual(['aaaa', 'bbbb']);
    expect(b.size).toBe(3);
  });

  it('sends a record larger than maxBytes alone', async () => {
    const { clock, calls, batcher: b } = batcher({ maxBytes: 3 });
    b.add(record(0, 'a long value'));
    b.add(record(0, 'x'));
    expect(calls).toHaveLength(1);
    expect(calls[0].records).toHaveLength(1);
    calls[0].ack();
    await settle();
    await clock.advance(5);
    expect(calls).toHaveLength(2);
    expect(calls[1].records.map((r) => r.message.value)).toEqual(['x']);
  });

  it('keeps one batch in flight: records added meanwhile leave together, in order, right after it', async () => {
    const { clock, calls, batcher: b } = batcher();
    b.add(record(0, 'a'));
    await clock.advance(5);
    expect(calls).toHaveLength(1);
    for (const value of ['b', 'c', 'd']) b.add(record(0, value));
    await clock.advance(50);
    expect(calls).toHaveLength(1);
    calls[0].ack();
    await settle();
    // They lingered long enough while the first was in flight: no further wait.
    expect(calls).toHaveLength(2);
    expect(calls[1].records.map((r) => r.message.value)).toEqual(['b', 'c', 'd']);
  });

  it('with lingerMs 0 sends on the next turn, with whatever arrived in this one', async () => {
    const { clock, calls, batcher: b } = batcher({ lingerMs: 0 });
    b.add(record(0));
    b.add(record(1));
    expect(calls).toHaveLength(0);
    await clock.advance(0);
    expect(calls).toHaveLength(1);
    expect(calls[0].records).toHaveLength(2);
  });

  // Failures at the default linger (0: the next turn) and at a positive one: the clock advances
  // 5 ms wherever a batch is due, which covers both.
  describe.each([0, 5])('with lingerMs %i', (lingerMs) => {
    it('rejects every record of a failed batch with its error, and goes on with the next', async () => {
      const { clock, calls, batcher: b } = batcher({ lingerMs });
      const first = outcomes([b.add(record(0)), b.add(record(1))]);
      await clock.advance(5);
      const second = outcomes([b.add(record(0))]);
      calls[0].fail(new ConnectorError('UNREACHABLE', 'broker gone', true));
      await settle();
      expect(first).toEqual(['UNREACHABLE', 'UNREACHABLE']);
      await clock.advance(5);
      expect(calls).toHaveLength(2);
      calls[1].ack();
      await settle();
      expect(second).toEqual([{ partition: 0, offset: '0' }]);
    });

    it('rejects a record whose send throws at once', async () => {
      const clock = new ManualClock();
      const b = new KafkaBatcher(
        () => {
          throw new Error('no producer');
        },
        OPTIONS,
        clock,
      );
      const results = outcomes([b.add(record(0))]);
      await clock.advance(5);
      expect(results).toEqual(['no producer']);
      expect(b.size).toBe(0);
    });

    it('times out records not acknowledged within timeoutMs: queued ones are never sent, a late ack is ignored', async () => {
      const { clock, calls, batcher: b } = batcher({ lingerMs, timeoutMs: 100 });
      const inFlight = outcomes([b.add(record(0))]);
      await clock.advance(5);
      await clock.advance(50);
      const queued = outcomes([b.add(record(0)), b.add(record(1))]);
      await clock.advance(45);
      expect(inFlight).toEqual(['TIMEOUT']);
      expect(queued).toEqual(['pending', 'pending']);
      await clock.advance(55);
      expect(queued).toEqual(['TIMEOUT', 'TIMEOUT']);
      expect(b.size).toBe(1); // only the hung batch, still in flight
      calls[0].ack();
      await settle();
      expect(inFlight).toEqual(['TIMEOUT']);
      expect(calls).toHaveLength(1);
      expect(b.size).toBe(0);
      expect(clock.pending).toBe(0);
    });

    it('sends what queued during a failed request as soon as it failed', async () => {
      const { clock, calls, batcher: b } = batcher({ lingerMs });
      const first = outcomes([b.add(record(0))]);
      await clock.advance(5);
      const queued = outcomes([b.add(record(1))]);
      await clock.advance(lingerMs);
      expect(calls).toHaveLength(1);
      calls[0].fail(new ConnectorError('UNREACHABLE', 'broker gone', true));
      await settle();
      expect(first).toEqual(['UNREACHABLE']);
      // It waited its linger while the failed one was out: it leaves now, with no timer.
      expect(calls).toHaveLength(2);
      expect(calls[1].records.map((r) => r.message.key)).toEqual(['1']);
      calls[1].ack();
      await settle();
      expect(queued).toEqual([{ partition: 1, offset: '0' }]);
    });
  });

  it('flush sends without lingering and waits for the acknowledgement; close refuses new records', async () => {
    const { calls, batcher: b } = batcher({ lingerMs: 1_000 });
    const results = outcomes([b.add(record(0))]);
    let flushed = false;
    const flushing = b.flush().then(() => (flushed = true));
    await settle();
    expect(calls).toHaveLength(1);
    expect(flushed).toBe(false);
    calls[0].ack();
    await flushing;
    expect(results).toEqual([{ partition: 0, offset: '0' }]);
    await b.close();
    await expect(b.add(record(0))).rejects.toMatchObject({ code: 'CLOSED', retryable: false });
  });
});

describe('recordPositions', () => {
  it('numbers the records of each partition from its base offset, in the order they were sent', () => {
    const records: BatchRecord[] = [
      { topic: 'a', message: { value: '1', partition: 0 } },
      { topic: 'a', message: { value: '2', partition: 1 } },
      { topic: 'b', message: { value: '3', partition: 0 } },
      { topic: 'a', message: { value: '4', partition: 0 } },
    ];
    const positions = recordPositions(records, [
      { topicName: 'a', partition: 0, errorCode: 0, baseOffset: '10' },
      { topicName: 'a', partition: 1, errorCode: 0, baseOffset: '7' },
      { topicName: 'b', partition: 0, errorCode: 0, baseOffset: '0' },
    ]);
    expect(positions).toEqual([
      { partition: 0, offset: '10' },
      { partition: 1, offset: '7' },
      { partition: 0, offset: '0' },
      { partition: 0, offset: '11' },
    ]);
  });

  it('refuses a record whose partition the answer does not name', () => {
    expect(() =>
      recordPositions([{ topic: 'a', message: { value: '1', partition: 3 } }], []),
    ).toThrow(/no offset/);
  });
});

describe('pinningPartitioner', () => {
  it('leaves the chosen partition on the message, so that a retry keeps it', () => {
    const partitioner = pinningPartitioner(Partitioners.DefaultPartitioner)();
    const partitionMetadata = [0, 1, 2].map((partitionId) => ({
      partitionId,
      leader: 1,
      partitionErrorCode: 0,
      replicas: [1],
      isr: [1],
    }));
    const message = { value: 'no key' };
    const args: PartitionerArgs = { topic: 't', partitionMetadata, message };
    const first = partitioner(args);
    expect(message).toMatchObject({ partition: first });
    for (let i = 0; i < 5; i++) expect(partitioner(args)).toBe(first);
  });
});
