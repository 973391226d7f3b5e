import { Injectable } from '@nestjs/common';
import { DataSource, IsNull } from 'typeorm';
import { ApiKeyEntity } from './entities/api-key.entity';
import { Role } from './roles';

@Injectable()
export class ApiKeysRepository {
  constructor(private readonly db: DataSource) {}

  list(): Promise<ApiKeyEntity[]> {
    return this.db.getRepository(ApiKeyEntity).find({ order: { createdAt: 'DESC' } });
  }

  async create(key: {
    name: string;
    prefix: string;
    keyHash: string;
    roles: Role[];
    ingestRoutes: string[] | null;
    createdBy: string;
    expiresAt: Date | null;
  }): Promise<ApiKeyEntity> {
    const repo = this.db.getRepository(ApiKeyEntity);
    const saved = await repo.save(repo.create(key));
    return (await repo.findOneBy({ id: saved.id }))!;
  }

  /** With the hash, for checking a presented key. */
  findByPrefix(prefix: string): Promise<ApiKeyEntity | null> {
    return this.db
      .getRepository(ApiKeyEntity)
      .createQueryBuilder('k')
      .addSelect('k.keyHash')
      .where('k.prefix = :prefix', { prefix })
      .getOne();
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.db
      .getRepository(ApiKeyEntity)
      .update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  async touch(id: string): Promise<void> {
    await this.db.getRepository(ApiKeyEntity).update({ id }, { lastUsedAt: new Date() });
  }
}
