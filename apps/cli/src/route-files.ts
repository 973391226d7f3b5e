import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { extname, join, relative, isAbsolute } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { CONNECTORS, sourceClaim, type RouteSpec } from '@junction/connectors';
import {
  ingestPathKey,
  JsonataEngine,
  parseRouteSource,
  RouteProblem,
  SOURCE_LIMITS,
  validateRoute,
  withPositions,
} from '@junction/pipeline';
import { readBoundedText, UnreadableFile } from './bounded-read';

/** A route document as kept in git: its file, its text and (when it parsed) its id. */
export interface RouteFile {
  file: string;
  text: string;
  format: 'yaml' | 'json';
  id?: string;
  problems: RouteProblem[];
  /**
   * Where a valid document's route takes messages that no other route may take too: its ingest
   * path (`kind: path`, the problem pointer /source/path) or the place its source claims (see
   * sourceClaim). `key` compares, `what` names it.
   */
  places?: RoutePlace[];
}

export interface RoutePlace {
  kind: 'path' | 'claim';
  key: string;
  what: string;
}

/** The places a sound document's route holds (see RouteFile.places). */
function placesOf(doc: RouteSpec): RoutePlace[] {
  const places: RoutePlace[] = [];
  if (doc.source.type === 'http') {
    const key = ingestPathKey(doc.source.path);
    if (key !== undefined) places.push({ kind: 'path', key, what: `ingest path ${key}` });
  }
  const claim = sourceClaim(CONNECTORS, doc.id, doc);
  if (claim) places.push({ kind: 'claim', key: claim.key, what: claim.place });
  return places;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export class FilesError extends Error {}

/** Bytes a route file may have: the gateway takes SOURCE_LIMITS.maxLength characters of UTF-8. */
export const MAX_ROUTE_FILE_BYTES = SOURCE_LIMITS.maxLength * 4;

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

const inside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/**
 * The route files named by `-f`: a file as given, or every .yaml/.yml/.json under a folder
 * (recursively, hidden entries skipped), in a stable order so runs are reproducible.
 *
 * A folder is often a checkout that someone else wrote, read by CI: a symbolic link in it is
 * followed only to a file or folder inside the folder named (a link to /dev/zero, to a secret
 * elsewhere on the runner, or to an ancestor, which looped until ELOOP, is refused), and an
 * entry with a route extension that is not a regular file (a FIFO, a device) is refused: the
 * command stops before it reads anything.
 */
export function collectRouteFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string, root: string, seen: Set<string>) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      throw new FilesError(`cannot read ${dir}: ${errno(err)}`);
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      let stat: Stats;
      try {
        stat = lstatSync(path);
        if (stat.isSymbolicLink()) {
          const target = realpathSync(path);
          if (!inside(root, target))
            throw new FilesError(
              `${path} is a symbolic link to ${target}, outside ${root}: not followed`,
            );
          stat = statSync(target);
          if (stat.isDirectory() && seen.has(target)) continue;
        }
      } catch (err) {
        if (err instanceof FilesError) throw err;
        throw new FilesError(`cannot read ${path}: ${errno(err)}`);
      }
      if (stat.isDirectory()) {
        const real = realpathSync(path);
        if (seen.has(real)) continue;
        seen.add(real);
        walk(path, root, seen);
      } else if (EXTENSIONS.has(extname(name).toLowerCase())) {
        if (!stat.isFile()) throw new FilesError(`${path} is not a regular file`);
        out.push(path);
      }
    }
  };
  for (const path of paths) {
    let stat;
    try {
      stat = statSync(path);
    } catch (err) {
      throw new FilesError(`cannot read ${path}: ${errno(err)}`);
    }
    if (stat.isDirectory()) {
      const root = realpathSync(path);
      walk(path, root, new Set([root]));
    } else if (stat.isFile()) out.push(path);
    else throw new FilesError(`${path} is not a regular file`);
  }
  if (out.length === 0)
    throw new FilesError(`no route files (.yaml, .yml, .json) in ${paths.join(', ')}`);
  return [...new Set(out)];
}

/**
 * Reads and checks one file offline, as the gateway would before any request: parse problems
 * and schema problems, each with its pointer and line. Connections are checked by the server.
 */
export async function readRouteFile(
  file: string,
  dryRunKey = 'junction-apply',
): Promise<RouteFile> {
  let text: string;
  try {
    text = readBoundedText(file, MAX_ROUTE_FILE_BYTES, 'route file');
  } catch (err) {
    throw err instanceof UnreadableFile ? new FilesError(err.message) : err;
  }
  const format = extname(file).toLowerCase() === '.json' ? 'json' : 'yaml';
  const parsed = parseRouteSource(text);
  if (parsed.problems.length > 0) return { file, text, format, problems: parsed.problems };
  const problems = withPositions(
    await validateRoute(parsed.value, {
      expressions: new JsonataEngine(),
      hmacKey: Buffer.from(dryRunKey),
      protocols: CONNECTORS,
    }),
    parsed,
  );
  const id = (parsed.value as { id?: unknown } | null)?.id;
  return {
    file,
    text,
    format,
    id: typeof id === 'string' ? id : undefined,
    problems,
    ...(problems.length === 0 ? { places: placesOf(parsed.value as RouteSpec) } : {}),
  };
}

/** Places two files' routes would both take: the second save would be refused (409). */
export function sharedPlaces(files: RouteFile[]): Map<string, { what: string; files: string[] }> {
  const byKey = new Map<string, { what: string; files: string[] }>();
  for (const f of files)
    for (const place of f.places ?? []) {
      const seen = byKey.get(`${place.kind}\u0000${place.key}`);
      if (seen) seen.files.push(f.file);
      else byKey.set(`${place.kind}\u0000${place.key}`, { what: place.what, files: [f.file] });
    }
  return new Map([...byKey].filter(([, v]) => v.files.length > 1));
}

/**
 * The files in an order that applies the routes a file waits for (`waits`: route ids, whose files
 * move them off a place this file takes) before it; files in a cycle keep their order.
 */
export function inApplyOrder(files: RouteFile[], waits: Map<RouteFile, Set<string>>): RouteFile[] {
  const done = new Set<string>();
  const left = [...files];
  const ordered: RouteFile[] = [];
  while (left.length > 0) {
    const ready = left.findIndex((f) => [...(waits.get(f) ?? [])].every((id) => done.has(id)));
    const [next] = left.splice(ready < 0 ? 0 : ready, 1);
    ordered.push(next);
    if (next.id) done.add(next.id);
  }
  return ordered;
}

/** Two files that claim one route id: the folder is ambiguous, so nothing is applied. */
export function duplicateIds(files: RouteFile[]): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const f of files) if (f.id) byId.set(f.id, [...(byId.get(f.id) ?? []), f.file]);
  return new Map([...byId].filter(([, list]) => list.length > 1));
}

export function formatProblem(
  file: string,
  p: { pointer?: string; message: string; line?: number; column?: number },
): string {
  const where = p.line !== undefined ? `${file}:${p.line}:${p.column ?? 1}` : file;
  return `${where}: ${p.pointer || '/'}: ${p.message}`;
}

/** A unified diff of the server's source against the file's text (3 lines of context). */
export function unifiedDiff(
  fromName: string,
  toName: string,
  before: string,
  after: string,
): string {
  const patch = createTwoFilesPatch(fromName, toName, before, after, '', '', { context: 3 });
  // jsdiff starts with an "Index"/"====" banner that `diff -u` does not print.
  return patch
    .split('\n')
    .filter((line) => !/^(={10,}|Index: )/.test(line))
    .join('\n')
    .replace(/\n+$/, '\n');
}
