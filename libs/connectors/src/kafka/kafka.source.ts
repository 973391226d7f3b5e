import type { Consumer, EachMessagePayload, KafkaMessage } from 'kafkajs';
import type { KafkaSourceSpec } from './kafka.protocol';
import { backoffDelay, InFlight, settleWithin } from '../backoff';
import {
  ConnectorError,
  type InboundMessage,
  type MessageHandler,
  type Source,
} from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import { stringifyKafkaHeaders, type KafkaClient } from './kafka-client';
import type { KafkaTransactions } from './kafka-transactions';

export interface KafkaSourceOptions {
  routeId: string;
  /** Longest a fetch waits for data at the broker; also how long a stop waits for that fetch. */
  maxWaitTimeInMs: number;
  /** Partitions handled at once (each one a message at a time). */
  partitionsConsumedConcurrently: number;
  sessionTimeout: number;
  heartbeatInterval: number;
  /** `delivery: exactly-once`: batches run in transactions there, not message by message here. */
  transactions?: KafkaTransactions;
}

/** Header carrying the message id (the producer side sets it too). */
export const JUNCTION_ID_HEADER = 'junction-id';

/**
 * Consumes one topic in a consumer group (`spec.groupId`, default `junction.<route id>`), one
 * message at a time per partition and partitions in parallel. Offsets are committed by hand:
 * `offset + 1` only after the handler resolved. When it rejects, nothing is committed, the
 * partition is sought back to that offset (so the same message comes next, keeping the order) and
 * paused for a short, growing backoff. kafkajs's own consumer restart covers broker and network
 * failures; a crash it will not restart from is restarted here with backoff.
 */
export class KafkaSource implements Source {
  private consumer?: Consumer;
  private handler?: MessageHandler;
  private stopping = false;
  private readonly inFlight = new InFlight();
  private readonly failures = new Map<number, number>();
  /** Highest offset handed to the handler per partition: a lower or equal one is a redelivery. */
  private readonly highest = new Map<number, bigint>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Next offset to commit per partition, for messages already handled. */
  private readonly pendingCommits = new Map<number, { topic: string; offset: string }>();
  private commitTimer?: NodeJS.Timeout;
  private committing: Promise<void> = Promise.resolve();
  private restarts = 0;
  private active = false;

  constructor(
    private readonly client: KafkaClient,
    private readonly spec: KafkaSourceSpec,
    private readonly options: KafkaSourceOptions,
    private readonly logger: ConnectorLogger,
  ) {}

  get groupId(): string {
    return this.spec.groupId ?? `junction.${this.options.routeId}`;
  }

  private get name(): string {
    return `kafka source ${this.spec.topic} (group ${this.groupId})`;
  }

