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
    /** The key it came from (see ApiKeyEntity.createdByKeyId); none when absent. */
    createdByKeyId?: string | null;
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

  /**
   * What came from a key: it and every key made by one of them (transitively), and the users made
   * by any of them that are not disabled yet. Read only: the caller ends them.
   */
  async madeThrough(id: string): Promise<{ keyIds: string[]; userIds: string[] }> {
    const keys = await this.db.query<{ id: string }[]>(
      `WITH RECURSIVE made(id) AS (
         SELECT id FROM api_keys WHERE id = $1
         UNION SELECT k.id FROM api_keys k JOIN made m ON k.created_by_key_id = m.id)
       SELECT id FROM made`,
      [id],
    );
    const keyIds = keys.map((k) => k.id);
    if (keyIds.length === 0) return { keyIds, userIds: [] };
    const users = await this.db.query<{ id: string }[]>(
      `SELECT id FROM users WHERE created_by_key_id = ANY($1::uuid[]) AND NOT disabled ORDER BY created_at`,
      [keyIds],
    );
    return { keyIds, userIds: users.map((u) => u.id) };
  }

  /** Revokes those of `ids` still live, at once; answers which it revoked. */
  async revokeMany(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query<{ id: string }[]>(
      `UPDATE api_keys SET revoked_at = now() WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL RETURNING id`,
      [ids],
    );
    await this.keyChanges.committed();
    return (Array.isArray(rows[0]) ? (rows[0] as { id: string }[]) : rows).map((r) => r.id);
  }

  async touch(id: string): Promise<void> {
    await this.db.getRepository(ApiKeyEntity).update({ id }, { lastUsedAt: new Date() });
  }
}
