import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RouteSampleEntity } from './entities/route-sample.entity';

@Injectable()
export class SamplesRepository {
  constructor(private readonly db: DataSource) {}

  list(routeId: string): Promise<RouteSampleEntity[]> {
    return this.db
      .getRepository(RouteSampleEntity)
      .find({ where: { routeId }, order: { name: 'ASC' } });
  }

  find(routeId: string, name: string): Promise<RouteSampleEntity | null> {
    return this.db.getRepository(RouteSampleEntity).findOneBy({ routeId, name });
  }

  /** How many samples the route has besides `name`, and their sealed text's size in bytes. */
  async others(routeId: string, name: string): Promise<{ count: number; bytes: number }> {
    const [row] = (await this.db.query(
      `SELECT count(*)::int AS count, coalesce(sum(octet_length(sealed)), 0)::float8 AS bytes
         FROM route_samples WHERE route_id = $1 AND name <> $2`,
      [routeId, name],
    )) as Array<{ count: number; bytes: number }>;
    return row;
  }

  async upsert(routeId: string, name: string, sealed: string, updatedBy: string): Promise<void> {
    await this.db
      .createQueryBuilder()
      .insert()
      .into(RouteSampleEntity)
      .values({ routeId, name, sealed, updatedBy, updatedAt: new Date() })
      .orUpdate(['sealed', 'updated_by', 'updated_at'], ['route_id', 'name'])
      .execute();
  }

  /** True when there was one to delete. */
  async delete(routeId: string, name: string): Promise<boolean> {
    const result = await this.db.getRepository(RouteSampleEntity).delete({ routeId, name });
    return (result.affected ?? 0) > 0;
  }
}
