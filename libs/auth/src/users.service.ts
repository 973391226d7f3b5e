import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { isUniqueViolation, JunctionError } from '@junction/common';
import { UserEntity } from './entities/user.entity';
import { hashPassword } from './password';
import { Principal, Role } from './roles';
import { SessionsRepository } from './sessions.repository';
import { UsersRepository } from './users.repository';
import { rolesOf } from './auth.service';

export interface UserView {
  id: string;
  username: string;
  provider: string;
  displayName: string | null;
  email: string | null;
  roles: Role[];
  disabled: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

export function userView(user: UserEntity): UserView {
  return {
    id: user.id,
    username: user.username,
    provider: user.provider,
    displayName: user.displayName,
    email: user.email,
    roles: rolesOf(user),
    disabled: user.disabled,
    createdAt: user.createdAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
  ) {}

  async list(): Promise<UserView[]> {
    return (await this.users.list()).map(userView);
  }

  async get(id: string): Promise<UserView> {
    const user = await this.users.findById(id);
    if (!user) throw new JunctionError('NOT_FOUND', `no user ${id}`);
    return userView(user);
  }

  async create(
    input: {
      username: string;
      password: string;
      roles: Role[];
      displayName?: string;
      email?: string;
    },
    actor: Principal,
  ): Promise<UserView> {
    try {
      const user = await this.users.create(
        {
          username: input.username,
          provider: 'local',
          passwordHash: await hashPassword(input.password),
          displayName: input.displayName ?? null,
          email: input.email ?? null,
        },
        input.roles,
        actor.name,
      );
      return userView(user);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new JunctionError(
          'CONFLICT',
          `a local user named '${input.username}' exists already`,
        );
      }
      throw err;
    }
  }

  async update(
    id: string,
    input: {
      password?: string;
      roles?: Role[];
      disabled?: boolean;
      displayName?: string;
      email?: string;
    },
    actor: Principal,
  ): Promise<UserView> {
    const existing = await this.users.findById(id);
    if (!existing) throw new JunctionError('NOT_FOUND', `no user ${id}`);
    if (input.password !== undefined && existing.provider !== 'local') {
      throw new JunctionError(
        'BAD_REQUEST',
        `the password of a ${existing.provider} user is kept by its provider`,
      );
    }
    const updated = await this.users.update(
      id,
      {
        ...(input.password !== undefined
          ? { passwordHash: await hashPassword(input.password) }
          : {}),
        ...(input.disabled !== undefined ? { disabled: input.disabled } : {}),
        ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
        ...(input.email !== undefined ? { email: input.email } : {}),
        ...(input.roles !== undefined ? { roles: input.roles } : {}),
      },
      actor.name,
      (manager) => this.keepAnAdmin(manager),
    );
    // A changed password or a disabled account ends the sessions it had.
    if (input.password !== undefined || input.disabled) await this.sessions.revokeAllOf(id);
    return userView(updated!);
  }

  async delete(id: string, actor: Principal): Promise<void> {
    if (actor.kind === 'user' && actor.id === id)
      throw new JunctionError('BAD_REQUEST', 'you cannot delete yourself');
    const deleted = await this.users.delete(id, (manager) => this.keepAnAdmin(manager));
    if (!deleted) throw new JunctionError('NOT_FOUND', `no user ${id}`);
  }

  /** Creates the first admin when there is none (first start). Returns its id when it did. */
  async ensureAdmin(username: string, password: string): Promise<string | undefined> {
    if ((await this.users.countAdmins()) > 0) return undefined;
    return (await this.makeAdmin(username, password)).id;
  }

  /**
   * A lost admin password: `username` becomes an enabled local admin with this password (made if
   * absent), and every session it had ends.
   */
  async resetAdmin(username: string, password: string): Promise<{ id: string; created: boolean }> {
    const result = await this.makeAdmin(username, password);
    if (!result.created) await this.sessions.revokeAllOf(result.id);
    return result;
  }

  private async makeAdmin(
    username: string,
    password: string,
  ): Promise<{ id: string; created: boolean }> {
    const existing = await this.users.findForLogin('local', username);
    if (existing) {
      await this.users.update(
        existing.id,
        {
          roles: [...new Set([...rolesOf(existing), 'admin' as Role])],
          disabled: false,
          passwordHash: await hashPassword(password),
        },
        'system',
      );
      return { id: existing.id, created: false };
    }
    const created = await this.users.create(
      { username, provider: 'local', passwordHash: await hashPassword(password) },
      ['admin'],
      'system',
    );
    return { id: created.id, created: true };
  }

  /** Runs inside the change's transaction: refusing rolls it back. */
  private async keepAnAdmin(manager: EntityManager): Promise<void> {
    if ((await this.users.countAdmins(manager)) === 0) {
      throw new JunctionError('CONFLICT', 'this would leave no enabled admin');
    }
  }
}
