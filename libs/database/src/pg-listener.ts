import { Client } from 'pg';

/**
 * Hears one Postgres LISTEN/NOTIFY channel (what every gateway process announces there, such as
 * a route change or an ended API key) on a connection of its own, and reconnects after a lost
 * connection. On reconnect it asks for a full resync, since notifications sent while it was away
 * are gone. A resync that fails (the database that dropped the connection may still refuse
 * queries) is asked for again until one succeeds: it never becomes an unhandled rejection, which
 * ends the process, nor leaves changes made meanwhile unapplied.
 */
export class PgListener {
  private client?: Client;
  private closed = false;
  private retryTimer?: NodeJS.Timeout;
  /** Counts connection losses: a resync or reconnection of an earlier one stops. */
  private generation = 0;

  constructor(
    private readonly connectionString: string,
    private readonly channel: string,
    private readonly onChange: (payload: string) => void,
    private readonly onResync: () => void | Promise<void>,
    private readonly log: { warn(message: string): void },
    /** The wait before reconnecting, or resyncing again after a resync failed. */
    private readonly retryMs = 1000,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.connectionString,
      application_name: `junction-listener-${this.channel}`.slice(0, 63),
    });
    client.on('notification', (n) => {
      if (n.channel === this.channel) this.onChange(n.payload ?? '');
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    await client.connect();
    await client.query(`LISTEN ${this.channel}`);
    this.client = client;
  }

  private lost(client: Client, err: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    this.log.warn(`listener on ${this.channel} lost its connection (${err.message}); reconnecting`);
    // One reconnection (and resync) at a time: a loss ends the one under way.
    const generation = ++this.generation;
    clearTimeout(this.retryTimer);
    const retry = () => {
      this.retryTimer = setTimeout(() => {
        if (this.closed || generation !== this.generation) return;
        this.connect().then(
          () => this.resync(generation),
          () => retry(),
        );
      }, this.retryMs);
      this.retryTimer.unref();
    };
    retry();
  }

  private resync(generation: number): void {
    if (this.closed || generation !== this.generation) return;
    Promise.resolve()
      .then(() => this.onResync())
      .catch((err: unknown) => {
        if (this.closed || generation !== this.generation) return;
        this.log.warn(
          `listener on ${this.channel} could not resync (${(err as Error)?.message ?? String(err)}); trying again`,
        );
        this.retryTimer = setTimeout(() => this.resync(generation), this.retryMs);
        this.retryTimer.unref();
      });
  }
}
