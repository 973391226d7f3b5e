import { createHmac } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { compare, Operation } from 'fast-json-patch';
import { permits, type Principal } from '@junction/auth';
import { JunctionError } from '@junction/common';
import { sourceClaim, type RouteSpec, type SourceClaim } from '@junction/connectors';
import {
  compileRoute,
  connectionRefs,
  containsPan,
  Envelope,
  ingestPathKey,
  panPointers,
  redactPans,
  redactPanText,
  RouteProblem,
  RouteResources,
  RunResult,
  type ParsedSource,
  sharedRouteSourceParser,
  SourceParserBusyError,
  SourceFormat,
  validateRoute,
  withPositions,
} from '@junction/pipeline';
import { stringify as toYaml } from 'yaml';
import { checksumOf } from './canonical-json';
import { ConnectionsService } from './connections.service';
import { RouteEntity } from './entities/route.entity';
import { ROUTE_RESOURCES, ROUTE_RUNTIME_STATUS } from './registry.tokens';
import { routeCardNumberProblems } from './route-card-numbers';
import { routeCredentialProblems } from './route-credentials';
import { checkIfMatch } from './route-etag';
import { RouteEventBus } from './route-events';
import { isUniqueViolation, RoutesRepository, type VersionListing } from './routes.repository';
import type { RouteSourceInput } from './route-source-body';
import { SamplesService } from './samples.service';

/** Who asks for an activation, and whether they override the sample guard (admins only). */
export interface ActivationGuard {
  admin: boolean;
  /** The reason an admin gives for activating although a sample leaks a card number. */
  overrideReason?: string;
}

/**
 * Longest comment a version keeps: every version's comment is in the history listing (all of a
 * route's versions, to every viewer), so 15 kB comments over a few thousand saves made each
 * listing tens of megabytes.
 */
export const MAX_VERSION_COMMENT_LENGTH = 1_000;

/**
 * A version's comment is listed with it to every viewer: one holding a card number is refused,
 * and one longer than MAX_VERSION_COMMENT_LENGTH.
 */
function refuseCardNumberComment(comment: string | undefined): void {
  if (comment !== undefined && comment.length > MAX_VERSION_COMMENT_LENGTH)
    throw new JunctionError(
      'BAD_REQUEST',
      `comment is at most ${MAX_VERSION_COMMENT_LENGTH} characters; say the rest in the route's description or elsewhere`,
    );
  if (comment !== undefined && containsPan(comment))
    throw new JunctionError('BAD_REQUEST', 'comment must not hold a card number');
}

/** A route document with the text it came as. */
export interface SourcedDocument {
  document: unknown;
  source: string;
  format: SourceFormat;
  /** The parse of a YAML text, kept to place its problems (parsing it again cost as much). */
  parsed?: ParsedSource;
}

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

/** This gateway process, as the route list names it (several may run one database). */
export const PROCESS_NAME = `${hostname()}:${process.pid}`;

/**
 * A route's last error as a caller may see it. The text of a message's failure may quote the
 * message (`Unable to cast value to a number: "jane@example.com"`, a JSON parse error's excerpt),
 * and messages are for those who may read dead letters or the audit trail: anyone else who reads
 * routes (a viewer, an editor) gets where and why it failed, without the text. A failure of the
 * route itself (it could not start, its broker refused) quotes no message and is shown to all.
 */
export function lastErrorFor(live: RuntimeStatus, caller?: Principal): string | null {
  if (live.lastError === null || !live.lastErrorSummary || !caller) return live.lastError;
  if (permits(caller.roles, 'deadletters.read') || permits(caller.roles, 'audit.read'))
    return live.lastError;
  return `${live.lastErrorSummary} (the error's text may quote the message: shown to those who may read dead letters)`;
}

export interface RouteListItem extends RouteSummary {
  processes: Array<{
    process: string;
    state: RuntimeStatus['state'];
    since?: string;
    lastError: string | null;
  }>;
  /** This process's last error of the route (card numbers redacted). */
  lastError: string | null;
  counts: { processed: number; failed: number; inFlight: number };
  runtime: RouteRuntimeSummary;
}

