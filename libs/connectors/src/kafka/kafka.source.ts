import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
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
import { PartitionProgress, Turn, Turns } from './kafka-partition-progress';
import { unreadableReason } from './kafka-unreadable';

export interface KafkaSourceOptions {
  routeId: string;
  /** Longest a fetch waits for data at the broker; also how long a stop waits for that fetch. */
  maxWaitTimeInMs: number;
  /** Partitions handled at once. */
  partitionsConsumedConcurrently: number;
  /** Messages of one partition handled at once, unless the source names its own `concurrency`. */
  concurrency: number;
  sessionTimeout: number;
  heartbeatInterval: number;
  /** `delivery: exactly-once`: batches run in transactions there, not through the progress here. */
  transactions?: KafkaTransactions;
}

/** How long a stop waits for a consumer that never joined its group to disconnect. */
const NOT_JOINED_WAIT_MS = 1_000;

/** Header carrying the message id (the producer side sets it too). */
export const JUNCTION_ID_HEADER = 'junction-id';

/**
 * Consumes one topic in a consumer group (`spec.groupId`, default `junction.<route id>`), partitions
 * in parallel and, within a partition, up to `concurrency` messages of a fetched batch at once,
 * started in offset order. Offsets are committed by hand, only up to the last message before which
 * every handler resolved (a later one that finished first waits for the earlier ones). When a
 * handler rejects, no more are started; once those running settled, the partition is sought back
 * to the first message not handled (so it and every later one come again, in order, handled or
 * not) and paused for a short, growing backoff. Messages of one partition carry a turn
 * (`InboundMessage.order`) so that the runtime sends them on in offset order. kafkajs's own
 * consumer restart covers broker and network failures; a crash it will not restart from is
 * restarted here with backoff.
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
  /** Last offset handled per partition (with every one before it), not committed yet. */
  private readonly pendingCommits = new Map<number, { topic: string; handled: string }>();
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
      // Stops fetching; batches already fetched are passed over unhandled (see eachBatch).
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
      // A member leaves its group, so that its partitions move at once; but a consumer whose
      // connections are wedged would hold the stop for request time-outs and retries, and the
      // group times a silent member out after the session timeout anyway. A consumer still
      // connecting (a broker that never answers its handshake) has no group to leave: its
      // connect goes on in kafkajs until it fails, and run() then disconnects it.
      const member = this.client.isMember(consumer);
      if (!(await settleWithin(leaving, member ? this.options.sessionTimeout : NOT_JOINED_WAIT_MS)))
        this.logger.warn(
          member
            ? `${this.name}: disconnect still pending; the group will time the member out`
            : `${this.name}: stopped while still connecting`,
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
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
        ...(transactions
          ? {
              eachBatch: (payload) =>
                this.inFlight.track(transactions.eachBatch(consumer, payload, this.handler!)),
            }
          : { eachBatch: (payload) => this.eachBatch(consumer, payload) }),
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
  private commitLater(consumer: Consumer, topic: string, partition: number, handled: string): void {
    this.pendingCommits.set(partition, { topic, handled });
    this.commitTimer ??= setTimeout(() => {
      this.commitTimer = undefined;
      void this.flushCommits(consumer);
    }, COMMIT_EVERY_MS);
  }

  /** Sends the pending commits (in order after any still in flight) and waits for them. */
  private flushCommits(consumer: Consumer): Promise<void> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const offsets = [...this.pendingCommits].map(([partition, { topic, handled }]) => ({
      topic,
      partition,
      offset: (BigInt(handled) + 1n).toString(),
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

  /** Whether messages of `consumer` may still be started. */
  private taking(consumer: Consumer): boolean {
    return !this.stopping && this.consumer === consumer;
  }

  private eachBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    // Its handlers all settle before it returns: stop() waits for it.
    return this.inFlight.track(this.handleBatch(consumer, payload));
  }

  private async handleBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, pause, resolveOffset, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const progress = new PartitionProgress(
      this.spec.concurrency ?? this.options.concurrency,
      (offset) => this.commitLater(consumer, topic, partition, offset),
    );
    // Slow handlers must not cost the partition: keep the group membership alive meanwhile.
    const beat = setInterval(() => {
      heartbeat().catch(() => undefined);
    }, this.options.heartbeatInterval);
    const turns = new Turns(batch.messages.length);
    try {
      for (let i = 0; i < batch.messages.length; i++) {
        // Only while it waited could the source stop or the partition be sought or revoked.
        const full = i === 0 ? Promise.resolve() : progress.room();
        if (full) {
          await full;
          if (!this.taking(consumer) || progress.failed || !isRunning() || isStale()) break;
        }
        const message = batch.messages[i];
        const turn = new Turn(turns, i);
        progress.add(
          message.offset,
          this.call(this.inbound(topic, partition, message, turn)),
          turn,
        );
      }
      await progress.settled();
    } finally {
      clearInterval(beat);
    }
    // The next fetch starts after the handled prefix: messages not started (a stop, a
    // rebalance) are fetched again.
    if (progress.lastHandled !== undefined) resolveOffset(progress.lastHandled);
    if (!progress.failed) {
      this.failures.delete(partition);
      if (!this.taking(consumer)) pause();
      return;
    }
    const unhandled = progress.firstUnhandled()!;
    const attempt = (this.failures.get(partition) ?? 0) + 1;
    this.failures.set(partition, attempt);
    this.logger.debug(
      `${this.name}: handler rejected ${partition}@${unhandled.offset}: ${errorText(unhandled.error)}`,
    );
    seekBack(consumer, { topic, partition, offset: unhandled.offset }, attempt, {
      pause,
      timers: this.timers,
      stopping: () => this.stopping,
      warn: (line) => this.logger.warn(`${this.name}: ${line}`),
    });
  }

  /** The handler's promise; one that throws instead of rejecting counts as a rejection. */
  private call(inbound: InboundMessage): Promise<unknown> {
    try {
      return this.handler!(inbound);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private inbound(
    topic: string,
    partition: number,
    message: KafkaMessage,
    order: InboundMessage['order'],
  ): InboundMessage {
    const offset = BigInt(message.offset);
    const seen = this.highest.get(partition);
    const redelivered = seen !== undefined && offset <= seen;
    if (!redelivered) this.highest.set(partition, offset);
    const headers = stringifyKafkaHeaders(message.headers);
    const inbound: InboundMessage = {
      id: headerId(message, headers),
      headers,
      payload: message.value ?? Buffer.alloc(0),
      source: { type: 'kafka', name: topic, partition, offset: message.offset },
      redelivered,
      order,
    };
    if (message.key && message.key.length > 0) inbound.key = message.key;
    const unreadable = unreadableReason(topic, partition, message);
    if (unreadable !== undefined) inbound.unreadable = unreadable;
    return inbound;
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

export function headerId(
  message: KafkaMessage,
  headers: Record<string, string> = stringifyKafkaHeaders(message.headers),
): string | undefined {
  const raw = message.headers?.[JUNCTION_ID_HEADER];
  if (raw === undefined) return undefined;
  // Several values are joined in `headers`: the id is the first.
  const id = Array.isArray(raw) ? String(raw[0] ?? '') : headers[JUNCTION_ID_HEADER];
  return id === '' ? undefined : id;
}
