import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import type { RouteDocument } from '@junction/pipeline';
import { RouteEntity } from './entities/route.entity';
import { RouteVersionEntity } from './entities/route-version.entity';

/** Where every gateway process hears of route changes (Postgres LISTEN/NOTIFY). */
export const ROUTE_CHANNEL = 'junction_routes';

@Injectable()
export class RoutesRepository {
  constructor(private readonly db: DataSource) {}

  /** Every route that is not deleted, with its latest version's document, in one query. */
  async listWithLatest(): Promise<Array<{ route: RouteEntity; document: RouteDocument }>> {
    const routes = await this.db
      .getRepository(RouteEntity)
      .find({ where: { deletedAt: IsNull() }, order: { id: 'ASC' } });
    if (routes.length === 0) return [];
    const versions = await this.db
      .getRepository(RouteVersionEntity)
      .createQueryBuilder('v')
      .innerJoin(RouteEntity, 'r', 'r.id = v.routeId AND v.version = r.latestVersion')
      .where('r.deletedAt IS NULL')
      .getMany();
    const documents = new Map(versions.map((v) => [v.routeId, v.document]));
    return routes.map((route) => ({ route, document: documents.get(route.id)! }));
  }

  find(id: string, manager: EntityManager = this.db.manager): Promise<RouteEntity | null> {
    return manager.getRepository(RouteEntity).findOne({ where: { id, deletedAt: IsNull() } });
  }

  findVersion(id: string, version: number): Promise<RouteVersionEntity | null> {
    return this.db.getRepository(RouteVersionEntity).findOneBy({ routeId: id, version });
  }

  listVersions(id: string): Promise<RouteVersionEntity[]> {
    return this.db
      .getRepository(RouteVersionEntity)
      .find({ where: { routeId: id }, order: { version: 'DESC' } });
  }

  /** Runs `work` in a transaction holding the route's row lock, so versions are numbered without gaps or races. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  async lock(manager: EntityManager, id: string): Promise<RouteEntity | null> {
    return manager
      .getRepository(RouteEntity)
      .createQueryBuilder('r')
      .setLock('pessimistic_write')
      .where('r.id = :id', { id })
      .getOne();
  }

  async insertRoute(manager: EntityManager, id: string): Promise<void> {
    await manager.getRepository(RouteEntity).insert({
      id,
      latestVersion: 1,
      activeVersion: null,
      desiredState: 'running',
      updatedAt: new Date(),
      deletedAt: null,
    });
  }

  async addVersion(
    manager: EntityManager,
    version: {
      routeId: string;
      version: number;
      document: RouteDocument;
      checksum: string;
      source: string;
      sourceFormat: 'yaml' | 'json';
      author: string;
      comment: string | null;
    },
  ): Promise<RouteVersionEntity> {
    await manager
      .getRepository(RouteVersionEntity)
      .insert(version as QueryDeepPartialEntity<RouteVersionEntity>);
    return (await manager
      .getRepository(RouteVersionEntity)
      .findOneBy({ routeId: version.routeId, version: version.version }))!;
  }

  async updateRoute(
    manager: EntityManager,
    id: string,
    changes: Partial<
      Pick<RouteEntity, 'latestVersion' | 'activeVersion' | 'desiredState' | 'deletedAt'>
    >,
  ): Promise<void> {
    await manager.getRepository(RouteEntity).update({ id }, { ...changes, updatedAt: new Date() });
  }

  async notify(manager: EntityManager, id: string): Promise<void> {
    await manager.query('SELECT pg_notify($1, $2)', [ROUTE_CHANNEL, id]);
  }
}
