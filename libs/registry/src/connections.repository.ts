import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ConnectionEntity } from './entities/connection.entity';
import { RouteEntity } from './entities/route.entity';
import { RouteVersionEntity } from './entities/route-version.entity';
import { ROUTE_CHANNEL } from './routes.repository';

@Injectable()
export class ConnectionsRepository {
  constructor(private readonly db: DataSource) {}

  list(): Promise<ConnectionEntity[]> {
    return this.db.getRepository(ConnectionEntity).find({ order: { name: 'ASC' } });
  }

  find(name: string): Promise<ConnectionEntity | null> {
    return this.db.getRepository(ConnectionEntity).findOneBy({ name });
  }

  findMany(names: string[]): Promise<ConnectionEntity[]> {
    if (names.length === 0) return Promise.resolve([]);
    return this.db
      .getRepository(ConnectionEntity)
      .createQueryBuilder('c')
      .where('c.name IN (:...names)', { names })
      .getMany();
  }

  async insert(connection: Omit<ConnectionEntity, 'createdAt'>): Promise<void> {
    await this.db
      .getRepository(ConnectionEntity)
      .insert(connection as QueryDeepPartialEntity<ConnectionEntity>);
  }

  async save(connection: Omit<ConnectionEntity, 'createdAt'>): Promise<void> {
    await this.db
      .getRepository(ConnectionEntity)
      .update({ name: connection.name }, connection as QueryDeepPartialEntity<ConnectionEntity>);
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.db.getRepository(ConnectionEntity).delete({ name });
    return (result.affected ?? 0) > 0;
  }

  /**
   * Tells every gateway process (this one too) that the routes using this connection changed:
   * each restarts the ones it runs, so a new URL, password or certificate is taken up at once.
   */
  async notifyRoutesUsing(name: string): Promise<string[]> {
    const ids = await this.routesUsing(name);
    for (const id of ids) await this.db.query('SELECT pg_notify($1, $2)', [ROUTE_CHANNEL, id]);
    return ids;
  }

  /** Routes (not deleted) whose active version names this connection, with that version. */
  async activeRoutesUsing(name: string): Promise<Array<{ id: string; activeVersion: number }>> {
    const rows = await this.db
      .getRepository(RouteVersionEntity)
      .createQueryBuilder('v')
      .innerJoin(RouteEntity, 'r', 'r.id = v.routeId AND v.version = r.activeVersion')
      .where('r.deletedAt IS NULL')
      .andWhere(
        `(v.document->'source'->>'connection' = :name
          OR v.document->'errors'->'deadLetter'->>'connection' = :name
          OR EXISTS (SELECT 1 FROM jsonb_array_elements(v.document->'destinations') d WHERE d->>'connection' = :name))`,
        { name },
      )
      .select('v.routeId', 'id')
      .addSelect('v.version', 'activeVersion')
      .orderBy('v.routeId')
      .getRawMany<{ id: string; activeVersion: number }>();
    return rows.map((r) => ({ id: r.id, activeVersion: Number(r.activeVersion) }));
  }

  /**
   * The documents (active and latest version of every route not deleted) that name this
   * connection anywhere: where the console finds the queue, exchange and topic names in use.
   */
  async documentsUsing(name: string): Promise<unknown[]> {
    const rows = await this.db
      .getRepository(RouteVersionEntity)
      .createQueryBuilder('v')
      .innerJoin(
        RouteEntity,
        'r',
        'r.id = v.routeId AND (v.version = r.latestVersion OR v.version = r.activeVersion)',
      )
      .where('r.deletedAt IS NULL')
      .andWhere(
        `(v.document->'source'->>'connection' = :name
          OR v.document->'errors'->'deadLetter'->>'connection' = :name
          OR EXISTS (SELECT 1 FROM jsonb_array_elements(v.document->'destinations') d WHERE d->>'connection' = :name))`,
        { name },
      )
      .select('v.document', 'document')
      .getRawMany<{ document: unknown }>();
    return rows.map((r) => r.document);
  }

  /** Routes (not deleted) whose latest or active version names this connection. */
  async routesUsing(name: string): Promise<string[]> {
    const rows = await this.db
      .getRepository(RouteVersionEntity)
      .createQueryBuilder('v')
      .innerJoin(
        RouteEntity,
        'r',
        'r.id = v.routeId AND (v.version = r.latestVersion OR v.version = r.activeVersion)',
      )
      .where('r.deletedAt IS NULL')
      .andWhere(
        `(v.document->'source'->>'connection' = :name
          OR v.document->'errors'->'deadLetter'->>'connection' = :name
          OR EXISTS (SELECT 1 FROM jsonb_array_elements(v.document->'destinations') d WHERE d->>'connection' = :name))`,
        { name },
      )
      .select('DISTINCT v.routeId', 'id')
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id).sort();
  }
}
