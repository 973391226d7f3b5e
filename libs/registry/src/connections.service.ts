import { Inject, Injectable } from '@nestjs/common';
import { isUniqueViolation, JunctionError, SecretBox } from '@junction/common';
import type { ConnectionRef } from '@junction/pipeline';
import { CONNECTION_SECRET_KEYS, connectionConfigProblems } from './connection-types';
import { ConnectionsRepository } from './connections.repository';
import { ConnectionEntity } from './entities/connection.entity';
import { SECRET_BOX } from './registry.tokens';

export type ConnectionType = 'amqp' | 'kafka' | 'http';

export interface ConnectionInput {
  type: ConnectionType;
  config: Record<string, unknown>;
  /** Values to set; null removes a secret; absent keys are kept as they are. */
  secrets?: Record<string, string | null>;
}

/** What the API shows: which secrets are set, never their values. */
export interface ConnectionView {
  name: string;
  type: ConnectionType;
  config: Record<string, unknown>;
  secrets: string[];
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}

/** What a connector gets: the config with the secrets opened. Never returned by the API. */
export interface ResolvedConnection {
  name: string;
  type: ConnectionType;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
}

function view(c: ConnectionEntity): ConnectionView {
  return {
    name: c.name,
    type: c.type,
    config: c.config,
    secrets: [...c.secretKeys].sort(),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    updatedBy: c.updatedBy,
  };
}

@Injectable()
export class ConnectionsService {
  private routesChanged?: (routeIds: string[]) => Promise<void>;

  constructor(
    private readonly connections: ConnectionsRepository,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
  ) {}

  /** Set by the routes service: applies, in this process, the restart a connection change asks of these routes. */
  onRoutesChanged(apply: (routeIds: string[]) => Promise<void>): void {
    this.routesChanged = apply;
  }

  async list(): Promise<ConnectionView[]> {
    return (await this.connections.list()).map(view);
  }

  async get(name: string): Promise<ConnectionView> {
    return view(await this.require(name));
  }

  async create(name: string, input: ConnectionInput, actor: string): Promise<ConnectionView> {
    const secrets = this.checkedSecrets(input, {});
    try {
      await this.connections.insert({
        name,
        type: input.type,
        config: input.config,
        ...this.sealed(name, secrets),
        updatedAt: new Date(),
        updatedBy: actor,
      });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new JunctionError(
          'CONFLICT',
          `a connection named '${name}' exists already; PUT /connections/${name} changes it`,
        );
      }
      throw err;
    }
    return this.get(name);
  }

  async update(name: string, input: ConnectionInput, actor: string): Promise<ConnectionView> {
    const existing = await this.require(name);
    if (existing.type !== input.type) {
      throw new JunctionError(
        'BAD_REQUEST',
        `connection '${name}' is of type ${existing.type}; its type cannot change`,
        { problems: [{ pointer: '/type', message: `must be ${existing.type}` }] },
      );
    }
    const secrets = this.checkedSecrets(input, this.opened(existing));
    await this.connections.save({
      name,
      type: input.type,
      config: input.config,
      ...this.sealed(name, secrets),
      updatedAt: new Date(),
      updatedBy: actor,
    });
    await this.routesChanged?.(await this.connections.notifyRoutesUsing(name));
    return this.get(name);
  }

  async delete(name: string): Promise<void> {
    await this.require(name);
    const users = await this.connections.routesUsing(name);
    if (users.length > 0) {
      throw new JunctionError(
        'CONFLICT',
        `connection '${name}' is used by route${users.length > 1 ? 's' : ''} ${users.join(', ')}`,
        { routes: users },
      );
    }
    await this.connections.delete(name);
  }

  /** Routes whose active version uses the connection (what a change would restart). */
  async activeRoutesUsing(name: string): Promise<Array<{ id: string; activeVersion: number }>> {
    await this.require(name);
    return this.connections.activeRoutesUsing(name);
  }

  /** For connectors only (issue: connectors): the config with secrets opened. */
  async resolve(name: string): Promise<ResolvedConnection> {
    const c = await this.require(name);
    return {
      name: c.name,
      type: c.type,
      config: c.config,
      secrets: this.opened(c),
    };
  }

  /** A stored connection's secrets, decrypted. */
  private opened(c: ConnectionEntity): Record<string, string> {
    return c.secrets
      ? this.box.openJson<Record<string, string>>(c.secrets, `connection:${c.name}`)
      : {};
  }

  /** Which of these names are missing or of another type. */
  async checkRefs(refs: ConnectionRef[]): Promise<Array<{ pointer: string; message: string }>> {
    const found = new Map(
      (await this.connections.findMany([...new Set(refs.map((r) => r.name))])).map((c) => [
        c.name,
        c,
      ]),
    );
    return refs.flatMap((ref) => {
      const c = found.get(ref.name);
      if (!c)
        return [
          {
            pointer: ref.pointer,
            message: `no connection named '${ref.name}'; create it first (POST /api/v1/connections)`,
          },
        ];
      if (c.type !== ref.type)
        return [
          {
            pointer: ref.pointer,
            message: `connection '${ref.name}' is of type ${c.type}, not ${ref.type}`,
          },
        ];
      if (ref.secret !== undefined && !c.secretKeys.includes(ref.secret))
        return [
          {
            pointer: ref.pointer,
            message: `connection '${ref.name}' has no ${ref.secret} secret; set it first (PUT /api/v1/connections/${ref.name})`,
          },
        ];
      return [];
    });
  }

  private async require(name: string): Promise<ConnectionEntity> {
    const c = await this.connections.find(name);
    if (!c) throw new JunctionError('NOT_FOUND', `no connection named '${name}'`);
    return c;
  }

  private checkedSecrets(
    input: ConnectionInput,
    current: Record<string, string>,
  ): Record<string, string> {
    const problems = connectionConfigProblems(input.type, input.config);
    const allowed = CONNECTION_SECRET_KEYS[input.type];
    const next = { ...current };
    for (const [key, value] of Object.entries(input.secrets ?? {})) {
      if (!allowed.includes(key))
        problems.push({
          pointer: `/secrets/${key}`,
          message: `is not a secret of ${input.type} connections; expected one of ${allowed.join(', ')}`,
        });
      else if (value === null) delete next[key];
      else next[key] = value;
    }
    if (problems.length > 0)
      throw new JunctionError(
        'BAD_REQUEST',
        `connection is invalid: ${problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`,
        { problems },
      );
    return next;
  }

  private sealed(
    name: string,
    secrets: Record<string, string>,
  ): { secrets: string | null; secretKeys: string[] } {
    const keys = Object.keys(secrets);
    return {
      secrets: keys.length > 0 ? this.box.sealJson(secrets, `connection:${name}`) : null,
      secretKeys: keys,
    };
  }
}
