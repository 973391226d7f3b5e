import type { Connection, EventContext, Receiver, Sender } from 'rhea';
import { backoffDelay, cancellableSleep } from '../backoff';
import { ConnectorError } from '../connector';
import { errorText, type ConnectorLogger } from '../logger';
import { amqpError, type Amqp10Client } from './amqp10-client';

/**
 * Link errors the same link will meet again (no such address, no permission, a field the broker
 * refuses): a send fails at once and for good instead of waiting out its time.
 */
const PERMANENT_CONDITIONS = new Set([
  'amqp:not-found',
  'amqp:unauthorized-access',
  'amqp:not-allowed',
  'amqp:invalid-field',
  'amqp:not-implemented',
  'amqp:precondition-failed',
]);

export function isPermanent(error: Error | undefined): boolean {
  const condition = (error as { condition?: unknown } | undefined)?.condition;
  return typeof condition === 'string' && PERMANENT_CONDITIONS.has(condition);
}

export interface LinkSetup<L extends Sender | Receiver> {
  /** For logs: `amqp10 source orders (route r1)`. */
  name: string;
  /** Opens the link on a new connection (rhea `open_sender` / `open_receiver` with its options). */
  open(connection: Connection): L;
  /** Called once the broker attached it (a receiver gives its first credit here). */
  attached?(link: L): void;
  /** Called when a link that was attached is gone (detached, or its connection lost). */
  lost?(link: L): void;
  /**
   * On close, detach instead of closing: the broker keeps what the link stands for (a durable
   * subscription). Closing it would delete the subscription with everything in it.
   */
  detachOnClose?: boolean;
}

/**
 * Keeps one link open for a source or destination: on every connection the client makes, and
 * again (after a backoff) when the broker detaches it while the connection stays. A link refused
 * at attach time (the broker answers the attach with no terminus, then detaches with an error)
 * never counts as attached.
 */
export class Amqp10LinkKeeper<L extends Sender | Receiver> {
  private link?: L;
  private attachedLink?: L;
  private lastError?: Error;
  private failures = 0;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  private readonly sleeps = new Set<{ cancel(): void }>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly client: Amqp10Client,
    private readonly setup: LinkSetup<L>,
    private readonly logger: ConnectorLogger,
  ) {
    this.unsubscribe.push(
      client.onDisconnect((connection, error) => {
        const link = this.link;
        if (!link || link.connection !== connection) return;
        this.link = undefined;
        if (error) this.lastError = error;
        this.gone(link);
      }),
      client.onConnect((connection) => this.open(connection)),
    );
  }

  /** The attached link, if any. */
  get current(): L | undefined {
    return this.attachedLink;
  }

  /** The attached link; waits up to `timeoutMs` for one. Fails at once on a permanent refusal. */
  async ready(timeoutMs: number): Promise<L> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw new ConnectorError('CLOSED', `${this.setup.name} is closed`, false);
      if (this.attachedLink) return this.attachedLink;
      if (isPermanent(this.lastError))
        throw new ConnectorError(
          'REJECTED',
          `${this.setup.name}: ${errorText(this.lastError)}`,
          false,
          { cause: this.lastError },
        );
      const left = deadline - Date.now();
      if (left <= 0) {
        const why = this.lastError ?? this.client.error;
        throw new ConnectorError(
          this.client.current ? 'TIMEOUT' : 'UNREACHABLE',
          `${this.setup.name}: not attached within ${timeoutMs} ms${why ? `: ${errorText(why)}` : ''}`,
          true,
          { cause: why },
        );
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Closes (or detaches) the link and waits, bounded, for the broker to confirm. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    for (const sleep of this.sleeps) sleep.cancel();
    this.wake();
    const link = this.link;
    this.link = undefined;
    this.attachedLink = undefined;
    if (!link || !link.connection.is_open()) return;
    const kind = link.is_receiver() ? 'receiver' : 'sender';
    const connection = link.connection;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        link.removeListener(`${kind}_close`, done);
        link.removeListener(`${kind}_error`, done);
        connection.removeListener('disconnected', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      link.once(`${kind}_close`, done);
      link.once(`${kind}_error`, done);
      connection.once('disconnected', done);
      try {
        if (this.setup.detachOnClose) link.detach();
        else link.close();
      } catch {
        done();
      }
    });
  }

  private open(connection: Connection): void {
    if (this.closed || !connection.is_open()) return;
    let link: L;
    try {
      link = this.setup.open(connection);
    } catch (err) {
      this.lastError = err instanceof Error ? err : new Error(String(err));
      this.logger.warn(`${this.setup.name}: cannot open its link: ${errorText(err)}`);
      return;
    }
    this.link = link;
    const kind = link.is_receiver() ? 'receiver' : 'sender';
    link.on(`${kind}_open`, () => {
      const attach = (
        link as unknown as { remote?: { attach?: { source?: unknown; target?: unknown } } }
      ).remote?.attach;
      const terminus = link.is_receiver() ? attach?.source : attach?.target;
      // No terminus: a refusal; the detach with its reason follows.
      if (this.closed || this.link !== link || terminus === undefined || terminus === null) return;
      if (this.failures > 0) this.logger.info(`${this.setup.name}: attached again`);
      this.failures = 0;
      this.lastError = undefined;
      this.attachedLink = link;
      this.setup.attached?.(link);
      this.wake();
    });
    const onDetach = (context: EventContext): void => {
      if (this.link !== link) return;
      this.link = undefined;
      const remote = kind === 'receiver' ? context.receiver : context.sender;
      this.lastError = amqpError(remote?.error, 'the broker detached the link');
      if (!this.closed)
        this.logger.warn(`${this.setup.name}: link detached: ${errorText(this.lastError)}`);
      try {
        if (!link.is_itself_closed()) link.close();
      } catch {
        // the connection went meanwhile
      }
      this.gone(link);
      this.reopenLater(connection);
    };
    link.on(`${kind}_error`, onDetach);
    link.on(`${kind}_close`, onDetach);
  }

  private gone(link: L): void {
    if (this.attachedLink === link) {
      this.attachedLink = undefined;
      this.setup.lost?.(link);
    }
    this.wake();
  }

  /** The broker detached the link but the connection stays: attach again after a backoff. */
  private reopenLater(connection: Connection): void {
    if (this.closed) return;
    this.failures += 1;
    const sleep = cancellableSleep(backoffDelay(this.failures - 1, 200, 10_000));
    this.sleeps.add(sleep);
    void sleep.promise.then(() => {
      this.sleeps.delete(sleep);
      if (!this.closed && !this.link && this.client.current === connection) this.open(connection);
    });
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
    this.waiters.clear();
  }
}
