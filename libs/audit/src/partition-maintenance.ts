import { AuditLog } from './chain-writer';
import { AuditTrail } from './audit-trail';
import { ChainTableName } from './audit-tables';
import { AuditRepository } from './audit.repository';

export interface MaintenanceOptions {
  /** Days of partitions made ahead of today (UTC). */
  aheadDays: number;
  /** Keep this many whole days (UTC) before today; older day partitions are dropped. Unset: keep all. */
  retentionDays?: number;
}

const TABLES: ChainTableName[] = ['audit_messages', 'audit_events'];

/** Day partitions ahead of time, and retention by dropping whole days (never deleting rows). */
export class PartitionMaintenance {
  constructor(
    private readonly trail: AuditTrail,
    private readonly repo: AuditRepository,
    private readonly options: MaintenanceOptions,
    private readonly log: AuditLog,
  ) {}

  async run(now: Date = new Date()): Promise<{ dropped: string[] }> {
    await this.trail.ensurePartitions(this.options.aheadDays);
    const dropped = this.options.retentionDays
      ? await this.dropOlderThan(this.options.retentionDays, now)
      : [];
    return { dropped };
  }

  /** Drops day partitions wholly older than `days` days before `now`'s UTC day, oldest first. */
  async dropOlderThan(days: number, now: Date = new Date()): Promise<string[]> {
    if (!Number.isInteger(days) || days < 1)
      throw new Error('retention must keep at least one whole day');
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const cutoff = new Date(today - days * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    const dropped: string[] = [];
    for (const table of TABLES) {
      for (const partition of await this.repo.partitions(table)) {
        const day = new RegExp(`^${table}_p(\\d{8})$`).exec(partition)?.[1];
        if (!day || day >= cutoff) continue;
        await this.repo.dropPartition(table, partition);
        dropped.push(partition);
        this.log.log(`retention: dropped ${partition}`);
      }
    }
    return dropped;
  }
}
