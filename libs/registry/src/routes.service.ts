import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { compare, Operation } from 'fast-json-patch';
import { JunctionError } from '@junction/common';
import {
  compileRoute,
  connectionRefs,
  Envelope,
  ingestPathKey,
  redactPans,
  RouteDocument,
  RouteProblem,
  RouteResources,
  RunResult,
  parseRouteText,
  RouteValidationError,
  validateRoute,
} from '@junction/pipeline';
import { checksumOf } from './canonical-json';
import { ConnectionsService } from './connections.service';
import { RouteEntity } from './entities/route.entity';
import { RouteVersionEntity } from './entities/route-version.entity';
import { ROUTE_RESOURCES } from './registry.tokens';
import { isUniqueViolation, RoutesRepository } from './routes.repository';

export interface RouteSummary {
  id: string;
  /** Which life of this id (1, then 2 after it was deleted and created again, ...). */
  incarnation: number;
  description: string | null;
  sourceType: string;
  activeVersion: number | null;
  latestVersion: number;
  desiredState: 'running' | 'stopped';
  createdAt: string;
  updatedAt: string;
}

export interface RouteView extends RouteSummary {
  /** The version `document` is: the active one (the latest while none is active). */
  documentVersion: number;
  /** The document of `documentVersion`: what runs, also after a rollback. */
  document: RouteDocument;
}

export interface VersionSummary {
  incarnation: number;
  version: number;
  author: string;
  comment: string | null;
  checksum: string;
  createdAt: string;
  active: boolean;
}

export interface VersionView extends VersionSummary {
  document: RouteDocument;
  /** RFC 6902 operations that turn version `diffFrom` into this one, when asked for. */
  diff?: { from: number; operations: Operation[] };
}

export interface RuntimeStatus {
  state: 'running' | 'stopped' | 'starting' | 'failed' | 'not-deployed';
  inFlight: number;
  processed: number;
  failed: number;
  lastError: string | null;
}

/** Implemented by the route runtime; until one is attached, status reports only the stored state. */
export interface RouteRuntimeStatus {
  status(routeId: string): RuntimeStatus | undefined;
  /** Applies a stored change in this process now (other processes hear of it by NOTIFY). */
  refresh?(routeId: string): Promise<void>;
}

/** How long an API call waits for this process's runtime to apply its change (a broker may be slow to answer). */
const APPLY_WAIT_MS = 3000;

export interface DryRunInput {
  message: { body: unknown; headers?: Record<string, string> };
  version?: number;
}

@Injectable()
export class RoutesService {
  private runtime?: RouteRuntimeStatus;

  constructor(
    private readonly routes: RoutesRepository,
    private readonly connections: ConnectionsService,
    @Inject(ROUTE_RESOURCES) private readonly resources: RouteResources,
  ) {
    // A changed connection restarts the routes using it: here before the API answers, as for
    // a route change (other processes hear of it by NOTIFY).
    connections.onRoutesChanged(async (ids) => {
      await Promise.all(ids.map((id) => this.applied(id)));
    });
  }

  /** The route runtime reports live status through this (set at start-up; avoids a module cycle). */
  attachRuntime(runtime: RouteRuntimeStatus): void {
    this.runtime = runtime;
  }

