import type {
  Admin,
  Consumer,
  EachBatchPayload,
  KafkaMessage,
  Producer,
  Transaction,
} from 'kafkajs';
import {
  ConnectorError,
  type InboundMessage,
  type MessageHandler,
  type MessageTransaction,
} from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import { stringifyKafkaHeaders, type KafkaClient } from './kafka-client';
import { headerId, seekBack } from './kafka.source';
import { unreadableReason } from './kafka-unreadable';

/**
 * `delivery: exactly-once` from Kafka to Kafka (Kafka transactions, KIP-98).
 *
 * A source in this mode consumes batches. Each batch (up to `maxMessages` at a time) runs in one
 * transaction of its partition's own producer: every message goes through the route, its sends
 * join the transaction, then the next offset goes in with `sendOffsets` and it commits, outputs
 * and offsets together. Any failure (a send, the route refusing a message, the commit) aborts
 * it and seeks the partition back to its first message, after a growing pause: a
 * `read_committed` reader sees each input's outputs once, never the aborted copies.
 *
 * One producer per input partition, with the stable transactional id
 * `<group>.<topic>.<partition>`: kafkajs's `sendOffsets` cannot hand over the consumer's group
 * generation (KIP-447), so the id is what fences a previous owner of the partition (a process
 * killed mid-transaction, or one that lost the partition in a rebalance). The new owner's first
 * transaction bumps the epoch, which aborts whatever the previous one left open (read_committed
 * readers are held back by an open transaction only until then), and then reads the group's
 * committed offset again, now final, skipping what the previous owner committed meanwhile.
 */
export interface KafkaTransactionsOptions {
  groupId: string;
  topic: string;
  /** Most messages in one transaction (a fetched batch is split beyond). */
  maxMessages: number;
  /** Longest a transaction may stay open before the coordinator aborts it (kafkajs: 60 s). */
  transactionTimeout: number;
}

/** The transaction a message's deliveries join; what the destination sends through. */
export class KafkaTransaction implements MessageTransaction {
  private failure?: unknown;

  constructor(
    readonly client: KafkaClient,
    readonly transaction: Transaction,
  ) {}

  get failed(): boolean {
    return this.failure !== undefined;
  }

  get recordRefused(): boolean {
    return recordRefusal(this.failure) !== undefined;
  }

  /** Why it failed (undefined while it has not). */
  get error(): unknown {
    return this.failure;
  }

  /** Dooms it: it will be aborted and redone. */
  fail(err: unknown): void {
    this.failure ??= err ?? new Error('transaction failed');
  }
}

/**
 * What a destination sends a transactional message through, on `client`: the transaction, when
 * it belongs to the same client (the route schema makes sure it does), else a refusal.
 */
export function joinTransaction(
  client: KafkaClient,
  transaction: MessageTransaction,
): { tx: KafkaTransaction; sender: Pick<Transaction, 'send'> } {
  if (!(transaction instanceof KafkaTransaction) || transaction.client !== client)
    throw new ConnectorError(
      'REJECTED',
      `kafka ${client.connection.name}: a message of an exactly-once route can only be sent on its source's connection`,
      false,
    );
  if (transaction.failed)
    throw new ConnectorError(
      'REJECTED',
      `kafka ${client.connection.name}: the transaction already failed`,
      false,
    );
  return { tx: transaction, sender: transaction.transaction };
}

/**
 * A failed send in a transaction dooms it: retrying in it could only add a copy (a send that
 * timed out may still land), so the failure is final for this attempt; the source redoes the
 * whole transaction.
 */
export function failTransaction(tx: KafkaTransaction, error: ConnectorError): ConnectorError {
  tx.fail(error);
  return new ConnectorError(
    error.code,
    `${error.message} (the transaction is aborted and redone)`,
    false,
    { cause: error },
  );
}

/**
 * Kafka's errors for a record itself, which the same record meets again however often it is sent
 * (protocol error codes 2, 10, 18, 32, 87): too large for the topic, malformed, out of range.
 */
