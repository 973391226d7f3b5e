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
