import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { ApiKeyChanges } from './api-key-changes';
import { ApiKeyEntity } from './entities/api-key.entity';
import { Role } from './roles';

/** A presented key's row with what its owner is now (null: the owner is gone). */
export interface KeyForUse {
  key: ApiKeyEntity;
  owner: { id: string; username: string; disabled: boolean; roles: Role[] } | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class ApiKeysRepository {
  constructor(
    private readonly db: DataSource,
    private readonly keyChanges: ApiKeyChanges,
  ) {}

  list(): Promise<ApiKeyEntity[]> {
    return this.db.getRepository(ApiKeyEntity).find({ order: { createdAt: 'DESC' } });
  }

  /** A key by id (without its hash); null for none, or an id that is not a UUID. */
  find(id: string): Promise<ApiKeyEntity | null> {
    if (!UUID.test(id)) return Promise.resolve(null);
    return this.db.getRepository(ApiKeyEntity).findOneBy({ id });
  }

  async create(key: {
    name: string;
    prefix: string;
    keyHash: string;
    roles: Role[];
    ownerId: string;
    ingestRoutes: string[] | null;
    createdBy: string;
    expiresAt: Date | null;
  }): Promise<ApiKeyEntity> {
    const repo = this.db.getRepository(ApiKeyEntity);
    const saved = await repo.save(repo.create(key));
    return (await repo.findOneBy({ id: saved.id }))!;
  }

  /** With the hash, for checking a presented key, and its owner's state and roles now. */
  async findForUse(prefix: string): Promise<KeyForUse | null> {
    const key = await this.db
      .getRepository(ApiKeyEntity)
      .createQueryBuilder('k')
      .addSelect('k.keyHash')
      .where('k.prefix = :prefix', { prefix })
      .getOne();
    if (!key) return null;
    if (!key.ownerId) return { key, owner: null };
    // By table name: importing UserEntity here would reorder the entities' import cycle.
    const rows = await this.db.query<
      { id: string; username: string; disabled: boolean; roles: Role[] | null }[]
    >(
      `SELECT u.id, u.username, u.disabled,
              array_remove(array_agg(g.role), NULL) AS roles
         FROM users u LEFT JOIN role_grants g ON g.user_id = u.id
        WHERE u.id = $1 GROUP BY u.id`,
      [key.ownerId],
    );
    const owner = rows[0];
    return { key, owner: owner ? { ...owner, roles: owner.roles ?? [] } : null };
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.db
      .getRepository(ApiKeyEntity)
      .update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
    await this.keyChanges.committed();
    return (result.affected ?? 0) > 0;
  }

  /**
   * Revokes every live key of a user (disabled or deleted); inside the change's transaction, whose
   * commit UsersRepository announces (ApiKeyChanges).
   */
  async revokeAllOf(ownerId: string, manager: EntityManager = this.db.manager): Promise<number> {
    const result = await manager
      .getRepository(ApiKeyEntity)
      .update({ ownerId, revokedAt: IsNull() }, { revokedAt: new Date() });
    return result.affected ?? 0;
  }

  async touch(id: string): Promise<void> {
    await this.db.getRepository(ApiKeyEntity).update({ id }, { lastUsedAt: new Date() });
  }
}