  /**
   * Lets this process's runtime apply a committed change before the API answers, so that a
   * route is running (or stopped) when its create, activate, start or stop returns. Bounded:
   * a route whose broker is slow to answer keeps starting in the background.
   */
  private async applied(id: string): Promise<void> {
    const refresh = this.runtime?.refresh;
    if (!refresh) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      refresh.call(this.runtime, id),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, APPLY_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  /** Everything wrong with a document: shape, expressions, and connections it names. */
  async problems(doc: unknown): Promise<RouteProblem[]> {
    const problems = validateRoute(doc, this.resources);
    if (problems.length > 0) return problems;
    return this.connections.checkRefs(connectionRefs(doc as RouteDocument));
  }

  /** The live route that holds a normalised ingest path (see normalizeIngestPath), if any. */
  ingestPathOwner(
    key: string,
  ): Promise<{ routeId: string; desiredState: 'running' | 'stopped' } | null> {
    return this.routes.pathOwner(key);
  }

  async list(): Promise<RouteSummary[]> {
    return (await this.routes.listWithDocument()).map(({ route, document }) =>
      this.summary(route, document),
    );
  }

  /**
   * A route with the document that runs (its active version), or with `which: 'latest'` the
   * newest stored one (what an edit changed, for the audit trail).
   */
  async get(id: string, which: 'active' | 'latest' = 'active'): Promise<RouteView> {
    const route = await this.require(id);
    const shown =
      which === 'latest' ? route.latestVersion : (route.activeVersion ?? route.latestVersion);
    const stored = (await this.routes.findVersion(id, route.incarnation, shown))!;
    return {
      ...this.summary(route, stored.document),
      documentVersion: shown,
      document: stored.document,
    };
  }

  /** Stores version 1 and makes it active: a new route runs once saved. */
  async create(doc: unknown, author: string, comment?: string): Promise<RouteView> {
    const document = await this.checked(doc);
    const exists = () =>
      new JunctionError(
        'CONFLICT',
        `route '${document.id}' exists already; PUT /routes/${document.id} stores a new version`,
        { routeId: document.id },
      );
    await this.routes
      .transaction(async (m) => {
        const existing = await this.routes.lock(m, document.id);
        if (existing && !existing.deletedAt) throw exists();
        // A deleted route's id may be used again: as a new incarnation, from version 1. The old
        // incarnation's versions stay, under their numbers, for the audit trail that names them.
        const incarnation = existing ? existing.incarnation + 1 : 1;
        const version = 1;
        if (!existing) await this.routes.insertRoute(m, document.id);
        await this.routes.addVersion(m, {
          routeId: document.id,
          incarnation,
          version,
          document,
          checksum: checksumOf(document),
          author,
          comment: comment ?? null,
        });
        await this.routes.updateRoute(m, document.id, {
          incarnation,
          latestVersion: version,
          activeVersion: version,
          desiredState: 'running',
          deletedAt: null,
        });
        await this.claimPaths(m, document.id, [document]);
        await this.routes.notify(m, document.id);
      })
      .catch((err: unknown) => {
        // Two creates of one new id at once: the second finds the first's row on commit.
        throw isUniqueViolation(err) ? exists() : err;
      });
    await this.applied(document.id);
    return this.get(document.id);
  }

  /** Stores the next version. It runs only once activated (or at once with `activate`). */
  async update(
    id: string,
    doc: unknown,
    author: string,
    options: { activate?: boolean; comment?: string } = {},
  ): Promise<RouteView> {
    const document = await this.checked(doc);
    if (document.id !== id) {
      throw new JunctionError(
        'ROUTE_INVALID',
        `the document's id '${document.id}' is not '${id}'`,
        { problems: [{ pointer: '/id', message: `must be '${id}' (the route being updated)` }] },
      );
    }
    await this.routes.transaction(async (m) => {
      const route = await this.routes.lock(m, id);
      if (!route || route.deletedAt) throw new JunctionError('NOT_FOUND', `no route '${id}'`);
      const latest = (await this.routes.findVersion(
        id,
        route.incarnation,
        route.latestVersion,
        m,
      ))!;
      let version = route.latestVersion;
      if (latest.checksum !== checksumOf(document)) {
        version += 1;
        await this.routes.addVersion(m, {
          routeId: id,
          incarnation: route.incarnation,
          version,
          document,
          checksum: checksumOf(document),
          author,
          comment: options.comment ?? null,
        });
      }
      await this.routes.updateRoute(m, id, {
        latestVersion: version,
        ...(options.activate ? { activeVersion: version } : {}),
      });
      // The new version's path is claimed now, not at activation: a path is taken when it is
      // written down, so that activating a stored version never finds its path gone.
      const active =
        options.activate || route.activeVersion === null
          ? undefined
          : await this.routes.findVersion(id, route.incarnation, route.activeVersion, m);
      await this.claimPaths(m, id, [document, ...(active ? [active.document] : [])]);
      if (options.activate) await this.routes.notify(m, id);
    });
    if (options.activate) await this.applied(id);
    return this.get(id);
  }

  /** Stops the route and hides it; its versions stay, as the record of what ran. */
  async delete(id: string): Promise<void> {
    await this.routes.transaction(async (m) => {
      const route = await this.routes.lock(m, id);
      if (!route || route.deletedAt) throw new JunctionError('NOT_FOUND', `no route '${id}'`);
      await this.routes.updateRoute(m, id, { deletedAt: new Date(), desiredState: 'stopped' });
      // A deleted route holds no path: another route (or this id, created again) may take it.
      await this.routes.claimPaths(m, id, []);
      await this.routes.notify(m, id);
    });
    await this.applied(id);
  }

  /** The versions of the route's current incarnation, or of an earlier one (`incarnation`). */
  async versions(id: string, incarnation?: number): Promise<VersionSummary[]> {
    const route = await this.require(id);
    const which = this.incarnationOf(route, incarnation);
    return (await this.routes.listVersions(id, which)).map((v) => this.versionSummary(v, route));
  }

  async version(
    id: string,
    version: number,
    diffFrom?: number,
    incarnation?: number,
  ): Promise<VersionView> {
    const route = await this.require(id);
    const which = this.incarnationOf(route, incarnation);
    const v = await this.routes.findVersion(id, which, version);
    if (!v) throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${version}`);
    const out: VersionView = { ...this.versionSummary(v, route), document: v.document };
    if (diffFrom !== undefined) {
      const from = await this.routes.findVersion(id, which, diffFrom);
      if (!from) throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${diffFrom}`);
      out.diff = { from: diffFrom, operations: compare(from.document, v.document) };
    }
    return out;
  }

  /** Deploys a version, or rolls back to an older one. */
  async activate(id: string, version: number): Promise<RouteView> {
    await this.routes.transaction(async (m) => {
      const route = await this.routes.lock(m, id);
      if (!route || route.deletedAt) throw new JunctionError('NOT_FOUND', `no route '${id}'`);
      if (version < 1 || version > route.latestVersion)
        throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${version}`);
      const stored = await this.routes.findVersion(id, route.incarnation, version, m);
      // Connections may have changed since the version was saved: check again before it runs.
      const missing = await this.connections.checkRefs(connectionRefs(stored!.document));
      if (missing.length > 0)
        throw new JunctionError(
          'UNKNOWN_CONNECTION',
          `version ${version} names connections that are missing`,
          { problems: missing },
        );
      const latest = await this.routes.findVersion(id, route.incarnation, route.latestVersion, m);
      await this.claimPaths(m, id, [stored!.document, latest!.document]);
      await this.routes.updateRoute(m, id, { activeVersion: version });
      await this.routes.notify(m, id);
    });
    await this.applied(id);
    return this.get(id);
  }

  async setRunState(id: string, state: 'running' | 'stopped'): Promise<RouteView> {
    await this.routes.transaction(async (m) => {
      const route = await this.routes.lock(m, id);
      if (!route || route.deletedAt) throw new JunctionError('NOT_FOUND', `no route '${id}'`);
      if (state === 'running') {
        // A route that lost its path (two routes shared one before paths were unique) runs
        // only once its path is its own.
        const documents: RouteDocument[] = [];
        for (const v of new Set([route.activeVersion, route.latestVersion])) {
          const stored =
            v === null ? null : await this.routes.findVersion(id, route.incarnation, v, m);
          if (stored) documents.push(stored.document);
        }
        await this.claimPaths(m, id, documents);
      }
      await this.routes.updateRoute(m, id, { desiredState: state });
      await this.routes.notify(m, id);
    });
    await this.applied(id);
    return this.get(id);
  }

  async status(id: string): Promise<
    {
      id: string;
      desiredState: string;
      activeVersion: number | null;
      latestVersion: number;
    } & RuntimeStatus
  > {
    const route = await this.require(id);
    const live = this.runtime?.status(id);
    return {
      id,
      desiredState: route.desiredState,
      activeVersion: route.activeVersion,
      latestVersion: route.latestVersion,
      ...(live ?? {
        state: route.activeVersion === null ? 'not-deployed' : 'stopped',
        inFlight: 0,
        processed: 0,
        failed: 0,
        lastError: null,
      }),
    };
  }

  /**
   * A dry runner for a route, compiled once for many messages: a stored version (the active one
   * by default) or a draft document (an object, or YAML/JSON text) that is checked first. Each
   * run has the normal expression limits and no side effects; views are redacted of card numbers.
   */
  async dryRunner(
    id: string,
    options: { version?: number; document?: unknown } = {},
  ): Promise<{
    version: number | 'draft';
    run(message: { body: unknown; headers?: Record<string, string> }): Promise<DryRunView>;
  }> {
    let document: RouteDocument;
    let version: number | 'draft';
    if (options.document !== undefined) {
      let doc: unknown = options.document;
      if (typeof doc === 'string') {
        try {
          doc = parseRouteText(doc);
        } catch (err) {
          if (!(err instanceof RouteValidationError)) throw err;
          throw new JunctionError('ROUTE_INVALID', 'route document cannot be parsed', {
            problems: err.problems,
          });
        }
      }
      document = await this.checked(doc);
      version = 'draft';
    } else {
      const route = await this.require(id);
      const v = options.version ?? route.activeVersion ?? route.latestVersion;
      const stored = await this.routes.findVersion(id, route.incarnation, v);
      if (!stored) throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${v}`);
      document = stored.document;
      version = v;
    }
    const compiled = compileRoute(document, this.resources);
    return {
      version,
      run: async (message) =>
        dryRunView(
          version,
          await compiled.run(
            {
              id: 'dry-run',
              headers: Object.fromEntries(
                Object.entries(message.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
              ),
              body: message.body,
              meta: {
                routeId: id,
                routeVersion: typeof version === 'number' ? version : 0,
                source: { type: 'test', name: 'dry-run' },
                receivedAt: new Date().toISOString(),
                redelivered: false,
              },
            },
            { trace: true },
          ),
        ),
    };
  }

  /** Runs a message through a version (the active one by default) with no side effects. */
  async dryRun(id: string, input: DryRunInput): Promise<ReturnType<typeof dryRunView<number>>> {
    const route = await this.require(id);
    const version = input.version ?? route.activeVersion ?? route.latestVersion;
    const stored = await this.routes.findVersion(id, route.incarnation, version);
    if (!stored) throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${version}`);
    const compiled = compileRoute(stored.document, this.resources);
    const envelope: Envelope = {
      id: 'dry-run',
      headers: Object.fromEntries(
        Object.entries(input.message.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
      ),
      body: input.message.body,
      meta: {
        routeId: id,
        routeVersion: version,
        source: { type: 'test', name: 'dry-run' },
        receivedAt: new Date().toISOString(),
        redelivered: false,
      },
    };
    return dryRunView(version, await compiled.run(envelope, { trace: true }));
  }

  private async checked(doc: unknown): Promise<RouteDocument> {
    const problems = await this.problems(doc);
    if (problems.length > 0) {
      const unknownConnection = problems.every(
        (p) => p.message.startsWith('no connection named') || p.message.startsWith('connection '),
      );
      throw new JunctionError(
        unknownConnection ? 'UNKNOWN_CONNECTION' : 'ROUTE_INVALID',
        `route document has ${problems.length} problem${problems.length > 1 ? 's' : ''}`,
        { problems },
      );
    }
    return doc as RouteDocument;
  }

  /**
   * Claims the ingest paths of `documents` (the route's active and latest versions) for the
   * route and lets go of any other it held; 409 with the owner when another route holds one.
   */
  private async claimPaths(
    m: EntityManager,
    id: string,
    documents: RouteDocument[],
  ): Promise<void> {
    const paths = new Set<string>();
    for (const d of documents) {
      const key = d.source.type === 'http' ? ingestPathKey(d.source.path) : undefined;
      if (key !== undefined) paths.add(key);
    }
    // In one order everywhere: two claims of the same two paths wait for each other, never deadlock.
    const taken = await this.routes.claimPaths(m, id, [...paths].sort());
    if (taken.length > 0) {
      const { path, routeId } = taken[0];
      throw new JunctionError(
        'CONFLICT',
        `ingest path '${path}' belongs to route '${routeId}'; a path (compared case-insensitively, without doubled or trailing slashes) takes one route`,
        {
          path,
          routeId,
          problems: [{ pointer: '/source/path', message: `is route '${routeId}'s path` }],
        },
      );
    }
  }

  private incarnationOf(route: RouteEntity, incarnation: number | undefined): number {
    if (incarnation === undefined) return route.incarnation;
    if (incarnation < 1 || incarnation > route.incarnation)
      throw new JunctionError('NOT_FOUND', `route '${route.id}' has no incarnation ${incarnation}`);
    return incarnation;
  }

  private async require(id: string): Promise<RouteEntity> {
    const route = await this.routes.find(id);
    if (!route) throw new JunctionError('NOT_FOUND', `no route '${id}'`);
    return route;
  }

  private summary(r: RouteEntity, document: RouteDocument): RouteSummary {
    return {
      id: r.id,
      incarnation: r.incarnation,
      description: document.description ?? null,
      sourceType: document.source.type,
      activeVersion: r.activeVersion,
      latestVersion: r.latestVersion,
      desiredState: r.desiredState,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    };
  }

  private versionSummary(v: RouteVersionEntity, route: RouteEntity): VersionSummary {
    return {
      incarnation: v.incarnation,
      version: v.version,
      author: v.author,
      comment: v.comment,
      checksum: v.checksum,
      createdAt: v.createdAt.toISOString(),
      active: route.incarnation === v.incarnation && route.activeVersion === v.version,
    };
  }
}

/** The dry-run answer, with card numbers redacted: it is shown in the console and logs. */
export type DryRunView = ReturnType<typeof dryRunView<number | 'draft'>>;

export function dryRunView<V extends number | 'draft'>(version: V, result: RunResult) {
  return redactPans({
    version,
    outcome: result.outcome,
    ...(result.outcome === 'drop' ? { reason: result.reason } : {}),
    ...(result.outcome === 'error'
      ? {
          error: {
            code: result.error.code,
            message: result.error.message,
            where: result.error.where ?? null,
          },
        }
      : {}),
    stages: (result.trace ?? []).map((t) => ({
      index: t.index,
      kind: t.kind,
      input: t.input,
      output: t.output,
      dropped: t.dropped ?? false,
      error: t.error ?? null,
      durationMs: Math.round(t.durationMs * 1000) / 1000,
    })),
    deliveries: result.deliveries.map((d) => ({
      destination: d.index,
      type: d.destination.type,
      target: d.destination,
      routingKey: d.routingKey ?? null,
      key: d.key ?? null,
      body: d.envelope.body,
    })),
  });
}
