import type {
  CompressionTypes,
  ICustomPartitioner,
  Message,
  Producer,
  RecordMetadata,
} from 'kafkajs';
import { ConnectorError } from '../connector';

/** When a batch leaves, and how long its messages may wait for their acknowledgement. */
export interface KafkaBatchOptions {
  /**
   * How long the oldest waiting message waits for others before its batch leaves. 0 sends on
   * the next turn of the event loop (messages added meanwhile still share the batch).
   */
  lingerMs: number;
  /** A batch leaves as soon as it holds this many messages (1: each message alone). */
  maxMessages: number;
  /** ... or this many bytes of keys, values and headers (a batch takes at least one message). */
  maxBytes: number;
  /**
   * A message not acknowledged this long after it was added fails with TIMEOUT; its batch carries
   * on in the background (at-least-once allows the copy a retry makes).
   */
  timeoutMs: number;
}

/**
 * lingerMs 0 by default, as the AMQP destination's: one request is in flight at a time, so what
 * arrives while it is out gathers into the next one anyway, and a linger only holds back the first
 * message after a quiet spell. The sources wait for their sends (a Kafka partition's `concurrency`
 * window, an AMQP prefetch), so that hold-back idled the route: in three runs of bench:kafka the
 * renaming route ran at 36.9-38.1k msg/s with lingerMs 0 against 29.9-31.8k with 5 ms, with no
 * less CPU per message in the broker (README, Batching).
 */
export const DEFAULT_BATCH: Omit<KafkaBatchOptions, 'timeoutMs'> = {
  lingerMs: 0,
  maxMessages: 1_000,
  maxBytes: 1_048_576,
};

/** A message for one topic, as kafkajs takes it (its `partition` is set once one was chosen). */
export interface BatchRecord {
  topic: string;
  message: Message;
}

/** Where Kafka put a record. */
export interface RecordPosition {
  partition: number;
  offset: string;
}

/**
 * Sends one batch and answers each record's position (or why that record failed), in the
 * records' order; or rejects, for all of them. {@link producerBatchSend} is the one for a kafkajs
 * producer.
 */
export type BatchSend = (records: readonly BatchRecord[]) => Promise<Array<RecordPosition | Error>>;

/** The timer the batcher waits on (tests pass one they move by hand). */
export interface BatchClock {
  now(): number;
  /** `ms` 0 means the next turn of the event loop. */
  schedule(callback: () => void, ms: number): () => void;
}

