import { lookup } from 'node:dns/promises';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { isUniqueViolation, JunctionError, SecretBox } from '@junction/common';
import { EgressPolicy, parseAddress } from '@junction/connectors';
import { containsPan, type ConnectionRef } from '@junction/pipeline';
import {
  changedTargetFields,
  connectionConfigProblems,
  connectionTargets,
  secretKeyProblem,
  secretValueProblem,
} from './connection-types';
import { ConnectionsRepository } from './connections.repository';
import { ConnectionEntity } from './entities/connection.entity';
import { EGRESS_POLICY, SECRET_BOX } from './registry.tokens';
import { RouteEventBus } from './route-events';

/** How long a save waits for a target's name to resolve; unresolved, the connect-time check decides. */
const SAVE_LOOKUP_MS = 2_000;

import type { ConnectionType } from './connection-types';
export type { ConnectionType };

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

/** What a caller who may not read connections is told of a reference that cannot be used. */
function undetailedRefProblem(ref: ConnectionRef): string {
  const secret = ref.secret === undefined ? '' : ` with a ${ref.secret} secret`;
  return `connection unusable here: this must name a connection of type ${ref.type}${secret} (which of these is missing is shown to those who may read connections)`;
}

/** The most names of one kind the console is offered (a completion list, not an inventory). */
export const MAX_CONNECTION_NAMES = 500;

export interface ConnectionNames {
  queues: string[];
  exchanges: string[];
  topics: string[];
}

/** Sorted (code-point order, stable across locales), distinct, at most MAX_CONNECTION_NAMES. */
export function sortedNames(names: Iterable<string>): string[] {
  return (
    [...new Set(names)]
      // A name holding a card number (a topic anyone who may produce can create) is no name a route
      // may use (its text would be refused), and the editor would show it: left out.
      .filter((n) => !containsPan(n))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, MAX_CONNECTION_NAMES)
  );
}

@Injectable()
export class ConnectionsService {
  private readonly egress: EgressPolicy;

  constructor(
    private readonly connections: ConnectionsRepository,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    private readonly events: RouteEventBus,
    @Optional() @Inject(EGRESS_POLICY) egress?: EgressPolicy,
  ) {
    this.egress = egress ?? EgressPolicy.permissive();
  }

  async list(): Promise<ConnectionView[]> {
    return (await this.connections.list()).map(view);
  }

  async get(name: string): Promise<ConnectionView> {
    return view(await this.require(name));
  }

