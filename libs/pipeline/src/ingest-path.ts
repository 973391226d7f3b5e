/**
 * The one form of an ingest path that routes claim and requests are matched on, so that two
 * spellings of one path can never reach two routes (one with a key check, one without).
 *
 * Both a route's `source.path` and the path of a request to `/ingest/...` go through it:
 * percent-decoded once, Unicode NFKC (fullwidth and other compatibility forms become ASCII),
 * lower case, empty and `.` segments dropped (trailing, leading and doubled slashes), `..`
 * resolved. What is left must be segments of ASCII letters, digits, `.`, `_`, `~` and `-`:
 * anything else (a Cyrillic look-alike, a zero-width or control character, a backslash, a `%`
 * left after decoding, i.e. double encoding) is no path at all, so it can match no route.
 */
export const INGEST_PATH_MAX = 128;

const SEGMENT = /^[a-z0-9._~-]+$/;
const PLAIN = /^[a-z0-9._~/-]*$/;

export type IngestPathProblem = 'encoding' | 'characters' | 'escapes' | 'empty' | 'length';

export function normalizeIngestPath(
  raw: string,
): { path: string } | { problem: IngestPathProblem; message: string } {
  // Lower-case ASCII without escapes (every request to a well-spelt path) is its own decoding and
  // folding: the segments are all that is left to check.
  let folded = raw;
  if (!PLAIN.test(raw)) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return { problem: 'encoding', message: 'has a malformed percent-encoding' };
    }
    folded = decoded.normalize('NFKC').toLowerCase().normalize('NFKC');
  }
  const segments: string[] = [];
  for (const segment of folded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0)
        return { problem: 'escapes', message: 'climbs above /ingest/ with ".."' };
      segments.pop();
      continue;
    }
    if (!SEGMENT.test(segment))
      return {
        problem: 'characters',
        message: 'may hold only ASCII letters, digits, ".", "_", "~", "-" and "/"',
      };
    segments.push(segment);
  }
  if (segments.length === 0) return { problem: 'empty', message: 'is empty' };
  const path = segments.join('/');
  if (path.length > INGEST_PATH_MAX)
    return { problem: 'length', message: `is longer than ${INGEST_PATH_MAX} characters` };
  return { path };
}

/** The normalised path, or undefined when `raw` is no valid ingest path. */
export function ingestPathKey(raw: string): string | undefined {
  const result = normalizeIngestPath(raw);
  return 'path' in result ? result.path : undefined;
}