const RECORD_REFUSALS = new Set([
  'CORRUPT_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TIMESTAMP',
  'INVALID_RECORD',
]);

/**
 * Why a failed transaction failed for good because a destination refused the record it was
 * sending (undefined for any other failure: a fenced producer, a broker out of reach, ...).
 */
export function recordRefusal(failure: unknown): string | undefined {
  for (let err = failure; err !== undefined && err !== null;) {
    const { type, cause } = err as { type?: unknown; cause?: unknown };
    if (typeof type === 'string' && RECORD_REFUSALS.has(type))
      return `refused by its destination in an earlier try of its transaction, which was aborted: ${errorText(failure)}`;
    err = cause;
  }
  return undefined;
}

/** kafkajs's retries of a transaction's requests (see connect): 10 ms doubling to 2 s, 12 times. */
export const TRANSACTION_RETRY = { initialRetryTime: 10, maxRetryTime: 2_000, retries: 12 };

interface PartitionProducer {
  producer: Promise<Producer>;
  /** The group's committed offset was read again after this producer fenced the previous one. */
  checked: boolean;
  /** The partition went to another member: finish the transaction under way, then close. */
  revoked: boolean;
  running?: Promise<void>;
}

/** Runs a Kafka source's batches in transactions (see the top of this file). */
export class KafkaTransactions {
  private readonly partitions = new Map<number, PartitionProducer>();
  private readonly highest = new Map<number, bigint>();
  private readonly failures = new Map<number, number>();
  /**
   * Per partition, records a destination refused for good, by offset: dead-lettered on the redo;
   * `deadLetter`: the dead-letter destination refused that too (kept in the table only).
   */
  private readonly refused = new Map<
    number,
    Map<string, { reason: string; deadLetter?: string }>
  >();
  private readonly timers = new Set<NodeJS.Timeout>();
  private admin?: Promise<Admin>;
  private stopping = false;

  constructor(
    private readonly client: KafkaClient,
    private readonly options: KafkaTransactionsOptions,
    private readonly logger: ConnectorLogger,
    private readonly name: string,
  ) {}

