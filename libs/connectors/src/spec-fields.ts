import type { JsonSchema } from '@junction/pipeline';
import type { ConnectionTarget } from './plugin';

/**
 * Schema parts and checks several protocols share. Pure (no broker client): the protocol files
 * that use them are read by the route schema, the CLI and the registry.
 */

/** A route field naming a stored connection. */
export const CONNECTION_FIELD: JsonSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$',
  description: 'Name of a stored connection of the same type (holds the URL and secrets).',
  examples: ['rabbit', 'kafka'],
};

const PEM_CERTIFICATES = {
  type: 'string',
  pattern: '-----BEGIN CERTIFICATE-----',
  description: 'PEM certificate(s).',
};

/** Connection config: a private CA to trust and a client certificate (its private key is the secret `keySecret`). */
export function tlsConfigSchema(keySecret: string): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      ca: {
        ...PEM_CERTIFICATES,
        description: 'PEM CA certificate(s) trusted besides the system ones.',
      },
      cert: {
        ...PEM_CERTIFICATES,
        description: `PEM client certificate for mutual TLS; its private key goes in secrets.${keySecret}.`,
      },
    },
    description: `TLS: a private CA to trust, a client certificate (key in secrets.${keySecret}).`,
  };
}

/** The host and port a URL config field connects to (none when it does not parse). */
export function urlTarget(
  raw: unknown,
  pointer: string,
  defaultPorts: Record<string, number>,
): ConnectionTarget[] {
  if (typeof raw !== 'string') return [];
  try {
    const url = new URL(raw);
    const scheme = url.protocol.replace(/:$/, '');
    return [
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : (defaultPorts[scheme] ?? 0),
        pointer,
      },
    ];
  } catch {
    return [];
  }
}

/**
 * Query parameters and header names that carry credentials. Not the look-alikes that carry none:
 * `author` (but `authorization`), a pagination `page_token` / `nextToken`, a `sort_key`,
 * `partition_key` or `idempotency_key` (a destination path `/posts?author=...` was refused as a
 * credential, and an `X-Author` header dropped). The look-alike list is for keys only: a `message_sig`
 * or a `group_pass` still is one.
 */
export const CREDENTIAL_NAME =
  /auth(?!or(?!i[sz]))|(?<!(?:page|next|continuation|pagination|sync|cursor)[-_]?)token|secret|passw|pass(?:phrase|code)|pwd|cookie|session|signature|credential|assertion|jwt|hmac|api[-_]?key|access[-_]?key|private[-_]?key|(^|[-_])((?<!(?:sort|partition|cache|object|group|row|range|foreign|idempotency|dedup|message|order)[-_])key|sig|pass)$/i;

/**
 * Query parameters that carry a credential under a name that elsewhere carries none: Azure
 * Functions' function key and an OAuth authorization code both travel as `?code=`. Only the whole
 * name: a `country_code` or `promo-code` is no credential, nor is a message header called `code`.
 */
const QUERY_CREDENTIAL_NAME = /^code$/i;
/** Header values that are credentials whatever the header is called. */
export const CREDENTIAL_VALUE =
  /^\s*(bearer|basic|digest|token|negotiate|hmac|aws4-hmac-sha256)\s+\S/i;

/**
 * The query parameters of a URL, or of a path with a query, whose names say they carry a
 * credential (CREDENTIAL_NAME, QUERY_CREDENTIAL_NAME), percent-decoded as a server reads them; none when it has no query.
 */
export function queryCredentialNames(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  const beforeFragment = value.split('#')[0];
  const at = beforeFragment.indexOf('?');
  if (at < 0) return [];
  return [...new URLSearchParams(beforeFragment.slice(at + 1)).keys()].filter(
    (k) => CREDENTIAL_NAME.test(k) || QUERY_CREDENTIAL_NAME.test(k),
  );
}

/**
 * Credentials written into a URL config field, where they would be stored in plaintext and shown
 * by every read and audit record: a password, a credential in the query. Each problem names the
 * secret slot to use instead.
 */
export function urlSecretProblems(
  config: Record<string, unknown>,
  field: string,
  slots: { password: string; query: string },
): Array<{ pointer: string; message: string }> {
  const raw = config[field];
  if (typeof raw !== 'string') return [];
  const pointer = `/config/${field}`;
  const problems: Array<{ pointer: string; message: string }> = [];
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#@]*:[^/?#@]*@/i.test(raw))
    problems.push({ pointer, message: `must not contain a password; put it in ${slots.password}` });
  // The schema's pattern reports a URL that does not parse.
  const names = URL.canParse(raw) ? queryCredentialNames(raw) : [];
  if (names.length > 0)
    problems.push({
      pointer,
      message: `must not carry credentials in its query (${names.join(', ')}); put them in ${slots.query}`,
    });
  return problems;
}