export interface RouteView extends RouteSummary {
  /** The version `document` is: the active one (the latest while none is active). */
  documentVersion: number;
  /** The document of `documentVersion`: what runs, also after a rollback. */
  document: RouteSpec;
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
  document: RouteSpec;
  /** The text the version was written in (JSON of the document for versions stored before texts were kept). */
  source: string;
  sourceFormat: SourceFormat;
  /** RFC 6902 operations that turn version `diffFrom` into this one, when asked for. */
  diff?: { from: number; operations: Operation[] };
}

export interface RuntimeStatus {
  state:
    | 'running'
    | 'stopped'
    | 'starting'
    | 'connecting'
    | 'retrying'
    | 'failed'
    | 'degraded'
    | 'not-deployed';
  inFlight: number;
  processed: number;
  failed: number;
  lastError: string | null;
  /** `lastError` without its text, when it is a message's failure (which may quote the message). */
  lastErrorSummary?: string | null;
  /** Why it is not running (the broker's words, redacted), while it is not. */
  reason?: string | null;
  /** Since when it is in this state, in this process. */
  since?: string | null;
}

/** A route's run state in the list of routes. */
export interface RouteRuntimeSummary {
  state: RuntimeStatus['state'];
  reason: string | null;
  since: string | null;
  process: string;
}

/** Implemented by the route runtime (ROUTE_RUNTIME_STATUS); without one, status reports only the stored state. */
export interface RouteRuntimeStatus {
  status(routeId: string): RuntimeStatus | undefined;
}

export interface DryRunMessage {
  body: unknown;
  headers?: Record<string, string>;
  /**
   * A Kafka source record's key: `$meta.key` (card numbers redacted), and the key a Kafka
   * destination that names none sends on (none when it holds a card number), as a run does.
   */
  key?: string;
}

export interface DryRunInput {
  message: DryRunMessage;
  version?: number;
}

/** A dry run of a document that is not saved: the document itself, or its YAML/JSON text. */
export interface UnsavedDryRunInput {
  document?: unknown;
  source?: string;
  message: DryRunMessage;
}

/**
 * The resources a dry run compiles with: the route's own, but the `hash` mask keyed with a key of
 * its own, derived one way from the real one. A dry run may be asked by anyone who reads routes,
 * with any message: with the real key it would give the pseudonym of any value a reader cares to
 * try (every e-mail address of a list), and so undo the pseudonymisation of whatever the route
 * delivered. Dry-run pseudonyms have the real ones' shape and are as stable (the same value gives
 * the same pseudonym in every dry run and process), but are not the ones the route delivers.
 */
export function dryRunResources(resources: RouteResources): RouteResources {
  return {
    ...resources,
    hmacKey: createHmac('sha256', resources.hmacKey).update('junction/dry-run').digest(),
  };
}

@Injectable()
export class RoutesService {
  private readonly dryRunWith: RouteResources;

  constructor(
    private readonly routes: RoutesRepository,
    private readonly connections: ConnectionsService,
    @Inject(ROUTE_RESOURCES) private readonly resources: RouteResources,
    private readonly samples: SamplesService,
    private readonly events: RouteEventBus,
    @Optional() @Inject(ROUTE_RUNTIME_STATUS) private readonly runtime?: RouteRuntimeStatus,
  ) {
    this.dryRunWith = dryRunResources(resources);
  }

  /**
   * Announces a committed change, and waits for this process's runtime to apply it, so that a
   * route is running (or stopped) when its create, activate, start or stop returns (the runtime
   * bounds that wait: a route whose broker is slow to answer keeps starting in the background).
   */
  private applied(id: string): Promise<void> {
    return this.events.emit('route.changed', { routeId: id });
  }

