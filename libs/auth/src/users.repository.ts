import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ApiKeyChanges } from './api-key-changes';
import { RoleGrantEntity } from './entities/role-grant.entity';
import { IdentityProvider, UserEntity } from './entities/user.entity';
import { Role } from './roles';

export interface NewUser {
  username: string;
  provider: IdentityProvider;
  passwordHash: string | null;
  displayName?: string | null;
  email?: string | null;
  /** The API key the user came from (see UserEntity.createdByKeyId). */
  createdByKeyId?: string | null;
}

@Injectable()
export class UsersRepository {
  constructor(
    private readonly db: DataSource,
    private readonly keyChanges: ApiKeyChanges,
  ) {}

  /**
   * A user's state and roles decide what their API keys may do: cached keys are forgotten once a
   * change to them is committed, in every gateway process.
   */
  private async changing<T>(change: Promise<T>): Promise<T> {
    try {
      return await change;
    } finally {
      await this.keyChanges.committed();
    }
  }

  list(): Promise<UserEntity[]> {
    return this.db
      .getRepository(UserEntity)
      .find({ relations: { grants: true }, order: { username: 'ASC' } });
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.db
      .getRepository(UserEntity)
      .findOne({ where: { id }, relations: { grants: true } });
  }

  /** With the password hash, which is otherwise never selected. */
  findForLogin(provider: IdentityProvider, username: string): Promise<UserEntity | null> {
    return this.db
      .getRepository(UserEntity)
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .leftJoinAndSelect('u.grants', 'g')
      .where('u.provider = :provider AND u.username = :username', { provider, username })
      .getOne();
  }

  countAdmins(manager: EntityManager = this.db.manager): Promise<number> {
    return manager
      .getRepository(RoleGrantEntity)
      .createQueryBuilder('g')
      .innerJoin('g.user', 'u')
      .where(`g.role = 'admin' AND NOT u.disabled`)
      .getCount();
  }

  /** The API key a user came from, if any (see UserEntity.createdByKeyId). */
  async originKeyOf(id: string): Promise<string | null> {
    const user = await this.db.getRepository(UserEntity).findOneBy({ id });
    return user?.createdByKeyId ?? null;
  }

  /**
   * Creates a user; `check` runs first in the same transaction, with every user name taken, after
   * a lock that makes concurrent creations take turns (so two look-alike names cannot both pass).
   */
  async create(
    user: NewUser,
    roles: Role[],
    grantedBy: string,
    check?: (takenNames: string[]) => void,
  ): Promise<UserEntity> {
    return this.db.transaction(async (manager) => {
      if (check) {
        await manager.query(`SELECT pg_advisory_xact_lock(hashtext('junction.users.create'))`);
        const taken = await manager.query<{ username: string }[]>(`SELECT username FROM users`);
        check(taken.map((row) => row.username));
      }
      const saved = await manager
        .getRepository(UserEntity)
        .save(
          manager
            .getRepository(UserEntity)
            .create({ ...user, disabled: false, updatedAt: new Date() }),
        );
      await this.replaceRoles(saved.id, roles, grantedBy, manager);
      return (await manager
        .getRepository(UserEntity)
        .findOne({ where: { id: saved.id }, relations: { grants: true } }))!;
    });
  }

  async update(
    id: string,
    changes: {
      passwordHash?: string;
      disabled?: boolean;
      displayName?: string | null;
      email?: string | null;
      roles?: Role[];
      createdByKeyId?: string | null;
    },
    actor: string,
    check?: (manager: EntityManager) => Promise<void>,
    after?: (manager: EntityManager) => Promise<void>,
  ): Promise<UserEntity | null> {
    return this.changing(
      this.db.transaction(async (manager) => {
        const { roles, ...fields } = changes;
        await manager
          .getRepository(UserEntity)
          .update({ id }, { ...fields, updatedAt: new Date() });
        if (roles) await this.replaceRoles(id, roles, actor, manager);
        if (check) await check(manager);
        if (after) await after(manager);
        return manager
          .getRepository(UserEntity)
          .findOne({ where: { id }, relations: { grants: true } });
      }),
    );
  }

