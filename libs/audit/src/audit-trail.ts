import type { MessageAuditSink, MessageRecord } from '@junction/runtime';
import { AuditEventInput, eventRow, messageRowText } from './audit-rows';
import { AuditSession, AuditSessionOptions } from './audit-session';
import { EventRow, EVENTS, MESSAGE_APPENDER, MessageRowText } from './audit-tables';
import {
  AuditLog,
  ChainWriter,
  ChainWriterOptions,
  ChainWriterStats,
  DEFAULT_PIPELINE_DEPTH,
} from './chain-writer';

export interface AuditTrailOptions extends AuditSessionOptions, Omit<ChainWriterOptions, 'log'> {
  log?: AuditLog;
}

/**
 * The writing side of the audit trail, plain TypeScript (the Nest module only wires it, and a
 * bench can use it alone): a group-commit writer per table, each on its own connection as the
 * audit writer role.
 */
export class AuditTrail {
  /** What the route runtime records finished messages into (resolves once durable). */
  readonly messages: MessageAuditSink = { record: (record) => this.recordMessage(record) };
  private readonly messageWriter: ChainWriter<MessageRowText>;
  private readonly eventWriter: ChainWriter<EventRow>;
  private readonly partitions: AuditSession;

  constructor(options: AuditTrailOptions) {
    const session = (name: string) =>
      new AuditSession({
        ...options,
        applicationName: options.applicationName ?? name,
        pipeline: (options.pipelineDepth ?? DEFAULT_PIPELINE_DEPTH) > 1,
      });
    this.messageWriter = new ChainWriter(
      MESSAGE_APPENDER,
      session('junction-audit-messages'),
      options,
    );
    this.eventWriter = new ChainWriter(EVENTS, session('junction-audit-events'), options);
    this.partitions = session('junction-audit-partitions');
  }

  recordMessage(record: MessageRecord): Promise<void> {
    try {
      return this.messageWriter.append(messageRowText(record));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  recordEvent(event: AuditEventInput): Promise<void> {
    try {
      return this.eventWriter.append(eventRow(event));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * Makes the day partitions from `fromDay` days ago to `aheadDays` days ahead (UTC), as the
   * writer role may (through the migration's SECURITY DEFINER function).
   */
  async ensurePartitions(aheadDays = 7, fromDay = -1): Promise<void> {
    try {
      await this.partitions.use(async (client) => {
        for (let day = fromDay; day <= aheadDays; day++) {
          await client.query(
            `SELECT audit_ensure_partition((now() AT TIME ZONE 'UTC')::date + $1::int)`,
            [day],
          );
        }
      });
    } finally {
      await this.partitions.close();
    }
  }

  /** Waits until everything recorded so far is committed. */
  async flush(): Promise<void> {
    await Promise.all([this.messageWriter.flush(), this.eventWriter.flush()]);
  }

  /** Flushes, then closes the connections; records given after this are refused. */
  async close(): Promise<void> {
    await Promise.all([this.messageWriter.close(), this.eventWriter.close()]);
    await this.partitions.close();
  }

  stats(): { messages: ChainWriterStats; events: ChainWriterStats } {
    return { messages: this.messageWriter.stats(), events: this.eventWriter.stats() };
  }
}

/** For code outside Nest (benches, tools): an audit trail writing to `databaseUrl`. */
export function createAuditTrail(options: AuditTrailOptions): AuditTrail {
  return new AuditTrail(options);
}