  /**
   * A YAML text parsed with limits, long ones off the event loop (503 when that is busy, or when
   * `owner`, who sent it, has enough texts waiting there already).
   */
  private async parseSource(text: string, owner?: string): Promise<ParsedSource> {
    try {
      return await sharedRouteSourceParser().parse(text, owner);
    } catch (err) {
      if (err instanceof SourceParserBusyError)
        throw new JunctionError('UNAVAILABLE', err.message, undefined, { retryAfterSeconds: 1 });
      throw err;
    }
  }

  /**
   * The document of a request body: YAML text parsed with limits (a text that does not parse is
   * refused, 400, with line and column), or parsed JSON with its text (pretty JSON when unknown).
   */
  async readSource(input: RouteSourceInput, owner?: string): Promise<SourcedDocument> {
    if (input.format === 'yaml') {
      const text = input.text ?? '';
      const parsed = await this.parseSource(text, owner);
      if (parsed.problems.length > 0)
        throw new JunctionError(
          'ROUTE_INVALID',
          `the route source does not parse: ${parsed.problems[0].message}` +
            (parsed.problems[0].line ? ` (line ${parsed.problems[0].line})` : ''),
          { problems: parsed.problems },
        );
      return { document: parsed.value, source: text, format: 'yaml', parsed };
    }
    return {
      document: input.document,
      source: input.text ?? JSON.stringify(input.document, null, 2),
      format: 'json',
    };
  }

  /** The live route that holds a normalised ingest path (see normalizeIngestPath), if any. */
  ingestPathOwner(
    key: string,
  ): Promise<{ routeId: string; desiredState: 'running' | 'stopped' } | null> {
    return this.routes.pathOwner(key);
  }

  /**
   * Everything wrong with a document: shape, expressions, and connections it names; with the
   * line and column of each in the source text, when there is one. A `caller` who may not read
   * connections is not told which part of a connection reference fails (see checkRefs).
   */
  async problems(
    doc: unknown,
    sourced?: SourcedDocument,
    caller?: Principal,
  ): Promise<RouteProblem[]> {
    let problems = await validateRoute(doc, this.resources);
    if (problems.length === 0)
      problems = await this.connections.checkRefs(
        connectionRefs(doc as RouteSpec, this.resources.protocols),
        { detailed: !caller || permits(caller.roles, 'connections.read') },
      );
    const reported = new Set(problems.map((p) => `${p.pointer}\u0000${p.message}`));
    problems = [
      ...problems,
      ...[...routeCredentialProblems(doc), ...routeCardNumberProblems(doc, sourced?.source)].filter(
        (p) => !reported.has(`${p.pointer}\u0000${p.message}`),
      ),
    ];
    // YAML texts get line and column (JSON clients keep the answer they always had).
    if (problems.length > 0 && sourced?.format === 'yaml') {
      const parsed = sourced.parsed ?? (await this.parseSource(sourced.source));
      if (parsed.problems.length === 0) problems = withPositions(problems, parsed);
    }
    return problems;
  }

  /** The source of the active version (else the latest) as YAML text. */
  async yamlSource(id: string): Promise<string> {
    const route = await this.require(id);
    const v = (await this.routes.findVersion(
      id,
      route.incarnation,
      route.activeVersion ?? route.latestVersion,
    ))!;
    if (v.sourceFormat === 'yaml' && v.source !== null) return v.source;
    // From the JSON text where there is one: it keeps its author's key order (jsonb does not).
    if (v.source !== null) {
      try {
        return toYaml(JSON.parse(v.source));
      } catch {
        // stored text not plain JSON: fall back to the document
      }
    }
    return toYaml(v.document);
  }

