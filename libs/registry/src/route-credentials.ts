import { queryCredentialNames } from '@junction/connectors';
import type { RouteProblem } from '@junction/pipeline';

/**
 * Where a route document carries a credential in plaintext: the query of an HTTP destination's
 * (or dead-letter destination's) `path` (`/orders?api_key=...`). A route is shown to every
 * reader of routes (viewers), in its versions and diffs, the console and the audit trail, so it
 * is refused when saved or validated, as a credential in a connection's baseUrl is; the message
 * names the parameter, never its value. Checked at save only: a version stored before runs on.
 */
export function routeCredentialProblems(doc: unknown): RouteProblem[] {
  if (doc === null || typeof doc !== 'object') return [];
  const { destinations, errors } = doc as { destinations?: unknown; errors?: unknown };
  const targets: Array<[string, unknown]> = Array.isArray(destinations)
    ? destinations.map((d, i): [string, unknown] => [`/destinations/${i}`, d])
    : [];
  if (errors !== null && typeof errors === 'object')
    targets.push(['/errors/deadLetter', (errors as { deadLetter?: unknown }).deadLetter]);
  const problems: RouteProblem[] = [];
  for (const [pointer, spec] of targets) {
    if (spec === null || typeof spec !== 'object') continue;
    const { type, path } = spec as { type?: unknown; path?: unknown };
    if (type !== 'http') continue;
    const names = queryCredentialNames(path);
    if (names.length > 0)
      problems.push({
        pointer: `${pointer}/path`,
        message: `must not carry credentials in its query (${names.join(', ')}); route documents are shown to every reader of routes: put them in the connection's secrets (bearerToken or header:<name>)`,
      });
  }
  return problems;
}
