import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { CONNECTORS } from '@junction/connectors';
import {
  JsonataEngine,
  parseRouteSource,
  RouteProblem,
  validateRoute,
  withPositions,
} from '@junction/pipeline';

/** A route document as kept in git: its file, its text and (when it parsed) its id. */
export interface RouteFile {
  file: string;
  text: string;
  format: 'yaml' | 'json';
  id?: string;
  problems: RouteProblem[];
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export class FilesError extends Error {}

/**
 * The route files named by `-f`: a file as given, or every .yaml/.yml/.json under a folder
 * (recursively, hidden entries skipped), in a stable order so runs are reproducible.
 */
export function collectRouteFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (EXTENSIONS.has(extname(name).toLowerCase())) out.push(path);
    }
  };
  for (const path of paths) {
    let stat;
    try {
      stat = statSync(path);
    } catch (err) {
      throw new FilesError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    if (stat.isDirectory()) walk(path);
    else out.push(path);
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
  const text = readFileSync(file, 'utf8');
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
  return { file, text, format, id: typeof id === 'string' ? id : undefined, problems };
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