export const SYSTEM_BATCH_CLOCK: BatchClock = {
  now: () => performance.now(),
  schedule(callback, ms) {
    if (ms <= 0) {
      const immediate = setImmediate(callback);
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

interface Waiting {
  record: BatchRecord;
  bytes: number;
  addedAt: number;
  settled: boolean;
  resolve(position: RecordPosition): void;
  reject(err: unknown): void;
}

/**
 * Gathers the records a producer is asked to send into batches, one batch in flight at a time: a
 * batch leaves when its oldest record has lingered `lingerMs`, or once `maxMessages` or `maxBytes`
 * are reached; records added while one is in flight wait and leave together right after it. Each
 * record's promise resolves with its own position once its batch is acknowledged, and rejects if
 * its batch fails (with the batch's error) or if it waited `timeoutMs`. With one batch in flight,
 * records leave in the order they were added, so the order per key and partition is kept while
 * sends succeed; a failed batch's records are retried by their callers, after records added later
 * may have gone out.
 */
export class KafkaBatcher {
  private readonly queue: Waiting[] = [];
  private queuedBytes = 0;
  /** The batch in flight, and the first of its records not yet settled (they time out in order). */
  private sending?: Waiting[];
  private sendingFrom = 0;
  private wakeAt = Infinity;
  private cancelWake?: () => void;
  /** Send what is queued without lingering (flush and close). */
  private hurry = false;
  private closed = false;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly send: BatchSend,
    private readonly options: KafkaBatchOptions,
    private readonly clock: BatchClock = SYSTEM_BATCH_CLOCK,
  ) {}

  /** Records waiting and in flight. */
  get size(): number {
    return this.queue.length + (this.sending?.length ?? 0);
  }

  /** Resolves with the record's position once its batch is acknowledged. */
  add(record: BatchRecord): Promise<RecordPosition> {
    if (this.closed)
      return Promise.reject(new ConnectorError('CLOSED', 'kafka producer is closed', false));
    return new Promise<RecordPosition>((resolve, reject) => {
      const bytes = recordBytes(record.message);
      this.queue.push({
        record,
        bytes,
        addedAt: this.clock.now(),
        settled: false,
        resolve,
        reject,
      });
      this.queuedBytes += bytes;
      // Only a full batch leaves at once: what else arrives in this turn may still join.
      this.pump(false);
    });
  }

  /** Sends what is queued now, without lingering, and waits until nothing is queued or in flight. */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    this.hurry = true;
    this.pump();
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Refuses new records, sends the queued ones and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /** Sends a batch if one is due and none is in flight; then sets the next wake-up. */
  private pump(lingerCounts = true): void {
    if (!this.sending && this.queue.length > 0) {
      const { lingerMs, maxMessages, maxBytes } = this.options;
      if (
        this.hurry ||
        this.queue.length >= maxMessages ||
        this.queuedBytes >= maxBytes ||
        (lingerCounts && this.clock.now() >= this.queue[0].addedAt + lingerMs)
      )
        this.sendBatch();
    }
    if (this.size === 0) {
      this.hurry = false;
      for (const resolve of this.idle.splice(0)) resolve();
    }
    this.scheduleWake();
  }

  private sendBatch(): void {
    const { maxMessages, maxBytes } = this.options;
    let count = 0;
    let bytes = 0;
    while (
      count < this.queue.length &&
      count < maxMessages &&
      (count === 0 || bytes + this.queue[count].bytes <= maxBytes)
    ) {
      bytes += this.queue[count].bytes;
      count += 1;
    }
    const batch = this.queue.splice(0, count);
    this.queuedBytes -= bytes;
    this.sending = batch;
    this.sendingFrom = 0;
    const settle = (each: (waiting: Waiting, i: number) => void) => {
      batch.forEach((waiting, i) => {
        if (waiting.settled) return;
        waiting.settled = true;
        each(waiting, i);
      });
      this.sending = undefined;
      this.pump();
    };
    let sent: Promise<Array<RecordPosition | Error>>;
    try {
      sent = this.send(batch.map((w) => w.record));
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (positions) =>
        settle((waiting, i) => {
          const position = positions[i];
          if (position instanceof Error) waiting.reject(position);
          else if (position) waiting.resolve(position);
          else
            waiting.reject(
              new ConnectorError('REJECTED', 'kafka produce: the broker returned no offset', true),
            );
        }),
      (err: unknown) => settle((waiting) => waiting.reject(err)),
    );
  }

  /** One timer: the next batch's linger, or the oldest unacknowledged record's time limit. */
  private scheduleWake(): void {
    let at = Infinity;
    if (!this.sending && this.queue.length > 0)
      at = this.hurry ? this.clock.now() : this.queue[0].addedAt + this.options.lingerMs;
    const oldest = this.sending?.[this.sendingFrom] ?? this.queue[0];
    if (oldest) at = Math.min(at, oldest.addedAt + this.options.timeoutMs);
    if (at === this.wakeAt) return;
    this.cancelWake?.();
    this.cancelWake = undefined;
    this.wakeAt = at;
    if (at === Infinity) return;
    this.cancelWake = this.clock.schedule(
      () => {
        this.cancelWake = undefined;
        this.wakeAt = Infinity;
        this.expire();
        this.pump();
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  /** Fails the records that waited their time limit; queued ones leave the queue. */
  private expire(): void {
    const now = this.clock.now();
    const limit = this.options.timeoutMs;
    const timedOut = (waiting: Waiting) =>
      waiting.reject(
        new ConnectorError(
          'TIMEOUT',
          `kafka produce to ${waiting.record.topic}: no ack within ${limit} ms`,
          true,
        ),
      );
    const sending = this.sending ?? [];
    while (this.sendingFrom < sending.length && sending[this.sendingFrom].addedAt + limit <= now) {
      const waiting = sending[this.sendingFrom];
      this.sendingFrom += 1;
      waiting.settled = true;
      timedOut(waiting);
    }
    let expired = 0;
    while (expired < this.queue.length && this.queue[expired].addedAt + limit <= now) expired += 1;
    for (const waiting of this.queue.splice(0, expired)) {
      this.queuedBytes -= waiting.bytes;
      waiting.settled = true;
      timedOut(waiting);
    }
  }
}

/** What a record adds to a request: its key, value and headers (the framing is not counted). */
function recordBytes(message: Message): number {
  let bytes = byteLength(message.key) + byteLength(message.value);
  const headers = message.headers;
  for (const name in headers) {
    const value = headers[name];
    bytes += name.length;
    if (Array.isArray(value)) for (const v of value) bytes += byteLength(v);
    else bytes += byteLength(value);
  }
  return bytes;
}

function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/**
 * Wraps a partitioner so that the partition it chose stays on the message: kafkajs's retries
 * of a request keep it (a key-less message is not spread anew), and {@link producerBatchSend}
 * reads it to give each record its offset.
 */
export function pinningPartitioner(inner: ICustomPartitioner): ICustomPartitioner {
  return () => {
    const choose = inner();
    return (input) => {
      const partition = choose(input);
      input.message.partition = partition;
      return partition;
    };
  };
}

/**
 * One batch as one `sendBatch` of a kafkajs producer (created with {@link pinningPartitioner}),
 * with acks from all in-sync replicas, compressed with `compression`. Kafka answers a base offset per partition; the records of
 * one partition follow it in the order they were sent.
 */
export function producerBatchSend(
  producer: () => Promise<Producer>,
  compression?: CompressionTypes,
): BatchSend {
  const send = async (records: readonly BatchRecord[]) => {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of records) {
      const messages = byTopic.get(topic);
      if (messages) messages.push(message);
      else byTopic.set(topic, [message]);
    }
    const metadata = await (
      await producer()
    ).sendBatch({
      acks: -1,
      compression,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    return recordPositions(records, metadata);
  };
  // A record batch too large as a whole fails every record in it: a sender's one large message
  // took every other message of its request to the dead letters with it. Each record again on
  // its own: only one too large by itself fails (a copy of what did land is allowed: at least once).
  const sendOrSplit = async (records: readonly BatchRecord[]) => {
    try {
      return await send(records);
    } catch (err) {
      if (records.length === 1 || !tooLarge(err)) throw err;
      const results: Array<RecordPosition | Error> = [];
      for (const record of records)
        results.push(
          await send([record]).then(
            ([position]) => position,
            (own: unknown) => (own instanceof Error ? own : new Error(String(own))),
          ),
        );
      return results;
    }
  };
  return async (records) => {
    const topics = new Set(records.map((r) => r.topic));
    if (topics.size === 1) return sendOrSplit(records);
    try {
      return await send(records);
    } catch {
      // One topic's refusal (unknown, not allowed) must not fail the others' messages: each
      // topic again on its own (a copy of what did land is allowed: at least once).
      const results = new Map<BatchRecord, RecordPosition | Error>();
      for (const topic of topics) {
        const own = records.filter((r) => r.topic === topic);
        try {
          const positions = await sendOrSplit(own);
          own.forEach((r, i) => results.set(r, positions[i]));
        } catch (err) {
          for (const r of own) results.set(r, err instanceof Error ? err : new Error(String(err)));
        }
      }
      return records.map((r) => results.get(r)!);
    }
  };
}

/** Kafka refused a request's records for their size (the whole batch may be what is too large). */
function tooLarge(err: unknown): boolean {
  for (let e = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const type = (e as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
  }
  return false;
}

/** Each record's position from the base offsets of the partitions its batch went to. */
export function recordPositions(
  records: readonly BatchRecord[],
  metadata: RecordMetadata[],
): RecordPosition[] {
  const next = new Map<string, bigint>();
  for (const m of metadata) {
    const base = m.baseOffset ?? m.offset;
    if (base !== undefined) next.set(`${m.partition}:${m.topicName}`, BigInt(base));
  }
  return records.map(({ topic, message }) => {
    const slot = `${message.partition}:${topic}`;
    const offset = next.get(slot);
    if (message.partition === undefined || offset === undefined)
      throw new ConnectorError(
        'REJECTED',
        `kafka produce to ${topic}: the broker returned no offset`,
        true,
      );
    next.set(slot, offset + 1n);
    return { partition: message.partition, offset: offset.toString() };
  });
}