  async start(handler: MessageHandler): Promise<void> {
    if (this.active) throw new Error(`${this.name}: already started`);
    this.active = true;
    this.handler = handler;
    this.stopping = false;
    try {
      await this.run();
    } catch (err) {
      this.active = false;
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (!this.active) return;
    this.stopping = true;
    this.options.transactions?.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const consumer = this.consumer;
    try {
      // Stops fetching; batches already fetched are passed over unhandled (see eachMessage).
      consumer?.pause([{ topic: this.spec.topic }]);
    } catch {
      // Not running yet: nothing to pause.
    }
    // The consumer must still be running here: kafkajs drops commits once it is stopping.
    await this.inFlight.settled();
    if (consumer) await this.flushCommits(consumer);
    this.consumer = undefined;
    if (consumer) {
      const leaving = consumer.disconnect().catch((err: unknown) => {
        this.logger.warn(`${this.name}: disconnect failed: ${errorText(err)}`);
      });
      // A consumer whose connections are wedged would hold the stop for request time-outs and retries.
      if (!(await settleWithin(leaving, this.options.sessionTimeout)))
        this.logger.warn(
          `${this.name}: disconnect still pending; the group will time the member out`,
        );
      this.client.forget(consumer);
    }
    await this.options.transactions?.close();
    this.active = false;
  }

  private async run(): Promise<void> {
    const consumer = this.client.consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs,
      sessionTimeout: this.options.sessionTimeout,
      heartbeatInterval: this.options.heartbeatInterval,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopping || this.consumer !== consumer) return;
      this.logger.error(`${this.name}: consumer crashed: ${errorText(payload.error)}; restarting`);
      this.restartLater(consumer);
    });
    // A stop during a start cannot cancel kafkajs' connect (it retries on its own): each step
    // checks, so that a consumer that connects after all leaves instead of joining the group.
    const abandoned = () => this.stopping || this.consumer !== consumer;
    const stopped = new ConnectorError('CLOSED', `${this.name}: stopped while starting`, false);
    try {
      await consumer.connect();
      if (abandoned()) throw stopped;
      await consumer.subscribe({
        topics: [this.spec.topic],
        fromBeginning: this.spec.fromBeginning ?? false,
      });
      if (abandoned()) throw stopped;
      const transactions = this.options.transactions;
      transactions?.watch(consumer);
      // Resolves once the group is joined (a failure there goes to the crash handler).
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
        ...(transactions
          ? {
              eachBatchAutoResolve: false,
              eachBatch: (payload) =>
                this.inFlight.track(transactions.eachBatch(consumer, payload, this.handler!)),
            }
          : { eachMessage: (payload) => this.eachMessage(consumer, payload) }),
      });
      if (abandoned()) throw stopped;
      this.restarts = 0;
    } catch (err) {
      if (this.consumer === consumer) this.consumer = undefined;
      this.client.forget(consumer);
      await consumer.disconnect().catch(() => undefined);
      if (err === stopped) throw err;
      this.client.unreachable(err);
      throw new ConnectorError(
        'UNREACHABLE',
        `${this.name}: could not start: ${errorText(err)}`,
        true,
        { cause: err },
      );
    }
  }

  /** Replaces a consumer kafkajs gave up on (or, with no argument, retries a failed replacement). */
  private restartLater(crashed?: Consumer): void {
    this.restarts += 1;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.stopping || this.consumer !== crashed) return;
        if (crashed) this.client.forget(crashed);
        this.consumer = undefined;
        this.run().catch((err: unknown) => {
          this.logger.error(`${this.name}: restart failed: ${errorText(err)}`);
          if (!this.stopping && !this.consumer) this.restartLater();
        });
      },
      backoffDelay(this.restarts - 1, 1_000, 60_000),
    );
    this.timers.add(timer);
  }

  /**
   * Commits a handled message's offset soon, with the others handled meanwhile, in one request.
   * A commit per message costs a round trip to the group coordinator each (about 20 ms here),
   * which capped a partition at a few dozen messages a second. Only offsets of messages whose
   * handler resolved are ever committed, so a crash redelivers (at least once), never skips.
   */
  private commitLater(consumer: Consumer, topic: string, partition: number, next: string): void {
    this.pendingCommits.set(partition, { topic, offset: next });
    this.commitTimer ??= setTimeout(() => {
      this.commitTimer = undefined;
      void this.flushCommits(consumer);
    }, COMMIT_EVERY_MS);
  }

  /** Sends the pending commits (in order after any still in flight) and waits for them. */
  private flushCommits(consumer: Consumer): Promise<void> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const offsets = [...this.pendingCommits].map(([partition, { topic, offset }]) => ({
      topic,
      partition,
      offset,
    }));
    this.pendingCommits.clear();
    if (offsets.length === 0 || consumer !== this.consumer) return this.committing;
    this.committing = this.committing.then(() =>
      consumer.commitOffsets(offsets).catch((err: unknown) => {
        // Handled but not committed (a rebalance, a lost coordinator): they will come again.
        this.logger.warn(
          `${this.name}: commit of ${offsets.map((o) => `${o.partition}@${o.offset}`).join(', ')} failed: ${errorText(err)}`,
        );
      }),
    );
    return this.committing;
  }

  private async eachMessage(consumer: Consumer, payload: EachMessagePayload): Promise<void> {
    const { topic, partition, message, pause } = payload;
    if (this.stopping || this.consumer !== consumer) {
      // Not handled and not committed: the group hands it out again. Pausing ends this batch.
      pause();
      return;
    }
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
    await this.inFlight.track(this.process(consumer, payload, inbound));
  }

  private async process(
    consumer: Consumer,
    { topic, partition, message, heartbeat, pause }: EachMessagePayload,
    inbound: InboundMessage,
  ): Promise<void> {
    // A slow handler must not cost the partition: keep the group membership alive meanwhile.
    const beat = setInterval(() => {
      heartbeat().catch(() => undefined);
    }, this.options.heartbeatInterval);
    let failure: unknown;
    let failed = false;
    try {
      await this.handler!(inbound);
    } catch (err) {
      failed = true;
      failure = err;
    } finally {
      clearInterval(beat);
    }
    if (!failed) {
      this.failures.delete(partition);
      this.commitLater(consumer, topic, partition, (BigInt(message.offset) + 1n).toString());
      return;
    }
    const attempt = (this.failures.get(partition) ?? 0) + 1;
    this.failures.set(partition, attempt);
    this.logger.debug(
      `${this.name}: handler rejected ${partition}@${message.offset}: ${errorText(failure)}`,
    );
    seekBack(consumer, { topic, partition, offset: message.offset }, attempt, {
      pause,
      timers: this.timers,
      stopping: () => this.stopping,
      warn: (line) => this.logger.warn(`${this.name}: ${line}`),
    });
  }
}

/**
 * Seeks a partition back to `at.offset` (that message comes next: order kept) and pauses it for
 * a short, growing while (100 ms doubling to 5 s, by `attempt`), so a failing message does not
 * spin. The timer goes in `timers`, for a stop to clear.
 */
export function seekBack(
  consumer: Consumer,
  at: { topic: string; partition: number; offset: string },
  attempt: number,
  hooks: {
    pause: () => () => void;
    timers: Set<NodeJS.Timeout>;
    stopping: () => boolean;
    warn: (line: string) => void;
  },
): void {
  try {
    consumer.seek(at);
  } catch (err) {
    hooks.warn(`seek failed: ${errorText(err)}`);
  }
  if (hooks.stopping()) return;
  const resume = hooks.pause();
  const timer = setTimeout(
    () => {
      hooks.timers.delete(timer);
      if (!hooks.stopping()) resume();
    },
    backoffDelay(attempt - 1, 100, 5_000),
  );
  hooks.timers.add(timer);
}

/** How long a handled message may wait for its offset commit (a crash meanwhile redelivers it). */
const COMMIT_EVERY_MS = 100;

export function headerId(message: KafkaMessage): string | undefined {
  const raw = message.headers?.[JUNCTION_ID_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  const id = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  return id === '' ? undefined : id;
}
