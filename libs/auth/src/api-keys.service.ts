import { Injectable } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import { ApiKeysRepository } from './api-keys.repository';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';
import { hashApiKey, newApiKey, rolesOf } from './auth.service';
import { ApiKeyEntity } from './entities/api-key.entity';
import { covers, permits, Principal, Role } from './roles';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  roles: Role[];
  /** The user the key acts for; it dies with that user. */
  ownerId: string | null;
  ingestRoutes: string[] | null;
  createdBy: string;
  /** The API key this one came from (made by it, or by a user that came from it), if any. */
  createdByKeyId: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function view(key: ApiKeyEntity): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    roles: key.roles,
    ownerId: key.ownerId,
    ingestRoutes: key.ingestRoutes,
    createdBy: key.createdBy,
    createdByKeyId: key.createdByKeyId ?? null,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly users: UsersRepository,
    private readonly usersService: UsersService,
  ) {}

  async list(): Promise<ApiKeyView[]> {
    return (await this.keys.list()).map(view);
  }

  /**
   * The key itself is in this one answer and nowhere else, ever. It acts for the user who made it
   * (a key made with a key acts for that key's user), and may hold only roles the caller covers:
   * no key is ever more powerful than its user.
   */
  async create(
    input: { name: string; roles: Role[]; expiresAt?: string; ingestRoutes?: string[] },
    actor: Principal,
  ): Promise<ApiKeyView & { key: string }> {
    const ownerId = actor.kind === 'user' ? actor.id : actor.ownerId;
    if (!ownerId) throw new JunctionError('FORBIDDEN', 'this caller cannot own an API key');
    // As for users (UsersService): admin power is handed out by signed-in people only, or a
    // leaked admin key could copy itself into keys that outlive revoking it.
    if (actor.kind === 'apiKey' && input.roles.includes('admin'))
      throw new JunctionError(
        'FORBIDDEN',
        'an API key cannot grant the admin role, to a key either: sign in as an admin',
      );
    const beyond = input.roles.filter((role) => !covers(actor.roles, role));
    if (beyond.length > 0)
      throw new JunctionError(
        'FORBIDDEN',
        `a key cannot have more power than its user: your roles (${actor.roles.join(', ') || 'none'}) do not cover ${beyond.join(', ')}`,
      );
    const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now())
      throw new JunctionError('BAD_REQUEST', 'expiresAt must be in the future');
    // A list of routes narrows an ingest grant; without one it would read as a grant it is not.
    if (input.ingestRoutes && !permits(input.roles, 'ingest.send'))
      throw new JunctionError(
        'BAD_REQUEST',
        "ingestRoutes narrows an ingest grant: give the key the 'ingest' role too",
      );
    const { key, prefix } = newApiKey();
    const row = await this.keys.create({
      name: input.name,
      prefix,
      keyHash: hashApiKey(key),
      roles: input.roles,
      ownerId,
      ingestRoutes: input.ingestRoutes ? [...new Set(input.ingestRoutes)].sort() : null,
      createdBy: actor.name,
      createdByKeyId: await originKey(actor, this.users),
      expiresAt,
    });
    return { ...view(row), key };
  }

  /** One key (never its hash), revoked or not; 404 when there is none. */
  async get(id: string): Promise<ApiKeyView> {
    const key = await this.keys.find(id);
    if (!key) throw new JunctionError('NOT_FOUND', `no API key ${id}`);
    return view(key);
  }

  async revoke(id: string): Promise<void> {
    if (!(await this.keys.revoke(id)))
      throw new JunctionError('NOT_FOUND', `no live API key ${id}`);
  }

  /**
   * Revokes a key and ends what came from it (a leaked key's harvest): every key made through it
   * and every user made through it (disabled, which ends their sessions and keys), whatever was
   * made from those in turn. Needs `users.manage` too. A key already revoked may be given: what
   * it made may still be live.
   */
  async revokeWithAllMade(id: string, actor: Principal): Promise<RevokedThrough> {
    if (!permits(actor.roles, 'users.manage'))
      throw new JunctionError(
        'FORBIDDEN',
        'revoking with cascade disables users made through the key: it needs users.manage',
      );
    if (!(await this.keys.find(id))) throw new JunctionError('NOT_FOUND', `no API key ${id}`);
    if (actor.kind === 'apiKey' && actor.id === id)
      throw new JunctionError('BAD_REQUEST', 'a key cannot revoke itself with cascade');
    const { keyIds, userIds } = await this.keys.madeThrough(id);
    if (actor.kind === 'apiKey' && keyIds.includes(actor.id))
      throw new JunctionError(
        'BAD_REQUEST',
        'the key you call with came from this key: revoke it with another key or signed in',
      );
    // All or nothing: a user that a key may not disable (one made an admin since) would fail the
    // loop below after the keys were revoked, with the trail saying the revoke failed.
    if (actor.kind === 'apiKey')
      for (const userId of userIds) {
        const user = await this.users.findById(userId);
        if (user && rolesOf(user).includes('admin'))
          throw new JunctionError(
            'FORBIDDEN',
            `user '${user.username}', made through this key, is an admin now, and an API key cannot disable an admin: sign in as an admin to revoke with cascade (nothing was ended)`,
          );
      }
    const revokedKeys = await this.keys.revokeMany(keyIds);
    const disabledUsers: string[] = [];
    for (const userId of userIds) {
      if (actor.kind === 'user' && actor.id === userId) continue;
      await this.usersService.update(userId, { disabled: true }, actor);
      disabledUsers.push(userId);
    }
    return { revokedKeys, disabledUsers };
  }
}

export interface RevokedThrough {
  /** The keys this call revoked (the one named first, if it was live). */
  revokedKeys: string[];
  /** The users it disabled. */
  disabledUsers: string[];
}

/**
 * The API key a new key or user made by `actor` comes from: the calling key itself, or the one
 * the calling user came from (null for a user no key made).
 */
export async function originKey(actor: Principal, users: UsersRepository): Promise<string | null> {
  if (actor.kind === 'apiKey') return actor.id;
  return users.originKeyOf(actor.id);
}
