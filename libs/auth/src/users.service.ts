import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { isUniqueViolation, JunctionError } from '@junction/common';
import { redactPanText } from '@junction/pipeline';
import { passwordProblem, usernameProblem } from './account-policy';
import { ApiKeysRepository } from './api-keys.repository';
import { AUTH_EVENT_SINK, AuthEventSink } from './auth.options';
import { UserEntity } from './entities/user.entity';
import { LoginThrottleService } from './login-throttle.service';
import { hashPassword, verifyPassword } from './password';
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
  /** The API key the user came from (made by it, or by a user that came from it), if any. */
  createdByKeyId: string | null;
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
    createdByKeyId: user.createdByKeyId ?? null,
    createdAt: user.createdAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly apiKeys: ApiKeysRepository,
    private readonly throttle: LoginThrottleService,
    @Inject(AUTH_EVENT_SINK) private readonly events: AuthEventSink,
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
    this.requireHumanForAdmin(actor, input.roles.includes('admin'));
    const weak = passwordProblem(input.password, input.username);
    if (weak) throw new JunctionError('BAD_REQUEST', weak);
    try {
      const user = await this.users.create(
        {
          username: input.username,
          provider: 'local',
          passwordHash: await hashPassword(input.password),
          displayName: input.displayName ?? null,
          email: input.email ?? null,
          createdByKeyId:
            actor.kind === 'apiKey' ? actor.id : await this.users.originKeyOf(actor.id),
        },
        input.roles,
        actor.name,
        (taken) => {
          const problem = usernameProblem(input.username, taken);
          if (problem)
            throw new JunctionError(
              /exists already|looks like/.test(problem) ? 'CONFLICT' : 'BAD_REQUEST',
              problem,
            );
        },
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
    this.requireHumanForAdmin(
      actor,
      rolesOf(existing).includes('admin') || (input.roles?.includes('admin') ?? false),
    );
    if (input.password !== undefined && existing.provider !== 'local') {
      throw new JunctionError(
        'BAD_REQUEST',
        `the password of a ${existing.provider} user is kept by its provider`,
      );
    }
    if (input.password !== undefined) {
      const weak = passwordProblem(input.password, existing.username);
      if (weak) throw new JunctionError('BAD_REQUEST', weak);
    }
    const disabling = input.disabled === true && !existing.disabled;
    // Whoever sets a password holds the account: one set through a key (or a user that came
    // from one) makes the user come from that key, as creating it would, or a leaked key could
    // take over an existing user by its password and outlive revoking the key with cascade.
    const origin =
      input.password !== undefined
        ? actor.kind === 'apiKey'
          ? actor.id
          : await this.users.originKeyOf(actor.id)
        : null;
    const updated = await this.users.update(
      id,
      {
        ...(input.password !== undefined
          ? { passwordHash: await hashPassword(input.password) }
          : {}),
        ...(origin !== null ? { createdByKeyId: origin } : {}),
        ...(input.disabled !== undefined ? { disabled: input.disabled } : {}),
        ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
        ...(input.email !== undefined ? { email: input.email } : {}),
        ...(input.roles !== undefined ? { roles: input.roles } : {}),
      },
      actor.name,
      (manager) => this.keepAnAdmin(manager),
      // Disabling ends the user's credentials for good, in the same transaction: re-enabling
      // the user brings back neither its keys nor its sessions.
      input.disabled === true
        ? async (manager) => {
            await this.apiKeys.revokeAllOf(id, manager);
            await this.sessions.revokeAllOf(id, { manager });
          }
        : undefined,
    );
    // A changed password ends the sessions it had.
    if (input.password !== undefined) await this.sessions.revokeAllOf(id);
    if (disabling) await this.recordCredentialsEnded(existing, actor, 'user disabled');
    return userView(updated!);
  }

  async delete(id: string, actor: Principal): Promise<void> {
    if (actor.kind === 'user' && actor.id === id)
      throw new JunctionError('BAD_REQUEST', 'you cannot delete yourself');
    if (actor.kind === 'apiKey' && actor.ownerId === id)
      throw new JunctionError('BAD_REQUEST', 'an API key cannot delete the user it acts for');
    const existing = await this.users.findById(id);
    if (!existing) throw new JunctionError('NOT_FOUND', `no user ${id}`);
    this.requireHumanForAdmin(actor, rolesOf(existing).includes('admin'));
    const deleted = await this.users.delete(
      id,
      (manager) => this.keepAnAdmin(manager),
      // Revoked, not only orphaned: the list of keys shows they ended, and when.
      async (manager) => {
        await this.apiKeys.revokeAllOf(id, manager);
      },
    );
    if (!deleted) throw new JunctionError('NOT_FOUND', `no user ${id}`);
    await this.recordCredentialsEnded(existing, actor, 'user deleted');
  }

  /**
   * A local user changes its own password with the current one: the new one must pass the
   * policy, every other session of the user ends (this one goes on), and the change is audited
   * (a wrong current password as a failed sign-in, which counts toward the account's lockout).
   */
  async changeOwnPassword(
    principal: Principal,
    currentPassword: string,
    newPassword: string,
    ip?: string,
  ): Promise<{ sessionsEnded: number }> {
    if (principal.kind !== 'user')
      throw new JunctionError('FORBIDDEN', 'an API key has no password; sign in as a user');
    const user = await this.users.findById(principal.id);
    if (!user) throw new JunctionError('UNAUTHENTICATED', 'sign in first');
    if (user.provider !== 'local')
      throw new JunctionError(
        'BAD_REQUEST',
        `the password of a ${user.provider} user is kept by its provider: change it there`,
      );
    await this.throttle.admit(ip, 'local', user.username);
    const withHash = await this.users.findForLogin('local', user.username);
    if (!withHash || !(await verifyPassword(withHash.passwordHash, currentPassword))) {
      await this.throttle.failed('local', user.username, ip);
      await this.events.record({
        type: 'login.failed',
        actor: user.username,
        provider: 'local',
        ip,
        reason: 'wrong current password at a password change',
      });
      throw new JunctionError('FORBIDDEN', 'the current password is not right');
    }
    await this.throttle.succeeded(ip, 'local', user.username);
    if (currentPassword === newPassword)
      throw new JunctionError('BAD_REQUEST', 'the new password must differ from the current one');
    const weak = passwordProblem(newPassword, user.username);
    if (weak) throw new JunctionError('BAD_REQUEST', weak);
    await this.users.update(
      user.id,
      { passwordHash: await hashPassword(newPassword) },
      user.username,
    );
    const sessionsEnded = await this.sessions.revokeAllOf(user.id, {
      except: principal.sessionId,
    });
    await this.events.record({
      type: 'password.changed',
      actor: user.username,
      provider: 'local',
      ip,
      sessionsEnded,
    });
    return { sessionsEnded };
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
    // The first admin's password comes from the environment: the same policy as any other, or
    // the most powerful account would be the one with the weakest password.
    const weak = passwordProblem(password, username);
    if (weak) throw new JunctionError('BAD_REQUEST', weak);
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
    // Its name too (JUNCTION_ADMIN_USER): the rules every user name is held to.
    // A card number first: the other reasons quote the name.
    const badName = cardNumberProblem(username) ?? usernameProblem(username);
    if (badName) throw new JunctionError('BAD_REQUEST', `JUNCTION_ADMIN_USER: ${badName}`);
    const created = await this.users.create(
      { username, provider: 'local', passwordHash: await hashPassword(password) },
      ['admin'],
      'system',
    );
    return { id: created.id, created: true };
  }

  /**
   * Admins are made, changed and removed by signed-in people only: an API key acting for an admin
   * could otherwise make an admin of its own before its owner goes, and so outlive every human
   * admin (a key itself always dies with its owner).
   */
  private requireHumanForAdmin(actor: Principal, touchesAdmin: boolean): void {
    if (actor.kind === 'apiKey' && touchesAdmin)
      throw new JunctionError(
        'FORBIDDEN',
        'an API key cannot create, change or remove an admin, nor grant the admin role: sign in as an admin',
      );
  }

  private async recordCredentialsEnded(
    user: UserEntity,
    actor: Principal,
    reason: string,
  ): Promise<void> {
    await this.events.record({
      type: 'credentials.revoked',
      actor: actor.name,
      user: user.username,
      userId: user.id,
      provider: user.provider,
      reason,
    });
  }

  /** Runs inside the change's transaction: refusing rolls it back. */
  private async keepAnAdmin(manager: EntityManager): Promise<void> {
    if ((await this.users.countAdmins(manager)) === 0) {
      throw new JunctionError('CONFLICT', 'this would leave no enabled admin');
    }
  }
}

/** Why a name is refused for holding a card number (as the API's HoldsNoCardNumber refuses it). */
function cardNumberProblem(name: string): string | null {
  return redactPanText(name) === name ? null : 'a user name must not hold a card number';
}
