import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, QueryFailedError } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import type { RouteSpec } from '@junction/connectors';
import { RouteEntity } from './entities/route.entity';
import { RouteVersionEntity } from './entities/route-version.entity';

/** Where every gateway process hears of route changes (Postgres LISTEN/NOTIFY). */
export const ROUTE_CHANNEL = 'junction_routes';

/** A unique index refused a row: another transaction stored the same key first. */
export function isUniqueViolation(err: unknown): boolean {
  return (
    err instanceof QueryFailedError &&
    (err.driverError as { code?: string } | undefined)?.code === '23505'
  );
}

/** A version as the list shows it: no document, no source. */
export type VersionListing = Omit<RouteVersionEntity, 'document' | 'source' | 'sourceFormat'>;

@Injectable()
export class RoutesRepository {
  constructor(private readonly db: DataSource) {}

  /** Every route that is not deleted, with the document that runs (the active version's, else the latest's), in one query. */
  async listWithDocument(): Promise<Array<{ route: RouteEntity; document: RouteSpec }>> {
    const routes = await this.db
      .getRepository(RouteEntity)
      .find({ where: { deletedAt: IsNull() }, order: { id: 'ASC' } });
    if (routes.length === 0) return [];
    const versions = await this.db
      .getRepository(RouteVersionEntity)
      .createQueryBuilder('v')
      .innerJoin(
        RouteEntity,
        'r',
        'r.id = v.routeId AND v.incarnation = r.incarnation AND v.version = COALESCE(r.activeVersion, r.latestVersion)',
      )
      .where('r.deletedAt IS NULL')
      .getMany();
    const documents = new Map(versions.map((v) => [v.routeId, v.document]));
    return routes.map((route) => ({ route, document: documents.get(route.id)! }));
  }

  find(id: string, manager: EntityManager = this.db.manager): Promise<RouteEntity | null> {
    return manager.getRepository(RouteEntity).findOne({ where: { id, deletedAt: IsNull() } });
  }

  findVersion(
    id: string,
    incarnation: number,
    version: number,
    manager: EntityManager = this.db.manager,
  ): Promise<RouteVersionEntity | null> {
    return manager
      .getRepository(RouteVersionEntity)
      .findOneBy({ routeId: id, incarnation, version });
  }

  /**
   * Every version of one incarnation, newest first, without its document and source: the list
   * shows neither, and an editor can make thousands of versions of a 128 KiB text (400 of them
   * loaded 100 MB for each viewer's list).
   */
  listVersions(id: string, incarnation: number): Promise<VersionListing[]> {
    return this.db.getRepository(RouteVersionEntity).find({
      select: {
        routeId: true,
        incarnation: true,
        version: true,
        author: true,
        comment: true,
        checksum: true,
        createdAt: true,
      },
      where: { routeId: id, incarnation },
      order: { version: 'DESC' },
    });
  }

  /** Every incarnation of a route id, deleted ones included, oldest first. */
  async incarnations(
    id: string,
  ): Promise<Array<{ incarnation: number; versions: number; from: Date; to: Date }>> {
    const rows: Array<{ incarnation: number; versions: number; from: Date; to: Date }> =
      await this.db.query(
        `SELECT incarnation, count(*)::int AS versions, min(created_at) AS "from", max(created_at) AS "to"
           FROM route_versions WHERE route_id = $1 GROUP BY incarnation ORDER BY incarnation`,
        [id],
      );
    return rows;
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
      incarnation: 1,
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
      incarnation: number;
      version: number;
      document: RouteSpec;
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
    return (await manager.getRepository(RouteVersionEntity).findOneBy({
      routeId: version.routeId,
      incarnation: version.incarnation,
      version: version.version,
    }))!;
  }

  async updateRoute(
    manager: EntityManager,
    id: string,
    changes: Partial<
      Pick<
        RouteEntity,
        'incarnation' | 'latestVersion' | 'activeVersion' | 'desiredState' | 'deletedAt'
      >
    >,
  ): Promise<void> {
    await manager.getRepository(RouteEntity).update({ id }, { ...changes, updatedAt: new Date() });
  }

  /**
   * Makes `paths` (normalised) the ingest paths `routeId` holds: claims the new ones and lets go
   * of the others. Answers the paths another route holds already, with that route (nothing
   * claimed then: the caller rolls back). The primary key of ingest_paths decides between
   * concurrent claims in any process: the later one waits for the earlier's commit, then finds
   * the path taken.
   */
  async claimPaths(
    manager: EntityManager,
    routeId: string,
    paths: string[],
  ): Promise<Array<{ path: string; routeId: string }>> {
    await manager.query(`DELETE FROM ingest_paths WHERE route_id = $1 AND NOT (path = ANY($2))`, [
      routeId,
      paths,
    ]);
    if (paths.length === 0) return [];
    await manager.query(
      `INSERT INTO ingest_paths (path, route_id) SELECT unnest($1::text[]), $2
         ON CONFLICT (path) DO NOTHING`,
      [paths, routeId],
    );
    const taken: Array<{ path: string; route_id: string }> = await manager.query(
      `SELECT path, route_id FROM ingest_paths WHERE path = ANY($1) AND route_id <> $2 ORDER BY path`,
      [paths, routeId],
    );
    return taken.map((t) => ({ path: t.path, routeId: t.route_id }));
  }

  /** The route that holds a normalised ingest path, and whether and what it runs. */
  async pathOwner(
    path: string,
  ): Promise<{ routeId: string; desiredState: 'running' | 'stopped' } | null> {
    const rows: Array<{ id: string; desired_state: 'running' | 'stopped' }> = await this.db.query(
      `SELECT r.id, r.desired_state FROM ingest_paths p JOIN routes r ON r.id = p.route_id
        WHERE p.path = $1 AND r.deleted_at IS NULL`,
      [path],
    );
    return rows[0] ? { routeId: rows[0].id, desiredState: rows[0].desired_state } : null;
  }

  /**
   * Serialises the checks of where routes read (sourceClaim) across processes: every write that
   * may give a route a new source takes this lock first, so two at once cannot both pass.
   */
  async lockSources(manager: EntityManager): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext('junction.route-sources'))`);
  }

  /**
   * The active and latest documents of every other live route whose source is of `type` on
   * `connection` (the only ones whose source can be the same place).
   */
  async sourcesOn(
    manager: EntityManager,
    type: string,
    connection: string,
    exceptId: string,
  ): Promise<Array<{ routeId: string; document: RouteSpec }>> {
    const rows: Array<{ route_id: string; document: RouteSpec }> = await manager.query(
      `SELECT v.route_id, v.document FROM routes r JOIN route_versions v
          ON v.route_id = r.id AND v.incarnation = r.incarnation
         AND (v.version = r.latest_version OR v.version = r.active_version)
        WHERE r.deleted_at IS NULL AND r.id <> $3
          AND v.document->'source'->>'type' = $1 AND v.document->'source'->>'connection' = $2
        ORDER BY v.route_id`,
      [type, connection, exceptId],
    );
    return rows.map((r) => ({ routeId: r.route_id, document: r.document }));
  }

  async notify(manager: EntityManager, id: string): Promise<void> {
    await manager.query('SELECT pg_notify($1, $2)', [ROUTE_CHANNEL, id]);
  }
}
