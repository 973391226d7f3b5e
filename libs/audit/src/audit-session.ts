import { Client, ClientConfig } from 'pg';

/** The role audit writes run as: INSERT and SELECT on audit rows, no UPDATE, DELETE or TRUNCATE. */
export const AUDIT_WRITER_ROLE = 'junction_audit_writer';

export interface AuditSessionOptions {
  databaseUrl: string;
  /** Longest a statement may run on the server (and, plus a margin, wait on the client). */
  statementTimeoutMs?: number;
  /** Longest a batch waits for another process's lock on the chain head. */
  lockTimeoutMs?: number;
  /** A session that died mid-batch (network cut) releases the chain head after this. */
  idleInTransactionTimeoutMs?: number;
  connectTimeoutMs?: number;
  applicationName?: string;
  /** Send statements without waiting for the answers before (pg's pipeline mode). */
  pipeline?: boolean;
}

/**
 * What every audit writer session runs first. The role switch is what makes the grants of the
 * audit migration apply even when the gateway connects as the tables' owner or a superuser;
 * synchronous_commit is set explicitly because a record is acknowledged as durable on COMMIT.
 */
export function auditSessionSetup(options: Omit<AuditSessionOptions, 'databaseUrl'> = {}): string {
  return [
    `SET ROLE ${AUDIT_WRITER_ROLE}`,
    `SET synchronous_commit TO on`,
    `SET statement_timeout TO ${Math.round(options.statementTimeoutMs ?? 30_000)}`,
    `SET lock_timeout TO ${Math.round(options.lockTimeoutMs ?? 5_000)}`,
    `SET idle_in_transaction_session_timeout TO ${Math.round(options.idleInTransactionTimeoutMs ?? 30_000)}`,
    `SET TIME ZONE 'UTC'`,
  ].join('; ');
}

/**
 * One connection of the audit writer, as the writer role. Any error on it ends it, and the next
 * use connects afresh: a batch never runs on a session whose state is unknown.
 */
export class AuditSession {
  private client?: Client;
  private connecting?: Promise<Client>;

  constructor(private readonly options: AuditSessionOptions) {}

  async use<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await work(client);
    } catch (err) {
      // Whatever state the session is in (aborted transaction, dead socket), do not reuse it.
      this.discard(client);
      throw err;
    }
  }

  /** Whether statements go without waiting for the answers before (pg's pipeline mode). */
  get pipelined(): boolean {
    return this.options.pipeline === true;
  }

  /** The server process serving this session's connection, if connected (for cost measurement). */
  backendPid(): number | null {
    return (this.client as { processID?: number } | undefined)?.processID ?? null;
  }

  async close(): Promise<void> {
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    this.connecting = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const statementTimeoutMs = this.options.statementTimeoutMs ?? 30_000;
      const config: ClientConfig = {
        connectionString: this.options.databaseUrl,
        application_name: this.options.applicationName ?? 'junction-audit',
        keepAlive: true,
        connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5_000,
        // A silently dead connection must fail the batch (to be retried), not hang it.
        query_timeout: statementTimeoutMs + 5_000,
        // A batch may be sent while the one before commits (the chain writer's pipelineDepth 2):
        // Postgres runs them in order on this one connection.
        ...(this.options.pipeline ? ({ pipeline: true } as ClientConfig) : {}),
      };
      const client = new Client(config);
      client.on('error', () => this.discard(client));
      try {
        await client.connect();
        await client.query(auditSessionSetup(this.options));
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private discard(client: Client): void {
    if (this.client === client) this.client = undefined;
    void client.end().catch(() => undefined);
  }
}
