import type { Channel, ChannelModel } from 'amqplib';
import { backoffDelay } from '../backoff';
import { ConnectorError } from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import type { AmqpClient } from './amqp-client';

export interface ChannelKeeperOptions<C extends Channel> {
  /** For log lines: what the channel is for. */
  name: string;
  /** A confirm channel (destinations) or a plain one (sources). */
  confirm: boolean;
  /** Runs on every new channel before it is handed out (declare, prefetch, consume). */
  setup(channel: C): Promise<void>;
}

/** Reply codes after which doing the same again fails again: access refused, not found, precondition failed. */
export const PERMANENT_REPLY_CODES = new Set([403, 404, 406]);

/** An AMQP failure from the broker (`code` is the AMQP reply code) or from amqplib. */
export function amqpReplyCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Keeps one amqplib channel open for one user (a source or a destination) across reconnects and
 * channel-level errors, on the shared connection of an {@link AmqpClient}.
 *
 * Not amqp-connection-manager's ChannelWrapper, on purpose: after a channel-level error (a publish to a
 * missing exchange, a queue declared with other arguments) the wrapper waits for the next
 * *connection* to open a new channel, so the destination stays dead while the connection is fine;
 * and its `ack()` goes to whatever channel is current, so acking a delivery from a channel that
 * died is a PRECONDITION_FAILED that kills the new channel too. Here every channel is reopened with
 * backoff, and the caller holds the exact channel a delivery came from.
 */
export class AmqpChannelKeeper<C extends Channel> {
  private channel?: C;
  private openingOn?: ChannelModel;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private unsubscribe?: () => void;
  private waiters: Array<{ resolve(channel: C): void; reject(err: Error): void }> = [];
  /** Why the last attempt to open or set up a channel failed, or why the last channel closed. */
  lastError?: Error;

  constructor(
    private readonly client: AmqpClient,
    private readonly options: ChannelKeeperOptions<C>,
    private readonly logger: ConnectorLogger,
  ) {}

  /** The open channel, if there is one right now. */
  get current(): C | undefined {
    return this.channel;
  }

  /** Starts opening channels (now if connected, and on every reconnect). */
  open(): void {
    if (this.unsubscribe || this.closed) return;
    this.unsubscribe = this.client.onConnect((connection) => void this.openOn(connection));
  }

  /** Resolves with an open, set-up channel; rejects with a retryable ConnectorError after `timeoutMs`. */
  ready(timeoutMs: number): Promise<C> {
    if (this.closed)
      return Promise.reject(new ConnectorError('CLOSED', `${this.options.name}: closed`, false));
    if (this.channel) return Promise.resolve(this.channel);
    this.open();
    return new Promise<C>((resolve, reject) => {
      const waiter = {
        resolve: (channel: C) => {
          clearTimeout(timer);
          resolve(channel);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const cause = this.lastError ?? this.client.error;
        reject(
          new ConnectorError(
            'UNREACHABLE',
            `${this.options.name}: no channel to ${this.client.safeUrl} within ${timeoutMs} ms${cause ? `: ${errorText(cause)}` : ''}`,
            true,
            { cause },
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Closes the channel for good (the shared connection stays open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const waiter of this.waiters.splice(0))
      waiter.reject(new ConnectorError('CLOSED', `${this.options.name}: closed`, false));
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  private async openOn(connection: ChannelModel): Promise<void> {
    if (this.closed || this.channel || this.openingOn === connection) return;
    this.openingOn = connection;
    let channel: C | undefined;
    try {
      channel = (
        this.options.confirm
          ? await connection.createConfirmChannel()
          : await connection.createChannel()
      ) as C;
      const opened = channel;
      // A broker-side channel close emits 'error' and then 'close'; without a listener 'error' would throw.
      opened.on('error', (err: Error) => {
        this.lastError = err;
      });
      opened.once('close', () => this.onChannelClose(connection, opened));
      await this.options.setup(opened);
      if (this.closed || this.channel) {
        await opened.close().catch(() => undefined);
        return;
      }
      this.channel = opened;
      this.failures = 0;
      for (const waiter of this.waiters.splice(0)) waiter.resolve(opened);
    } catch (err) {
      this.lastError = err instanceof Error ? err : new Error(String(err));
      this.failures += 1;
      if (!this.closed)
        this.logger.warn(`${this.options.name}: channel setup failed: ${errorText(err)}`);
      const code = amqpReplyCode(err);
      if (code !== undefined && PERMANENT_REPLY_CODES.has(code)) {
        // Waiting would only end in the same failure: tell the waiters now (retrying goes on).
        const failure = new ConnectorError(
          'REJECTED',
          `${this.options.name}: ${errorText(err)}`,
          false,
          { cause: err },
        );
        for (const waiter of this.waiters.splice(0)) waiter.reject(failure);
      }
      // A setup failure usually closed the channel already (its close handler schedules the retry).
      await channel?.close().catch(() => undefined);
      this.scheduleRetry(connection);
    } finally {
      if (this.openingOn === connection) this.openingOn = undefined;
    }
  }

  private onChannelClose(connection: ChannelModel, channel: C): void {
    if (this.channel === channel) {
      this.channel = undefined;
      if (!this.closed) this.logger.debug(`${this.options.name}: channel closed`);
    }
    this.scheduleRetry(connection);
  }

  /**
   * Reopens on the same connection if it is still the live one once the delay has passed (when the
   * whole connection went, the client's reconnect calls {@link openOn} with the new one instead).
   */
  private scheduleRetry(connection: ChannelModel): void {
    if (this.closed || this.retryTimer) return;
    const delay = backoffDelay(this.failures, 200, 30_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed && !this.channel && this.client.current === connection)
        void this.openOn(connection);
    }, delay);
  }
}
