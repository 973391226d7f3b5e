import { Injectable } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import { ApiKeysRepository } from './api-keys.repository';
import { hashApiKey, newApiKey } from './auth.service';
import { ApiKeyEntity } from './entities/api-key.entity';
import { permits, Principal, Role } from './roles';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  roles: Role[];
  ingestRoutes: string[] | null;
  createdBy: string;
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
    ingestRoutes: key.ingestRoutes,
    createdBy: key.createdBy,
    createdAt: key.createdAt.toISOString(),
    expiresAt: key.expiresAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

@Injectable()
export class ApiKeysService {
  constructor(private readonly keys: ApiKeysRepository) {}

  async list(): Promise<ApiKeyView[]> {
    return (await this.keys.list()).map(view);
  }

  /** The key itself is in this one answer and nowhere else, ever. */
  async create(
    input: { name: string; roles: Role[]; expiresAt?: string; ingestRoutes?: string[] },
    actor: Principal,
  ): Promise<ApiKeyView & { key: string }> {
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
      ingestRoutes: input.ingestRoutes ? [...new Set(input.ingestRoutes)].sort() : null,
      createdBy: actor.name,
      expiresAt,
    });
    return { ...view(row), key };
  }

  async revoke(id: string): Promise<void> {
    if (!(await this.keys.revoke(id)))
      throw new JunctionError('NOT_FOUND', `no live API key ${id}`);
  }
}
