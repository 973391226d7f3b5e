import { closeSync, createWriteStream, readFileSync, writeSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import {
  type ApiProblem,
  type AuditExportQuery,
  errorBody,
  type JunctionClient,
  type Schemas,
  textBody,
} from '@junction/client';
import { connect, failure } from './api-client';
import {
  configPath,
  NotLoggedIn,
  normalizeUrl,
  removeLogin,
  resolveConnection,
  StoredLogin,
  writeLogin,
} from './cli-config';
import { EXIT } from './exit-codes';
import { openOutputFile, UnwritableFile } from './output-file';
import { printable } from './terminal-text';
import {
  collectRouteFiles,
  duplicateIds,
  FilesError,
  formatProblem,
  inApplyOrder,
  readRouteFile,
  RouteFile,
  sharedPlaces,
  unifiedDiff,
} from './route-files';

// Everything printed may hold text the gateway sent (sources, names, reasons): never raw controls.
const out = (line = '') => process.stdout.write(`${printable(line)}\n`);
const err = (line: string) => process.stderr.write(`${printable(line)}\n`);

class Usage extends Error {}

/** Runs a command and turns what went wrong into its exit code and one clear line. */
async function guarded(work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (e) {
    if (
      e instanceof Usage ||
      e instanceof NotLoggedIn ||
      e instanceof FilesError ||
      e instanceof UnwritableFile
    ) {
      err(`junction: ${e.message}`);
      return EXIT.USAGE;
    }
    const failed = failure(e);
    if (!failed) throw e;
    if (failed.unavailable) {
      err(`junction: ${failed.line}`);
      return EXIT.UNAVAILABLE;
    }
    err(`junction: refused: ${failed.line}`);
    for (const p of failed.error?.body.details?.problems ?? [])
      err(`  ${p.pointer || '/'}: ${p.message}`);
    if (failed.error?.status === 401) err('  (sign in again: junction login)');
    return EXIT.REFUSED;
  }
}

function client(): JunctionClient {
  return connect(resolveConnection());
}

function readSecret(fromStdin: boolean, envName: string, what: string): string | undefined {
  if (fromStdin) {
    const text = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    if (!text) throw new Usage(`no ${what} on standard input`);
    return text;
  }
  return process.env[envName] || undefined;
}

export function loginCommand(
  url: string,
  options: {
    username?: string;
    provider?: string;
    passwordStdin?: boolean;
    apiKeyStdin?: boolean;
  },
): Promise<number> {
  return guarded(async () => {
    const base = normalizeUrl(url);
    let login: StoredLogin;
    if (options.username !== undefined) {
      const password = readSecret(!!options.passwordStdin, 'JUNCTION_PASSWORD', 'password');
      if (!password)
        throw new Usage('a password is needed: --password-stdin, or JUNCTION_PASSWORD');
      const anonymous = connect({ url: base });
      const session = await anonymous.data(
        anonymous.POST('/api/v1/auth/login', {
          body: {
            username: options.username,
            password,
            ...(options.provider
              ? { provider: options.provider as Schemas['LoginDto']['provider'] }
              : {}),
          },
        }),
      );
      login = { url: base, token: session.token, expiresAt: session.expiresAt };
    } else {
      const apiKey = readSecret(!!options.apiKeyStdin, 'JUNCTION_API_KEY', 'API key');
      if (!apiKey)
        throw new Usage(
          'give --username (password on --password-stdin or JUNCTION_PASSWORD), or an API key on --api-key-stdin or JUNCTION_API_KEY',
        );
      login = { url: base, apiKey };
    }
    const api = connect({
      url: base,
      credentials: login.apiKey ? { apiKey: login.apiKey } : { token: login.token! },
    });
    const me = await api.data(api.GET('/api/v1/auth/me'));
    login.user = me.name;
    const path = writeLogin(login);
    out(
      `logged in to ${base} as ${me.name}${me.roles?.length ? ` (${me.roles.join(', ')})` : ''}` +
        `${login.expiresAt ? `, until ${login.expiresAt}` : ''}; saved in ${path} (mode 0600)`,
    );
    return 0;
  });
}

export function logoutCommand(): Promise<number> {
  return guarded(async () => {
    out(removeLogin() ? `removed ${configPath()}` : 'not logged in');
    return 0;
  });
}

type RouteView = Schemas['RouteViewDto'];

/**
 * `etag` is the route's state as the plan read it: the change is sent with it in If-Match, so a
 * route that another editor changed between the diff and the apply is refused (412), not undone.
 */
type Plan =
  | { kind: 'created'; file: RouteFile }
  | { kind: 'unchanged'; file: RouteFile; route: RouteView; etag?: string }
  | { kind: 'updated'; file: RouteFile; route: RouteView; before: string; etag?: string };

const ifMatch = (etag: string | undefined) => (etag ? { 'If-Match': etag } : {});

const contentType = (f: RouteFile) =>
  f.format === 'json' ? 'application/json' : 'application/yaml';

function printProblems(file: string, problems: ApiProblem[]): void {
  err(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  for (const p of problems) err(`  ${formatProblem(file, p)}`);
}

/**
 * Reads and checks every file, offline then on the server; undefined when any is invalid. The
 * files come back in the order to apply them (see `activate` below).
 */
async function checkedFiles(
  api: JunctionClient,
  paths: string[],
  activate: boolean,
): Promise<RouteFile[] | undefined> {
  const files: RouteFile[] = [];
  for (const f of collectRouteFiles(paths)) files.push(await readRouteFile(f));
  let invalid = false;
  for (const f of files)
    if (f.problems.length > 0) {
      printProblems(f.file, f.problems);
      invalid = true;
    }
  for (const [id, list] of duplicateIds(files)) {
    err(`route '${id}' is in more than one file: ${list.join(', ')}`);
    invalid = true;
  }
  for (const { what, files: list } of sharedPlaces(files).values()) {
    err(`routes of more than one file take ${what}: ${list.join(', ')}`);
    invalid = true;
  }
  if (invalid) return undefined;
  // The server knows the connections: every file is checked there before anything changes.
  // A conflict with a route of these files whose file moves it off that place is no problem when
  // the new versions are activated (a route holds the places of its active version too): that
  // file is applied first. The server checks each save again.
  const byId = new Map(files.map((f) => [f.id, f]));
  const waits = new Map<RouteFile, Set<string>>();
  const movedAway = (f: RouteFile, p: ApiProblem): boolean => {
    const owner = p.routeId === undefined ? undefined : byId.get(p.routeId);
    const place = f.places?.find(
      (x) => x.kind === (p.pointer === '/source/path' ? 'path' : 'claim'),
    );
    if (!activate || !owner || !place || owner.places?.some((x) => x.key === place.key))
      return false;
    waits.set(f, (waits.get(f) ?? new Set()).add(owner.id!));
    return true;
  };
  for (const f of files) {
    const res = await api.POST('/api/v1/routes/validate', textBody(f.text, contentType(f)));
    if (res.error !== undefined && res.response.status !== 400) await api.data(res);
    const problems: ApiProblem[] = (
      (res.data?.problems as ApiProblem[] | undefined) ??
      errorBody(res.error).details?.problems ??
      []
    ).filter((p) => !movedAway(f, p));
    if (res.response.status === 400 || problems.length > 0) {
      printProblems(
        f.file,
        problems.length > 0 ? problems : [{ message: 'refused by the server' }],
      );
      invalid = true;
    }
  }
  return invalid ? undefined : inApplyOrder(files, waits);
}

async function plan(api: JunctionClient, f: RouteFile): Promise<Plan> {
  const id = f.id!;
  const found = await api.GET('/api/v1/routes/{id}', { params: { path: { id } } });
  if (found.response.status === 404) return { kind: 'created', file: f };
  // JSON (the default), not the YAML text the same path also answers.
  const route = (await api.data(found)) as RouteView;
  const etag = found.response.headers.get('etag') ?? undefined;
  // Compared with the latest version, as the server does when it decides on a new version.
  const latest = await api.data(
    api.GET('/api/v1/routes/{id}/versions/{version}', {
      params: { path: { id, version: route.latestVersion } },
    }),
  );
  if (latest.source === f.text) return { kind: 'unchanged', file: f, route, etag };
  return { kind: 'updated', file: f, route, before: latest.source, etag };
}

const state = (v: number, route: { activeVersion: number | null }) =>
  `version ${v}${route.activeVersion === v ? ', active' : ', not active'}`;

/**
 * `route apply` and `route diff`: every file checked (nothing changes if one is invalid), then
 * per route unchanged / created / updated with a unified diff of the source, applied unless a
 * dry run. Exit: 0 applied or nothing to do, 1 invalid, 2 usage, 5 unreachable, 6 refused.
 */
export function routeApplyCommand(
  paths: string[],
  options: { dryRun?: boolean; activate?: boolean; diffOnly?: boolean; exitCode?: boolean },
): Promise<number> {
  return guarded(async () => {
    const api = client();
    const files = await checkedFiles(api, paths, options.activate === true);
    if (!files) return EXIT.ROUTE_INVALID;
    const plans: Plan[] = [];
    for (const f of files) plans.push(await plan(api, f));
    const dry = options.dryRun || options.diffOnly;
    const counts = { created: 0, updated: 0, unchanged: 0, activated: 0 };
    for (const p of plans) {
      const id = p.file.id!;
      const where = `(${p.file.file})`;
      if (p.kind === 'unchanged') {
        counts.unchanged++;
        const { latestVersion: v, activeVersion } = p.route;
        if (options.activate && activeVersion !== v) {
          if (dry) out(`${id}: unchanged, ${state(v, p.route)}; would activate ${where}`);
          else {
            await api.data(
              api.POST('/api/v1/routes/{id}/versions/{version}/activate', {
                params: { path: { id, version: v }, header: ifMatch(p.etag) },
              }),
            );
            counts.activated++;
            out(`${id}: unchanged, version ${v} activated ${where}`);
          }
        } else out(`${id}: unchanged (${state(v, p.route)}) ${where}`);
        continue;
      }
      if (p.kind === 'created') {
        counts.created++;
        if (dry) out(`${id}: would be created as version 1 ${where}`);
        else {
          const made = await api.data(
            api.POST('/api/v1/routes', textBody(p.file.text, contentType(p.file))),
          );
          out(`${id}: created (${state(made.latestVersion, made)}) ${where}`);
        }
        process.stdout.write(printable(unifiedDiff('/dev/null', p.file.file, '', p.file.text)));
        continue;
      }
      const from = p.route.latestVersion;
      if (dry) {
        counts.updated++;
        out(`${id}: would be updated, version ${from} -> ${from + 1} ${where}`);
      } else {
        const saved = await api.data(
          api.PUT('/api/v1/routes/{id}', {
            params: {
              path: { id },
              query: options.activate ? { activate: true } : {},
              header: ifMatch(p.etag),
            },
            ...textBody(p.file.text, contentType(p.file)),
          }),
        );
        const v = saved.latestVersion;
        if (v === from) {
          // JSON that changed only in layout: the server keeps no new version for it.
          counts.unchanged++;
          out(`${id}: unchanged (same document; ${state(v, saved)}) ${where}`);
          continue;
        }
        counts.updated++;
        out(
          `${id}: updated, version ${from} -> ${v}${saved.activeVersion === v ? ' (active)' : ' (not active: --activate, or POST .../activate)'} ${where}`,
        );
      }
      process.stdout.write(
        printable(
          unifiedDiff(`${id} version ${from} (server)`, p.file.file, p.before, p.file.text),
        ),
      );
    }
    const total = [
      `${counts.created} created`,
      `${counts.updated} updated`,
      `${counts.unchanged} unchanged`,
      ...(counts.activated ? [`${counts.activated} activated`] : []),
    ].join(', ');
    out(
      dry
        ? `${options.diffOnly ? 'diff' : 'dry run'}: ${total}; nothing was changed`
        : `applied: ${total}`,
    );
    if (options.diffOnly && options.exitCode && counts.created + counts.updated > 0)
      return EXIT.CHANGES;
    return 0;
  });
}

export function routeExportCommand(id: string, options: { output?: string }): Promise<number> {
  return guarded(async () => {
    const api = client();
    const yaml = await api.data(
      api.GET('/api/v1/routes/{id}', {
        params: { path: { id }, query: { format: 'yaml' } },
        parseAs: 'text',
      }),
    );
    if (options.output) {
      const fd = openOutputFile(options.output, 0o644);
      try {
        writeSync(fd, yaml);
      } finally {
        closeSync(fd);
      }
      err(`${id}: written to ${options.output}`);
    } else process.stdout.write(process.stdout.isTTY ? printable(yaml) : yaml);
    // (Redirected to a file, the source is kept byte for byte; on a terminal it is shown safely.)
    return 0;
  });
}

export function deadLettersListCommand(options: {
  route?: string;
  limit?: string;
  all?: boolean;
  json?: boolean;
}): Promise<number> {
  return guarded(async () => {
    const api = client();
    const query = {
      ...(options.route ? { routeId: options.route } : {}),
      ...(options.limit ? { limit: Number(options.limit) } : {}),
    };
    let list: Schemas['DeadLetterDto'][] = [];
    if (options.all)
      for await (const d of api.paginate('/api/v1/dead-letters', { query })) list.push(d);
    else list = await api.data(api.GET('/api/v1/dead-letters', { params: { query } }));
    if (options.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    if (list.length === 0) {
      out('no dead letters');
      return 0;
    }
    for (const d of list)
      out(
        [
          d.id,
          d.createdAt,
          `${d.routeId}@${d.routeVersion}`,
          d.reasonCode,
          `attempts=${d.attempts}`,
          `replays=${d.replays}`,
          d.reason.replace(/\s+/g, ' ').slice(0, 120),
        ].join('  '),
      );
    return 0;
  });
}

export function deadLetterReplayCommand(id: string, options: { json?: boolean }): Promise<number> {
  return guarded(async () => {
    const api = client();
    const r = await api.data(
      api.POST('/api/v1/dead-letters/{id}/replay', { params: { path: { id } } }),
    );
    if (options.json) out(JSON.stringify(r, null, 2));
    else
      out(
        `${id}: ${r.outcome}${r.error ? `: ${r.error.code ?? ''} ${r.error.message ?? ''}`.trimEnd() : ''}`,
      );
    return r.outcome === 'replayed'
      ? 0
      : r.outcome === 'dead-lettered'
        ? EXIT.MESSAGE_FAILED
        : EXIT.DROPPED;
  });
}

/**
 * `audit export`: the gateway's audit export (CSV or NDJSON) streamed to a file or to standard
 * output as it arrives, so an export of any size runs in constant memory.
 */
export function auditExportCommand(options: {
  format: string;
  kind?: string;
  route?: string;
  from?: string;
  to?: string;
  output?: string;
}): Promise<number> {
  return guarded(async () => {
    if (options.format !== 'csv' && options.format !== 'ndjson')
      throw new Usage('--format must be csv or ndjson');
    if (options.kind && options.kind !== 'messages' && options.kind !== 'events')
      throw new Usage('--kind must be messages or events');
    const query: AuditExportQuery = {
      format: options.format,
      ...(options.kind ? { kind: options.kind as AuditExportQuery['kind'] } : {}),
      ...(options.route ? { routeId: options.route } : {}),
      ...(options.from ? { from: options.from } : {}),
      ...(options.to ? { to: options.to } : {}),
    };
    const download = await client().auditExport(query);
    const body = Readable.fromWeb(download.body as NodeReadableStream<Uint8Array>);
    if (options.output) {
      const fd = openOutputFile(options.output, 0o600);
      await pipeline(body, createWriteStream('', { fd }));
      err(`audit export written to ${options.output}`);
    } else await pipeline(body, process.stdout, { end: false });
    return 0;
  });
}
