import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: { name: string; version: string } | undefined;

/** The monorepo's own package.json, found from wherever the code runs (src under jest, dist under node). */
export function packageInfo(from = __dirname): { name: string; version: string } {
  if (cached) return cached;
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as {
        name: string;
        version: string;
        workspaces?: unknown;
      };
      if (pkg.workspaces) return (cached = { name: pkg.name, version: pkg.version });
    }
    if (dirname(dir) === dir)
      throw new Error(`the monorepo's package.json was not found above ${from}`);
  }
}