  /**
   * Every route with its live state in one call (the console's list): the stored summary, this
   * process's run state, counts and last error (redacted). `q` filters on id and description
   * (case-insensitive).
   */
  async list(q?: string, caller?: Principal): Promise<RouteListItem[]> {
    const needle = q?.trim().toLowerCase();
    return (await this.routes.listWithDocument())
      .map(({ route, document }) => this.summary(route, document))
      .filter(
        (r) =>
          !needle ||
          r.id.toLowerCase().includes(needle) ||
          (r.description ?? '').toLowerCase().includes(needle),
      )
      .map((summary) => {
        const live = this.liveStatus(summary);
        const shown = lastErrorFor(live, caller);
        const lastError = shown === null ? null : redactPanText(shown);
        const reason = live.reason ? redactPanText(live.reason) : null;
        const since = live.since ?? null;
        return {
          ...summary,
          processes: [
            {
              process: PROCESS_NAME,
              state: live.state,
              ...(since ? { since } : {}),
              lastError: reason ?? lastError,
            },
          ],
          lastError,
          counts: { processed: live.processed, failed: live.failed, inFlight: live.inFlight },
          // What this process makes of it (GET /routes/{id}/status has the same, per route).
          runtime: { state: live.state, reason, since, process: PROCESS_NAME },
        };
      });
  }

  /** The routes a change of a connection would restart, and whether each runs here. */
  async connectionImpact(
    name: string,
  ): Promise<{ routes: Array<{ id: string; activeVersion: number; running: boolean }> }> {
    const using = await this.connections.activeRoutesUsing(name);
    return {
      routes: using.map((r) => ({
        ...r,
        running: ['running', 'degraded'].includes(this.liveStatus(r).state),
      })),
    };
  }