  async create(name: string, input: ConnectionInput, actor: string): Promise<ConnectionView> {
    const secrets = this.checkedSecrets(input, {});
    await this.checkEgress(input);
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
    const current = this.opened(existing);
    const secrets = this.checkedSecrets(input, current, existing.config);
    this.checkSecretsFollowTarget(name, existing, input, current);
    await this.checkEgress(input);
    await this.connections.save({
      name,
      type: input.type,
      config: input.config,
      ...this.sealed(name, secrets),
      updatedAt: new Date(),
      updatedBy: actor,
    });
    // The routes using it restart: in this process before the API answers (others hear by NOTIFY).
    const routeIds = await this.connections.notifyRoutesUsing(name);
    await this.events.emit('connection.changed', { name, routeIds });
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

  /**
   * The queue, exchange and topic names the stored routes (active and latest versions) use with
   * this connection, in sources, destinations and dead letters: sorted, distinct, capped.
   */
  async namesInUse(name: string): Promise<ConnectionNames> {
    await this.require(name);
    const names: Record<keyof ConnectionNames, Set<string>> = {
      queues: new Set(),
      exchanges: new Set(),
      topics: new Set(),
    };
    const take = (endpoint: unknown) => {
      if (!endpoint || typeof endpoint !== 'object') return;
      const e = endpoint as Record<string, unknown>;
      if (e.connection !== name) return;
      if (typeof e.queue === 'string' && e.queue) names.queues.add(e.queue);
      if (typeof e.exchange === 'string' && e.exchange) names.exchanges.add(e.exchange);
      if (typeof e.topic === 'string' && e.topic) names.topics.add(e.topic);
    };
    for (const document of await this.connections.documentsUsing(name)) {
      const doc = document as {
        source?: unknown;
        destinations?: unknown;
        errors?: { deadLetter?: unknown };
      };
      take(doc.source);
      if (Array.isArray(doc.destinations)) doc.destinations.forEach(take);
      take(doc.errors?.deadLetter);
    }
    return {
      queues: sortedNames(names.queues),
      exchanges: sortedNames(names.exchanges),
      topics: sortedNames(names.topics),
    };
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

  /**
   * Which of these names are missing, of another type or without the secret the route needs.
   * `detailed: false` (a caller who may not read connections, such as a viewer validating a
   * draft): one message per unusable reference, the same whichever check failed, naming no
   * other connection's type nor which secrets it holds.
   */
  async checkRefs(
    refs: ConnectionRef[],
    { detailed = true }: { detailed?: boolean } = {},
  ): Promise<Array<{ pointer: string; message: string }>> {
    const found = new Map(
      (await this.connections.findMany([...new Set(refs.map((r) => r.name))])).map((c) => [
        c.name,
        c,
      ]),
    );
    return refs.flatMap((ref) => {
      const c = found.get(ref.name);
      if (!detailed)
        return c &&
          c.type === ref.type &&
          (ref.secret === undefined || c.secretKeys.includes(ref.secret))
          ? []
          : [{ pointer: ref.pointer, message: undetailedRefProblem(ref) }];
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
    storedConfig?: unknown,
  ): Record<string, string> {
    const problems = connectionConfigProblems(input.type, input.config, storedConfig);
    const next = { ...current };
    for (const [key, value] of Object.entries(input.secrets ?? {})) {
      const problem =
        secretKeyProblem(input.type, key) ??
        (value === null ? undefined : secretValueProblem(key, value));
      if (problem) problems.push({ pointer: `/secrets/${key}`, message: problem });
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

  /**
   * Secrets were entered for one target: a change of any field that decides where they are sent
   * (per type, CONNECTION_TARGET_FIELDS) must re-enter each stored secret or remove it (null) in
   * the same request. Refused otherwise, before anything is stored: silently dropping them would
   * break running routes, keeping them would hand them to whoever the new target is.
   */
  private checkSecretsFollowTarget(
    name: string,
    existing: ConnectionEntity,
    input: ConnectionInput,
    current: Record<string, string>,
  ): void {
    const changed = changedTargetFields(input.type, existing.config, input.config);
    if (changed.length === 0) return;
    const given = input.secrets ?? {};
    const kept = Object.keys(current)
      .filter((key) => !(key in given))
      .sort();
    if (kept.length === 0) return;
    throw new JunctionError(
      'BAD_REQUEST',
      `connection '${name}': ${changed.join(', ')} changed, which decides where its secrets are sent; ` +
        `re-enter ${kept.map((k) => `secrets.${k}`).join(', ')} in the same request, or remove ${
          kept.length > 1 ? 'them' : 'it'
        } with null`,
      {
        code: 'SECRETS_NOT_REENTERED',
        changed,
        secrets: kept,
        problems: kept.map((key) => ({
          pointer: `/secrets/${key}`,
          message: `must be re-entered (or set to null) because ${changed.join(', ')} changed`,
        })),
      },
    );
  }

  /**
   * The egress policy at save time: a target the policy refuses is refused here, pointing at the
   * field, rather than failing at connect time. Names are resolved when that answers quickly; the
   * connect-time check (on the address actually connected to) stays the one that matters.
   */
  private async checkEgress(input: ConnectionInput): Promise<void> {
    const problems: Array<{ pointer: string; message: string }> = [];
    for (const target of connectionTargets(input.type, input.config)) {
      const refused =
        this.egress.refusesName(target.host, target.port) ??
        (parseAddress(target.host) ? undefined : await this.refusesResolved(target));
      if (refused)
        problems.push({ pointer: target.pointer, message: `egress refused: ${refused}` });
    }
    if (problems.length > 0)
      throw new JunctionError(
        'BAD_REQUEST',
        `connection is invalid: ${problems.map((p) => `${p.pointer}: ${p.message}`).join('; ')}`,
        { code: 'EGRESS_REFUSED', problems },
      );
  }

  /** A refusal when every address the name resolves to is refused; undefined if it does not resolve in time. */
  private async refusesResolved(target: {
    host: string;
    port: number;
  }): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const addresses = await Promise.race([
      lookup(target.host, { all: true }).catch(() => []),
      new Promise<[]>((resolve) => {
        timer = setTimeout(() => resolve([]), SAVE_LOOKUP_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    const reasons = addresses.map((a) =>
      this.egress.refusesAddress(target.host, a.address, target.port),
    );
    return reasons.length > 0 && reasons.every((r) => r !== undefined)
      ? reasons.join('; ')
      : undefined;
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