  async delete(
    id: string,
    check?: (manager: EntityManager) => Promise<void>,
    before?: (manager: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    return this.changing(
      this.db.transaction(async (manager) => {
        if (before) await before(manager);
        const result = await manager.getRepository(UserEntity).delete({ id });
        if (check) await check(manager);
        return (result.affected ?? 0) > 0;
      }),
    );
  }

  /**
   * A directory or identity-provider user as of this sign-in: created on first sight, its name
   * and e-mail refreshed, and its role grants replaced by `roles`, in one transaction. A user an
   * admin disabled stays disabled and keeps its grants untouched (returned as is).
   */
  async upsertExternal(
    provider: Exclude<IdentityProvider, 'local'>,
    username: string,
    profile: { displayName: string | null; email: string | null },
    roles: Role[],
  ): Promise<UserEntity> {
    return this.changing(
      this.db.transaction(async (manager) => {
        const users = manager.getRepository(UserEntity);
        // Insert or lock the row: concurrent first sign-ins of one user meet here.
        const inserted = await users
          .createQueryBuilder()
          .insert()
          .into(UserEntity)
          .values({
            username,
            provider,
            passwordHash: null,
            disabled: false,
            updatedAt: new Date(),
          })
          .orUpdate(['updated_at'], ['provider', 'username'])
          .returning(['id'])
          .execute();
        const id = (inserted.raw as { id: string }[])[0].id;
        const current = (await users.findOne({ where: { id }, relations: { grants: true } }))!;
        if (current.disabled) return current;
        await users.update({ id }, { displayName: profile.displayName, email: profile.email });
        await this.replaceRoles(id, roles, provider, manager);
        return (await users.findOne({ where: { id }, relations: { grants: true } }))!;
      }),
    );
  }

  /** Keeps (or with null, forgets) the provider's sealed refresh token of a user's sign-in. */
  async setProviderToken(id: string, sealed: string | null): Promise<void> {
    await this.db.query(
      `UPDATE users SET provider_token = $2, provider_checked_at = now() WHERE id = $1`,
      [id, sealed],
    );
  }

  /**
   * Claims the provider check of one user: its sealed token, unless it has none, was asked about
   * (or signed in) in the last `intervalMs` by the database's clock, or another process claimed it
   * first (one statement: a second claimer finds the time already moved). No lock is held while
   * the provider is asked.
   */
  async claimProviderCheck(id: string, intervalMs: number): Promise<string | undefined> {
    const [rows] = (await this.db.query(
      `UPDATE users SET provider_checked_at = now()
        WHERE id = $1 AND provider_token IS NOT NULL
          AND (provider_checked_at IS NULL
               OR provider_checked_at < now() - $2 * interval '1 millisecond')
        RETURNING provider_token`,
      [id, intervalMs],
    )) as [{ provider_token: string }[], number];
    return rows[0]?.provider_token;
  }

  /**
   * Replaces a user's sealed provider token, only if it is still `expected` (a sign-in since the
   * claim kept a newer one, which wins). False when it was not.
   */
  async swapProviderToken(id: string, expected: string, next: string | null): Promise<boolean> {
    const [, count] = (await this.db.query(
      `UPDATE users SET provider_token = $3 WHERE id = $1 AND provider_token = $2`,
      [id, expected, next],
    )) as [unknown, number];
    return count === 1;
  }

  /**
   * Keeps of an enabled directory or provider user's roles only those in `allowed`, as they are
   * now (read under the row's lock, not as when a check began). Null when the user is gone or
   * disabled; else the roles before and after.
   */
  async narrowRoles(
    id: string,
    allowed: Role[],
    grantedBy: string,
  ): Promise<{ before: Role[]; after: Role[] } | null> {
    return this.changing(
      this.db.transaction(async (manager) => {
        const [row] = (await manager.query(`SELECT disabled FROM users WHERE id = $1 FOR UPDATE`, [
          id,
        ])) as { disabled: boolean }[];
        if (!row || row.disabled) return null;
        const grants = await manager.getRepository(RoleGrantEntity).find({ where: { userId: id } });
        const before = grants.map((g) => g.role).sort();
        const after = before.filter((role) => allowed.includes(role));
        if (after.length < before.length) await this.replaceRoles(id, after, grantedBy, manager);
        return { before, after };
      }),
    );
  }

  async touchLogin(id: string): Promise<void> {
    await this.db.getRepository(UserEntity).update({ id }, { lastLoginAt: new Date() });
  }

  private async replaceRoles(
    userId: string,
    roles: Role[],
    grantedBy: string,
    manager: EntityManager,
  ): Promise<void> {
    const grants = manager.getRepository(RoleGrantEntity);
    await grants.delete({ userId });
    if (roles.length > 0)
      await grants.insert([...new Set(roles)].map((role) => ({ userId, role, grantedBy })));
  }
}