  private liveStatus(route: { id: string; activeVersion: number | null }): RuntimeStatus {
    return (
      this.runtime?.status(route.id) ?? {
        state: route.activeVersion === null ? 'not-deployed' : 'stopped',
        inFlight: 0,
        processed: 0,
        failed: 0,
        lastError: null,
      }
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
  async create(
    doc: unknown,
    author: string,
    comment?: string,
    sourced?: SourcedDocument,
  ): Promise<RouteView> {
    refuseCardNumberComment(comment);
    const document = await this.checked(doc, sourced);
    const text = this.textOf(document, sourced);
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
          ...text,
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
        await this.claimSources(m, document.id, [document], []);
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
    options: {
      activate?: boolean;
      comment?: string;
      sourced?: SourcedDocument;
      guard?: ActivationGuard;
      /** The `If-Match` header: the route's entity tag as the editor read it. */
      ifMatch?: string;
    } = {},
  ): Promise<RouteView> {
    refuseCardNumberComment(options.comment);
    const document = await this.checked(doc, options.sourced);
    const text = this.textOf(document, options.sourced);
    if (options.activate && (await this.routes.find(id)))
      await this.guardSamples(id, document, 0, options.guard);
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
      checkIfMatch(route, options.ifMatch);
      const latest = (await this.routes.findVersion(
        id,
        route.incarnation,
        route.latestVersion,
        m,
      ))!;
      const running =
        route.activeVersion === null || route.activeVersion === route.latestVersion
          ? undefined
          : await this.routes.findVersion(id, route.incarnation, route.activeVersion, m);
      await this.claimSources(
        m,
        id,
        [document],
        [latest.document, ...(running ? [running.document] : [])],
      );
      let version = route.latestVersion;
      // A YAML text that changed only in comments or layout is a new version too: the text is
      // what its author reads. The same document sent as JSON again is not.
      const newText = text.sourceFormat === 'yaml' && latest.source !== text.source;
      if (latest.checksum !== checksumOf(document) || newText) {
        version += 1;
        await this.routes.addVersion(m, {
          routeId: id,
          incarnation: route.incarnation,
          version,
          document,
          checksum: checksumOf(document),
          ...text,
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
  async delete(id: string, ifMatch?: string): Promise<void> {
    await this.routes.transaction(async (m) => {
      const route = await this.routes.lock(m, id);
      if (!route || route.deletedAt) throw new JunctionError('NOT_FOUND', `no route '${id}'`);
      checkIfMatch(route, ifMatch);
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
    const out: VersionView = {
      ...this.versionSummary(v, route),
      document: v.document,
      source: v.source ?? JSON.stringify(v.document, null, 2),
      sourceFormat: v.sourceFormat ?? 'json',
    };
    if (diffFrom !== undefined) {
      const from = await this.routes.findVersion(id, which, diffFrom);
      if (!from) throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${diffFrom}`);
      out.diff = { from: diffFrom, operations: compare(from.document, v.document) };
    }
    return out;
  }

  /**
   * Runs every sample of the route through a document (dry run, no side effects) and refuses
   * (409 SAMPLE_LEAKS_PAN, with the samples and pointers) when a card number would leave in a
   * delivery, unless an admin overrides with a reason. A sample that fails or is dropped leaks
   * nothing.
   */
  async guardSamples(
    id: string,
    document: RouteSpec,
    version: number,
    guard: ActivationGuard = { admin: false },
  ): Promise<void> {
    if (guard.overrideReason !== undefined && !guard.admin)
      throw new JunctionError(
        'FORBIDDEN',
        'only an admin may override the sample guard; ask one, or fix the masks',
      );
    const leaks: Array<{ name: string; pointers: string[] }> = [];
    for (const sample of await this.samples.messages(id)) {
      const run = await this.runDry(document, version, {
        body: sample.body,
        headers: sample.headers,
      });
      if (run.panWarnings.length > 0) leaks.push({ name: sample.name, pointers: run.panWarnings });
    }
    if (leaks.length > 0 && guard.overrideReason === undefined)
      throw new JunctionError(
        'CONFLICT',
        `${version > 0 ? `version ${version}` : 'the new version'} lets a card number out in ${leaks.length} sample${leaks.length > 1 ? 's' : ''} (${leaks
          .map((l) => l.name)
          .join(', ')}); mask it, or an admin may override with a reason`,
        { code: 'SAMPLE_LEAKS_PAN', samples: leaks },
      );
  }

  /** The route's active version (the registry's word, whichever process runs it); null if none. */
  async activeVersionOf(id: string): Promise<number | null> {
    const route = await this.routes.find(id);
    return route && !route.deletedAt ? route.activeVersion : null;
  }

  /**
   * The active version with the count of changes of it (RouteEntity.activations): a version
   * number alone does not tell 'still 1' from '1 again, after 2 ran'. Null when none is active.
   */
  async activeVersionAndActivations(
    id: string,
  ): Promise<{ version: number; activations: number } | null> {
    const route = await this.routes.find(id);
    if (!route || route.deletedAt || route.activeVersion === null) return null;
    return { version: route.activeVersion, activations: route.activations };
  }

  /**
   * The sample guard on a stored version that is to run without being activated (a replay job
   * through it): 409 SAMPLE_LEAKS_PAN as its activation would get. No override: an admin who
   * means it activates the version with a reason.
   */
  async guardStoredVersion(id: string, version: number): Promise<void> {
    const route = await this.routes.find(id);
    const stored = route && (await this.routes.findVersion(id, route.incarnation, version));
    if (!stored) throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${version}`);
    await this.guardSamples(id, stored.document, version);
  }

  /** Deploys a version, or rolls back to an older one (after the sample guard). */
  async activate(
    id: string,
    version: number,
    guard?: ActivationGuard,
    ifMatch?: string,
  ): Promise<RouteView> {
    const route = await this.routes.find(id);
    const candidate = route && (await this.routes.findVersion(id, route.incarnation, version));
    if (candidate) await this.guardSamples(id, candidate.document, version, guard);
    await this.routes.transaction(async (m) => {
      const route = await this.routes.lock(m, id);
      if (!route || route.deletedAt) throw new JunctionError('NOT_FOUND', `no route '${id}'`);
      checkIfMatch(route, ifMatch);
      if (version < 1 || version > route.latestVersion)
        throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${version}`);
      const stored = await this.routes.findVersion(id, route.incarnation, version, m);
      // The samples ran before the lock: the id may have been deleted and created again since,
      // and its version `version` be another document that no sample has seen.
      if (
        !candidate ||
        candidate.incarnation !== route.incarnation ||
        candidate.checksum !== stored!.checksum
      )
        throw new JunctionError(
          'CONFLICT',
          `route '${id}' was deleted and created again while version ${version} was being checked; activate it again`,
        );
      // Connections may have changed since the version was saved: check again before it runs.
      const missing = await this.connections.checkRefs(
        connectionRefs(stored!.document, this.resources.protocols),
      );
      if (missing.length > 0)
        throw new JunctionError(
          'UNKNOWN_CONNECTION',
          `version ${version} names connections that are missing`,
          { problems: missing },
        );
      const latest = await this.routes.findVersion(id, route.incarnation, route.latestVersion, m);
      const running =
        route.activeVersion === null
          ? undefined
          : await this.routes.findVersion(id, route.incarnation, route.activeVersion, m);
      await this.claimSources(
        m,
        id,
        [stored!.document],
        [latest!.document, ...(running ? [running.document] : [])],
      );
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
        const documents: RouteSpec[] = [];
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

  async status(
    id: string,
    caller?: Principal,
  ): Promise<
    {
      id: string;
      desiredState: string;
      activeVersion: number | null;
      latestVersion: number;
      process: string;
    } & RuntimeStatus & { reason: string | null; since: string | null }
  > {
    const route = await this.require(id);
    const live: RuntimeStatus = this.runtime?.status(id) ?? {
      state: route.activeVersion === null ? 'not-deployed' : 'stopped',
      inFlight: 0,
      processed: 0,
      failed: 0,
      lastError: null,
    };
    const { lastErrorSummary: _withheld, ...shown } = live;
    return {
      id,
      desiredState: route.desiredState,
      activeVersion: route.activeVersion,
      latestVersion: route.latestVersion,
      process: PROCESS_NAME,
      ...shown,
      lastError: lastErrorFor(live, caller),
      reason: live.reason ?? null,
      since: live.since ?? null,
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
    if (options.document !== undefined) {
      const sourced =
        typeof options.document === 'string'
          ? await this.readSource({ format: 'yaml', text: options.document })
          : await this.readSource({ format: 'json', document: options.document });
      const document = await this.checked(sourced.document, sourced);
      // A draft runs as version 0, as POST /routes/test does.
      return { version: 'draft', run: (message) => this.runDry(document, 0, message) };
    }
    const route = await this.require(id);
    const v = options.version ?? route.activeVersion ?? route.latestVersion;
    const stored = await this.routes.findVersion(id, route.incarnation, v);
    if (!stored) throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${v}`);
    return { version: v, run: (message) => this.runDry(stored.document, v, message) };
  }

  /** Runs a message through a version (the active one by default) with no side effects. */
  async dryRun(id: string, input: DryRunInput): Promise<DryRunView> {
    const route = await this.require(id);
    const version = input.version ?? route.activeVersion ?? route.latestVersion;
    const stored = await this.routes.findVersion(id, route.incarnation, version);
    if (!stored) throw new JunctionError('NOT_FOUND', `route '${id}' has no version ${version}`);
    return this.runDry(stored.document, version, input.message);
  }

  /**
   * Runs a message through a document that is not saved (the editor's buffer): checked like a
   * save (400 with every problem, lines and columns for a text), then run with no side effects.
   */
  async dryRunUnsaved(input: UnsavedDryRunInput, caller?: Principal): Promise<DryRunView> {
    const owner = caller?.name;
    if ((input.document === undefined) === (input.source === undefined))
      throw new JunctionError('BAD_REQUEST', 'send either `document` or `source`, not both', {
        problems: [{ pointer: '', message: 'exactly one of document and source is required' }],
      });
    const sourced =
      input.source !== undefined
        ? await this.readSource({ format: 'yaml', text: input.source }, owner)
        : await this.readSource({ format: 'json', document: input.document });
    const document = await this.checked(sourced.document, sourced, caller);
    return this.runDry(document, 0, input.message);
  }

  /**
   * The dry run itself: every stage traced, the deliveries that would happen, nothing sent.
   * Each run first lets the event loop turn: the sample guard and the dead-letter preview run
   * many in a row, and a run awaits only promises (no I/O), so a loop of them never gave the
   * loop back: one activation of a route with 200 samples of 50 ms held every request, ingest
   * and route for 10 s.
   */
  async runDry(document: RouteSpec, version: number, message: DryRunMessage): Promise<DryRunView> {
    await new Promise((resolve) => setImmediate(resolve));
    const compiled = await compileRoute(document, this.dryRunWith);
    const envelope: Envelope = {
      id: 'dry-run',
      headers: Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
      ),
      body: message.body,
      meta: {
        routeId: document.id,
        routeVersion: version,
        source: { type: 'test', name: 'dry-run' },
        receivedAt: new Date().toISOString(),
        redelivered: false,
        ...(message.key !== undefined ? { key: redactPanText(message.key) } : {}),
      },
    };
    const result = await compiled.run(envelope, { trace: true });
    if (message.key !== undefined && redactPanText(message.key) === message.key)
      for (const d of result.deliveries)
        if (d.key === undefined && d.destination.type === 'kafka') d.key = message.key;
    return dryRunView(version, result);
  }

  private textOf(
    document: RouteSpec,
    sourced?: SourcedDocument,
  ): { source: string; sourceFormat: SourceFormat } {
    return sourced
      ? { source: sourced.source, sourceFormat: sourced.format }
      : { source: JSON.stringify(document, null, 2), sourceFormat: 'json' };
  }

  private async checked(
    doc: unknown,
    sourced?: SourcedDocument,
    caller?: Principal,
  ): Promise<RouteSpec> {
    const problems = await this.problems(doc, sourced, caller);
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
    return doc as RouteSpec;
  }

  /**
   * Claims the ingest paths of `documents` (the route's active and latest versions) for the
   * route and lets go of any other it held; 409 with the owner when another route holds one.
   */
  private async claimPaths(m: EntityManager, id: string, documents: RouteSpec[]): Promise<void> {
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

  /**
   * Refuses (409) a document whose source reads where another live route's active or latest
   * version reads, so the broker would split the messages between them (see sourceClaim). Only
   * a place the route does not read already (`held`: its own active and latest documents) is
   * checked: two routes that shared a queue before this check can still be edited apart.
   */
  private async claimSources(
    m: EntityManager,
    id: string,
    documents: RouteSpec[],
    held: RouteSpec[],
  ): Promise<void> {
    const taken = await this.takenSource(m, id, documents, held, true);
    if (taken) {
      const { claim, owner, connection } = taken;
      throw new JunctionError(
        'CONFLICT',
        claim.why
          ? `route '${owner}' takes ${claim.place} already: ${claim.why}`
          : `route '${owner}' reads ${claim.place} on connection '${connection}' already; two routes reading one place would split its messages between them (change that route, or delete it first)`,
        { routeId: owner, problems: [takenSourceProblem(taken)] },
      );
    }
  }

  /**
   * The first place `documents` read that no document of `held` reads and another live route's
   * active or latest version does (see claimSources); `lock`: under the lock that serialises
   * these checks across processes (a save), else as a look (a validation).
   */
  private async takenSource(
    m: EntityManager,
    id: string,
    documents: RouteSpec[],
    held: RouteSpec[],
    lock: boolean,
  ): Promise<TakenSource | undefined> {
    const protocols = this.resources.protocols;
    const heldKeys = new Set(held.map((d) => sourceClaim(protocols, id, d)?.key));
    const fresh = documents.filter((d) => {
      const claim = sourceClaim(protocols, id, d);
      return claim !== undefined && !heldKeys.has(claim.key);
    });
    if (fresh.length === 0) return undefined;
    if (lock) await this.routes.lockSources(m);
    for (const document of fresh) {
      const claim = sourceClaim(protocols, id, document)!;
      const { type, connection } = document.source as unknown as Record<string, string>;
      const owner = (await this.routes.sourcesOn(m, type, connection, id)).find(
        (other) => sourceClaim(protocols, other.routeId, other.document)?.key === claim.key,
      );
      if (owner) return { claim, owner: owner.routeId, connection };
    }
    return undefined;
  }

  /**
   * What a save of `doc` would refuse with 409 because of other live routes: its ingest path is
   * another route's, or its source reads where another route reads. `POST /routes/validate`
   * tells these with the document's problems, so that `route apply` finds them all before it
   * changes anything. A look, not a claim: a save checks again.
   */
  async conflicts(doc: RouteSpec): Promise<RouteProblem[]> {
    const problems: RouteProblem[] = [];
    const key = doc.source.type === 'http' ? ingestPathKey(doc.source.path) : undefined;
    const pathOwner = key === undefined ? null : await this.routes.pathOwner(key);
    if (pathOwner && pathOwner.routeId !== doc.id)
      problems.push({
        pointer: '/source/path',
        message: `is route '${pathOwner.routeId}'s path`,
        routeId: pathOwner.routeId,
      });
    const taken = await this.routes.transaction(async (m) => {
      const route = await this.routes.find(doc.id, m);
      const held: RouteSpec[] = [];
      if (route && !route.deletedAt)
        for (const version of new Set([route.latestVersion, route.activeVersion])) {
          if (version === null) continue;
          const stored = await this.routes.findVersion(doc.id, route.incarnation, version, m);
          if (stored) held.push(stored.document);
        }
      return this.takenSource(m, doc.id, [doc], held, false);
    });
    if (taken) problems.push({ ...takenSourceProblem(taken), routeId: taken.owner });
    return problems;
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

  private summary(r: RouteEntity, document: RouteSpec): RouteSummary {
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

  private versionSummary(v: VersionListing, route: RouteEntity): VersionSummary {
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

export type DryRunView = ReturnType<typeof dryRunView>;

/**
 * JSON pointers into a dry-run answer where a card number would leave in a delivery (its body
 * or headers), found before the answer is redacted.
 */
export function deliveryPanPointers(result: RunResult): string[] {
  return result.deliveries.flatMap((d, i) => [
    ...panPointers(d.envelope.body).map((p) => `/deliveries/${i}/body${p}`),
    ...panPointers(d.envelope.headers).map((p) => `/deliveries/${i}/headers${p}`),
  ]);
}

/** Which fields a stage changed, as JSON pointers (added, removed or replaced). */
function changedPointers(input: unknown, output: unknown): string[] {
  if (output === undefined) return [];
  if (input === null || typeof input !== 'object' || output === null || typeof output !== 'object')
    return input === output ? [] : [''];
  return [...new Set(compare(input, output).map((op) => op.path))].sort();
}

/** The dry-run answer, with card numbers redacted: it is shown in the console and logs. */
export function dryRunView(version: number, result: RunResult) {
  const panWarnings = deliveryPanPointers(result);
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
      ...(t.kind === 'mask' ? { changed: changedPointers(t.input, t.output) } : {}),
    })),
    deliveries: result.deliveries.map((d) => ({
      destination: d.index,
      type: d.destination.type,
      target: d.destination,
      routingKey: d.routingKey ?? null,
      key: d.key ?? null,
      priority: d.priority ?? null,
      body: d.envelope.body,
      headers: d.envelope.headers,
    })),
    panWarnings,
  });
}

/** A place a document would read that another live route reads already. */
interface TakenSource {
  claim: SourceClaim;
  owner: string;
  connection: string;
}

function takenSourceProblem({ claim, owner }: TakenSource): RouteProblem {
  return {
    pointer: claim.pointer,
    message: claim.why
      ? `route '${owner}' takes ${claim.place}: ${claim.why}`
      : `is where route '${owner}' reads (${claim.place})`,
  };
}