  /** Follows the consumer's group: a partition given away loses its producer. */
  watch(consumer: Consumer): void {
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const mine = payload.memberAssignment[this.options.topic] ?? [];
      for (const [partition, entry] of this.partitions)
        if (!mine.includes(partition)) void this.retire(partition, entry);
    });
  }

  /** The consumer's `eachBatch` (with `eachBatchAutoResolve: false`). */
  async eachBatch(
    consumer: Consumer,
    payload: EachBatchPayload,
    handler: MessageHandler,
  ): Promise<void> {
    const { partition } = payload.batch;
    if (this.stopping) {
      payload.pause();
      return;
    }
    const entry = this.entry(partition);
    const running = this.runBatch(consumer, payload, handler, entry);
    entry.running = running;
    await running;
  }

  /** No new transaction starts; the one under way commits what it has done. Final (a source runs once). */
  stop(): void {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** After the consumer left: closes every producer (and the admin client). */
  async close(): Promise<void> {
    this.stop();
    await Promise.allSettled([...this.partitions].map(([p, entry]) => this.retire(p, entry)));
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
  }

  private entry(partition: number): PartitionProducer {
    let entry = this.partitions.get(partition);
    if (!entry) {
      entry = { producer: this.connect(partition), checked: false, revoked: false };
      // A producer that could not connect is made again by the next batch.
      entry.producer.catch(() => {
        if (this.partitions.get(partition) === entry) this.partitions.delete(partition);
      });
      this.partitions.set(partition, entry);
    }
    return entry;
  }

  private async connect(partition: number): Promise<Producer> {
    const producer = this.client.kafka.producer({
      transactionalId: `${this.options.groupId}.${this.options.topic}.${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.options.transactionTimeout,
      // The first send of each transaction may find the previous one still completing
      // (CONCURRENT_TRANSACTIONS, a few ms): kafkajs's default first retry after 300 ms would
      // idle the partition that long after every commit. Bounded (about 10 s in all): with no
      // bound, a send that fails for a reason that lasts (a topic that does not exist and cannot
      // be made, say) was retried inside kafkajs for ever, holding the partition with nobody
      // told; failed, the transaction is aborted and redone after a pause, and the route says why.
      retry: TRANSACTION_RETRY,
    });
    try {
      await producer.connect();
      this.client.reached();
      return producer;
    } catch (err) {
      this.client.unreachable(err);
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private async retire(partition: number, entry: PartitionProducer): Promise<void> {
    entry.revoked = true;
    if (this.partitions.get(partition) === entry) this.partitions.delete(partition);
    await entry.running?.catch(() => undefined);
    const producer = await entry.producer.catch(() => undefined);
    await producer?.disconnect().catch((err: unknown) => {
      this.logger.warn(
        `${this.name}: closing the producer of partition ${partition}: ${errorText(err)}`,
      );
    });
  }

  private async runBatch(
    consumer: Consumer,
    { batch, heartbeat, isRunning, isStale, pause, resolveOffset }: EachBatchPayload,
    handler: MessageHandler,
    entry: PartitionProducer,
  ): Promise<void> {
    const { topic, partition } = batch;
    let messages = batch.messages;
    while (messages.length > 0) {
      if (this.stopping || entry.revoked || !isRunning() || isStale()) return;
      const chunk = messages.slice(0, this.options.maxMessages);
      let tx: KafkaTransaction | undefined;
      let done = 0;
      try {
        const producer = await entry.producer;
        // The first transaction of a producer fences its partition's previous one (see above).
        tx = new KafkaTransaction(this.client, await producer.transaction());
        if (!entry.checked) {
          const committed = await this.committed(partition);
          entry.checked = true;
          if (committed !== undefined && committed > BigInt(chunk[0].offset)) {
            await tx.transaction.abort();
            consumer.seek({ topic, partition, offset: committed.toString() });
            return;
          }
        }
        for (const message of chunk) {
          // A stop commits what is done; a revoked partition's batch is cut short.
          if (this.stopping || entry.revoked) break;
          await handler({ ...this.inbound(topic, partition, message), transaction: tx });
          if (tx.failed) throw tx.error;
          done += 1;
          await heartbeat();
        }
        if (done === 0) {
          await tx.transaction.abort();
          return;
        }
        const last = chunk[done - 1].offset;
        await tx.transaction.sendOffsets({
          consumerGroupId: this.options.groupId,
          topics: [{ topic, partitions: [{ partition, offset: (BigInt(last) + 1n).toString() }] }],
        });
        await tx.transaction.commit();
        resolveOffset(last);
        const failed = this.failures.get(partition);
        if (failed !== undefined)
          this.logger.info(
            `${this.name}: partition ${partition} commits again, after ${failed} aborted ${failed === 1 ? 'try' : 'tries'}`,
          );
        this.failures.delete(partition);
        this.forgetRefused(partition, last);
      } catch (err) {
        // A record the broker refuses as such would abort every try: the redo dead-letters it.
        const refusal = done < chunk.length ? recordRefusal(tx?.error) : undefined;
        if (refusal !== undefined) this.refuse(partition, chunk[done].offset, refusal);
        const attempt = (this.failures.get(partition) ?? 0) + 1;
        this.failures.set(partition, attempt);
        await this.abort(partition, entry, tx, err, attempt);
        seekBack(consumer, { topic, partition, offset: chunk[0].offset }, attempt, {
          pause,
          timers: this.timers,
          stopping: () => this.stopping,
          warn: (line) => this.logger.warn(`${this.name}: ${line}`),
        });
        return;
      }
      if (done < chunk.length) return;
      messages = messages.slice(done);
    }
  }

  private inbound(topic: string, partition: number, message: KafkaMessage): InboundMessage {
    const offset = BigInt(message.offset);
    const seen = this.highest.get(partition);
    const redelivered = seen !== undefined && offset <= seen;
    if (!redelivered) this.highest.set(partition, offset);
    const inbound: InboundMessage = {
      id: headerId(message),
      headers: stringifyKafkaHeaders(message.headers),
      payload: message.value ?? Buffer.alloc(0),
      source: { type: 'kafka', name: topic, partition, offset: message.offset },
      redelivered,
    };
    if (message.key && message.key.length > 0) inbound.key = message.key;
    const unreadable = unreadableReason(topic, partition, message);
    if (unreadable !== undefined) inbound.unreadable = unreadable;
    const refused = this.refused.get(partition)?.get(message.offset);
    if (refused !== undefined) inbound.undeliverable = refused.reason;
    if (refused?.deadLetter !== undefined) inbound.deadLetterRefused = refused.deadLetter;
    return inbound;
  }

  private refuse(partition: number, offset: string, reason: string): void {
    let offsets = this.refused.get(partition);
    if (!offsets) this.refused.set(partition, (offsets = new Map()));
    const earlier = offsets.get(offset);
    // Refused again: this try sent its dead letter, unsent the record itself; the next keeps it
    // from the dead-letter destination too, or every try would abort for ever.
    offsets.set(offset, earlier ? { ...earlier, deadLetter: reason } : { reason });
  }

  /** Drops the refusals of records up to `last`, which are committed. */
  private forgetRefused(partition: number, last: string): void {
    const offsets = this.refused.get(partition);
    if (!offsets) return;
    for (const offset of offsets.keys()) if (BigInt(offset) <= BigInt(last)) offsets.delete(offset);
    if (offsets.size === 0) this.refused.delete(partition);
  }

  /** Aborts; a producer that cannot abort (fenced, or its commit failed half way) is replaced. */
  private async abort(
    partition: number,
    entry: PartitionProducer,
    tx: KafkaTransaction | undefined,
    err: unknown,
    attempt: number,
  ): Promise<void> {
    // One warning when a partition begins to fail, not one per try: a cause that lasts (a
    // dead-letter topic that does not exist) would write a line every few seconds for hours. The
    // route's status says what holds it meanwhile; the next commit says it passed.
    const line = `${this.name}: transaction on partition ${partition} aborted: ${errorText(err)}`;
    if (attempt === 1)
      this.logger.warn(`${line}; it is redone (further aborts in a row are logged at debug level)`);
    else this.logger.debug(`${line} (${attempt} in a row)`);
    // Abortable only while it is open: a commit or abort that failed half way, or a producer
    // that could not begin one (fenced, coordinator lost), leaves kafkajs's producer unusable.
    if (tx?.transaction.isActive()) {
      try {
        await tx.transaction.abort();
        // A send of it that failed (kafkajs's bounded retries ran out) may have reached the
        // broker all the same, leaving the producer's sequence numbers behind the broker's: the
        // next transaction's first record could be taken for a duplicate and dropped. Replaced,
        // the producer starts a new epoch with fresh sequence numbers.
        if (!tx.failed) return;
      } catch (abortErr) {
        this.logger.warn(
          `${this.name}: abort on partition ${partition} failed: ${errorText(abortErr)}`,
        );
      }
    }
    // Replaced: its successor's first transaction fences it, which aborts what it left open.
    // Not awaited: retiring waits for this very batch to end.
    void this.retire(partition, entry);
  }

  /** The group's committed offset of a partition (undefined: none yet). */
  private async committed(partition: number): Promise<bigint | undefined> {
    if (!this.admin) {
      const admin = this.client.kafka.admin();
      const connecting = admin.connect().then(() => admin);
      connecting.catch(() => {
        if (this.admin === connecting) this.admin = undefined;
      });
      this.admin = connecting;
    }
    const [topic] = await (
      await this.admin
    ).fetchOffsets({ groupId: this.options.groupId, topics: [this.options.topic] });
    const found = topic?.partitions.find((p) => p.partition === partition)?.offset;
    return found === undefined || BigInt(found) < 0n ? undefined : BigInt(found);
  }
}
