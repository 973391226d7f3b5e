import { randomUUID } from 'node:crypto';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PgListener } from '@junction/database';
import { ApiKeyCache } from './api-key-cache';

/** Where every gateway process announces a committed change to API keys, users or role grants. */
export const API_KEY_CHANNEL = 'junction_api_keys';

/**
 * Keeps every gateway process's ApiKeyCache honest: a revoked key, or its owner disabled,
 * deleted or given other roles, stops working in every process on the database once the change
 * commits (Postgres NOTIFY), not only in the one that made it. Should the listening connection be
 * down, the cache's own lifetime still bounds how long a stale entry lives, and a reconnect
 * forgets everything.
 */
@Injectable()
export class ApiKeyChanges implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('ApiKeyChanges');
  /** This process, in its own announcements: it has already forgotten by then. */
  private readonly instance = randomUUID();
  private listener?: PgListener;

  constructor(
    private readonly db: DataSource,
    private readonly cache: ApiKeyCache,
  ) {}

  /** A change to keys, users or grants is committed: forget here, and tell the other processes. */
  async committed(): Promise<void> {
    this.cache.clear();
    try {
      await this.db.query('SELECT pg_notify($1, $2)', [API_KEY_CHANNEL, this.instance]);
    } catch (err) {
      this.log.warn(
        `other gateway processes were not told of an API key change (${(err as Error).message}); ` +
          'their cached keys expire within seconds',
      );
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    const url = (this.db.options as { url?: string }).url;
    if (!url) return;
    this.listener = new PgListener(
      url,
      API_KEY_CHANNEL,
      (from) => {
        if (from !== this.instance) this.cache.clear();
      },
      () => this.cache.clear(),
      this.log,
    );
    await this.listener.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener?.stop();
  }
}
