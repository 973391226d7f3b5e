import { readFileSync, writeFileSync } from 'node:fs';
import { ApiClient, ApiProblem, Refused, Unreachable } from './api-client';
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
import {
  collectRouteFiles,
  duplicateIds,
  FilesError,
  formatProblem,
  readRouteFile,
  RouteFile,
  unifiedDiff,
} from './route-files';

const out = (line = '') => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

class Usage extends Error {}

/** Runs a command and turns what went wrong into its exit code and one clear line. */
async function guarded(work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof Usage || e instanceof NotLoggedIn || e instanceof FilesError) {
      err(`junction: ${e.message}`);
      return EXIT.USAGE;
    }
    if (e instanceof Unreachable) {
      err(`junction: ${e.message}`);
      return EXIT.UNAVAILABLE;
    }
    if (e instanceof Refused) {
      err(`junction: refused: ${e.message}`);
      for (const p of e.body?.details?.problems ?? []) err(`  ${p.pointer || '/'}: ${p.message}`);
      if (e.status === 401) err('  (sign in again: junction login)');
      return EXIT.REFUSED;
    }
    throw e;
  }
}

function client(): ApiClient {
  return new ApiClient(resolveConnection());
}

function readSecret(fromStdin: boolean, envName: string, what: string): string | undefined {
  if (fromStdin) {
    const text = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    if (!text) throw new Usage(`no ${what} on standard input`);
    return text;
  }
  return process.env[envName] || undefined;
}

interface Me {
  name: string;
  roles?: string[];
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
      const anonymous = new ApiClient({ url: base, headers: {}, from: 'login' });
      const res = await anonymous.request<{ token: string; expiresAt?: string }>(
        'POST',
        '/auth/login',
        {
          json: {
            username: options.username,
            password,
            ...(options.provider ? { provider: options.provider } : {}),
          },
        },
      );
      login = { url: base, token: res.body.token, expiresAt: res.body.expiresAt };
    } else {
      const apiKey = readSecret(!!options.apiKeyStdin, 'JUNCTION_API_KEY', 'API key');
      if (!apiKey)
        throw new Usage(
          'give --username (password on --password-stdin or JUNCTION_PASSWORD), or an API key on --api-key-stdin or JUNCTION_API_KEY',
        );
      login = { url: base, apiKey };
    }
    const headers: Record<string, string> = login.apiKey
      ? { 'x-api-key': login.apiKey }
      : { authorization: `Bearer ${login.token}` };
    const me = (
      await new ApiClient({ url: base, headers, from: 'login' }).request<Me>('GET', '/auth/me')
    ).body;
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

interface RouteView {
  id: string;
  activeVersion: number | null;
  latestVersion: number;
}
interface VersionView {
  version: number;
  source: string;
  sourceFormat: 'yaml' | 'json';
}

type Plan =
  | { kind: 'created'; file: RouteFile }
  | { kind: 'unchanged'; file: RouteFile; route: RouteView }
  | { kind: 'updated'; file: RouteFile; route: RouteView; before: string };

const contentType = (f: RouteFile) =>
  f.format === 'json' ? 'application/json' : 'application/yaml';
const routePath = (id: string) => `/routes/${encodeURIComponent(id)}`;

function printProblems(file: string, problems: ApiProblem[]): void {
  err(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  for (const p of problems) err(`  ${formatProblem(file, p)}`);
}

/** Reads and checks every file, offline then on the server; undefined when any is invalid. */
async function checkedFiles(api: ApiClient, paths: string[]): Promise<RouteFile[] | undefined> {
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
  if (invalid) return undefined;
  // The server knows the connections: every file is checked there before anything changes.
  for (const f of files) {
    const res = await api.request<{
      valid?: boolean;
      problems?: ApiProblem[];
      details?: { problems?: ApiProblem[] };
    }>('POST', '/routes/validate', { text: f.text, contentType: contentType(f), expect: [400] });
    const problems = res.body.problems ?? res.body.details?.problems ?? [];
    if (res.status === 400 || problems.length > 0) {
      printProblems(
        f.file,
        problems.length > 0 ? problems : [{ message: 'refused by the server' }],
      );
      invalid = true;
    }
  }
  return invalid ? undefined : files;
}

async function plan(api: ApiClient, f: RouteFile): Promise<Plan> {
  const found = await api.request<RouteView>('GET', routePath(f.id!), { expect: [404] });
  if (found.status === 404) return { kind: 'created', file: f };
  const route = found.body;
  // Compared with the latest version, as the server does when it decides on a new version.
  const latest = (
    await api.request<VersionView>('GET', `${routePath(f.id!)}/versions/${route.latestVersion}`)
  ).body;
  if (latest.source === f.text) return { kind: 'unchanged', file: f, route };
  return { kind: 'updated', file: f, route, before: latest.source };
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
    const files = await checkedFiles(api, paths);
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
            await api.request('POST', `${routePath(id)}/versions/${v}/activate`, { json: {} });
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
          const made = await api.request<RouteView>('POST', '/routes', {
            text: p.file.text,
            contentType: contentType(p.file),
          });
          out(`${id}: created (${state(made.body.latestVersion, made.body)}) ${where}`);
        }
        process.stdout.write(unifiedDiff('/dev/null', p.file.file, '', p.file.text));
        continue;
      }
      const from = p.route.latestVersion;
      if (dry) {
        counts.updated++;
        out(`${id}: would be updated, version ${from} -> ${from + 1} ${where}`);
      } else {
        const query = options.activate ? '?activate=true' : '';
        const saved = await api.request<RouteView>('PUT', `${routePath(id)}${query}`, {
          text: p.file.text,
          contentType: contentType(p.file),
        });
        const v = saved.body.latestVersion;
        if (v === from) {
          // JSON that changed only in layout: the server keeps no new version for it.
          counts.unchanged++;
          out(`${id}: unchanged (same document; ${state(v, saved.body)}) ${where}`);
          continue;
        }
        counts.updated++;
        out(
          `${id}: updated, version ${from} -> ${v}${saved.body.activeVersion === v ? ' (active)' : ' (not active: --activate, or POST .../activate)'} ${where}`,
        );
      }
      process.stdout.write(
        unifiedDiff(`${id} version ${from} (server)`, p.file.file, p.before, p.file.text),
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
    const res = await client().request<string>('GET', `${routePath(id)}?format=yaml`);
    if (options.output) {
      writeFileSync(options.output, res.text);
      err(`${id}: written to ${options.output}`);
    } else process.stdout.write(res.text);
    return 0;
  });
}

interface DeadLetter {
  id: string;
  routeId: string;
  routeVersion: number;
  reasonCode: string;
  reason: string;
  failedAt: string | null;
  attempts: number;
  createdAt: string;
  replays: number;
}

export function deadLettersListCommand(options: {
  route?: string;
  limit?: string;
  json?: boolean;
}): Promise<number> {
  return guarded(async () => {
    const query = new URLSearchParams();
    if (options.route) query.set('routeId', options.route);
    if (options.limit) query.set('limit', options.limit);
    const q = query.size > 0 ? `?${query}` : '';
    const list = (await client().request<DeadLetter[]>('GET', `/dead-letters${q}`)).body;
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
    const res = await client().request<{
      id: string;
      outcome: string;
      error?: { code?: string; message?: string };
    }>('POST', `/dead-letters/${encodeURIComponent(id)}/replay`, { json: {} });
    const r = res.body;
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
