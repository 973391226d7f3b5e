import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  checkFilterTemplate,
  isLoopbackUrl,
  normalizeDn,
  RoleMapping,
  type LdapAuthOptions,
  type OidcAuthOptions,
} from '@junction/auth';
import { loadSigningKey } from '@junction/audit';
import { ConfigError, loadConfig, parse } from '@junction/common';
import { EgressPolicy, parseEgressEntry } from '@junction/connectors';
import { checkAllowedHost, HostPolicy } from './core/allowed-hosts';

/** An entry of JUNCTION_TRUSTED_PROXIES: an address, a CIDR, or a named range. */
function isProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** The gateway's configuration, validated at start-up. Sensitive values are never printed. */
export const GATEWAY_CONFIG = {
  HOST: { description: 'Address to listen on.', default: '127.0.0.1', parse: parse.string },
  PORT: { description: 'Port to listen on.', default: 8080, parse: parse.integer(0, 65535) },
  JUNCTION_TRUSTED_PROXIES: {
    description:
      'Comma-separated addresses or CIDRs (or loopback, linklocal, uniquelocal) of the reverse proxies in front of the gateway: from these, X-Forwarded-For names the client (sign-in limits, audit records, sessions) and X-Forwarded-Proto the scheme (Secure cookies). Unset: the address of the connection, whatever a request says.',
    parse: (raw: string) => {
      const entries = raw
        .split(',')
        .map((e) => e.trim())
        .filter((e) => e.length > 0);
      const bad = entries.find((e) => !isProxyEntry(e));
      if (bad !== undefined)
        throw new Error(`'${bad}' is not an address, a CIDR, loopback, linklocal or uniquelocal`);
      return entries;
    },
  },
  JUNCTION_ALLOWED_HOSTS: {
    description:
      "Comma-separated host names the gateway answers to in the Host header (name, *.domain, or * for any); others get 403, so that a web page whose name was re-pointed at this address (DNS rebinding) cannot reach it. Addresses are always answered. Default: on a loopback HOST, localhost, *.localhost and the OIDC redirect URI's host; elsewhere any.",
    parse: (raw: string) => {
      const entries = raw
        .split(',')
        .map((e) => e.trim())
        .filter((e) => e.length > 0);
      const problem = entries.map(checkAllowedHost).find((p) => p !== null);
      if (problem) throw new Error(problem);
      return entries;
    },
  },
  DATABASE_URL: {
    description:
      'PostgreSQL URL. Without it Junction runs on an embedded PostgreSQL in JUNCTION_DATA_DIR.',
    sensitive: true,
    parse: parse.url(['postgres', 'postgresql']),
  },
  JUNCTION_MIGRATION_DATABASE_URL: {
    description:
      "PostgreSQL URL of the schema owner: migrations run as it, and the gateway then runs as DATABASE_URL's role, which then cannot alter, disable or rewrite the audit tables. Unset: DATABASE_URL's role owns the schema (a warning says so at start-up).",
    sensitive: true,
    parse: parse.url(['postgres', 'postgresql']),
  },
  JUNCTION_AUDIT_SIGNING_KEY: {
    description:
      'Ed25519 private key (PEM text, or the path of a PEM file) that signs the audit chain heads; never stored in the database. Generated into the data folder on the embedded default; unset with DATABASE_URL: no anchors.',
    sensitive: true,
    parse: (raw: string) => loadSigningKey(raw),
  },
  JUNCTION_AUDIT_ANCHOR_DIR: {
    description:
      'Folder the signed audit anchors are written to; keep it where the database (and its administrators) cannot write. Default: audit-anchors in JUNCTION_DATA_DIR.',
    parse: parse.string,
  },
  JUNCTION_AUDIT_ANCHOR_INTERVAL_MS: {
    description: 'How often the audit chain heads are signed (when they moved).',
    default: 60_000,
    parse: parse.integer(50, 86_400_000),
  },
  JUNCTION_AUDIT_ANCHOR_AMQP_URL: {
    description:
      'RabbitMQ URL to also publish each signed audit anchor to (a durable queue, persistent and confirmed). Unset: the folder only.',
    sensitive: true,
    parse: parse.url(['amqp', 'amqps']),
  },
  JUNCTION_AUDIT_ANCHOR_AMQP_QUEUE: {
    description: 'The queue the signed audit anchors are published to.',
    default: 'junction.audit.anchors',
    parse: parse.string,
  },
  JUNCTION_DATA_DIR: {
    description: 'Folder for the embedded database and the generated master key.',
    default: 'data',
    parse: parse.string,
  },
  JUNCTION_EMBEDDED_PG_PORT: {
    description: 'Port of the embedded PostgreSQL (127.0.0.1 only).',
    default: 54329,
    parse: parse.integer(1, 65535),
  },
  JUNCTION_MASTER_KEY: {
    description:
      'Key (32 bytes, hex or base64) that encrypts secrets at rest. Generated into the data folder when not set and no DATABASE_URL is given.',
    sensitive: true,
    parse: parse.key32,
  },
  JUNCTION_ADMIN_USER: {
    description: 'User name of the first admin, created on first start.',
    default: 'admin',
    parse: parse.string,
  },
  JUNCTION_ADMIN_PASSWORD: {
    description:
      'Password of the first admin (and of --reset-admin-password): the password policy of every user holds (at least 12 characters, not common, not the user name). Generated and printed once when not set.',
    sensitive: true,
    parse: parse.password,
  },
  JUNCTION_SEED_DEMO: {
    description:
      'Seed the demo route (no auth) on first start (true/false); only ever on the embedded database, never with DATABASE_URL.',
    default: true,
    parse: (raw: string) => parseBoolean(raw),
  },
  JUNCTION_TOKEN_TTL_SECONDS: {
    description: 'Lifetime of a sign-in session token.',
    default: 8 * 3600,
    parse: parse.integer(1, 30 * 24 * 3600),
  },
  JUNCTION_MAX_SESSIONS_PER_USER: {
    description:
      'Live sessions one user keeps; a sign-in beyond them ends its oldest (scripts that sign in on every run count).',
    default: 200,
    parse: parse.integer(1, 100_000),
  },
  JUNCTION_LOGIN_WINDOW_SECONDS: {
    description:
      "Window in which one address's failed sign-ins are counted; also how long an account remembers a failure.",
    default: 600,
    parse: parse.integer(1, 24 * 3600),
  },
  JUNCTION_LOGIN_SOURCE_FAILURES: {
    description:
      'Failed sign-ins from one address in a window, whatever the user names, before it gets 429.',
    default: 20,
    parse: parse.integer(1, 1_000_000),
  },
  JUNCTION_LOGIN_ACCOUNT_FAILURES: {
    description: 'Failed sign-ins in a row that lock an account.',
    default: 5,
    parse: parse.integer(1, 1000),
  },
  JUNCTION_LOGIN_LOCKOUT_SECONDS: {
    description: "An account's first lockout; each further lockout doubles it.",
    default: 60,
    parse: parse.integer(1, 24 * 3600),
  },
  JUNCTION_LOGIN_LOCKOUT_MAX_SECONDS: {
    description: 'The longest an account is locked.',
    default: 3600,
    parse: parse.integer(1, 30 * 24 * 3600),
  },
  JUNCTION_COOKIE_SECURE: {
    description:
      "true: the console's session and CSRF cookies are always Secure (set it behind a TLS-terminating proxy). false: Secure only on requests that came over TLS.",
    default: false,
    parse: (raw: string) => parseBoolean(raw),
  },
  JUNCTION_HSTS_MAX_AGE: {
    description:
      'Seconds browsers keep to HTTPS for this host once they saw a reply over HTTPS (Strict-Transport-Security); 0: no such header (before moving the host off TLS, lower it first).',
    default: 31_536_000,
    parse: parse.integer(0, 2 * 31_536_000),
  },
  JUNCTION_AUDIT_DENIAL_WINDOW_SECONDS: {
    description:
      "Anonymous denied requests (401) are audited as one event per source address and window, with their count; a signed-in caller's past JUNCTION_AUDIT_DENIALS_PER_CALLER in a window as one event per caller.",
    default: 10,
    parse: parse.integer(1, 24 * 3600),
  },
  JUNCTION_AUDIT_DENIALS_PER_CALLER: {
    description:
      "A signed-in caller's denied requests (403) audited one by one per window (JUNCTION_AUDIT_DENIAL_WINDOW_SECONDS); the rest of its window as one event with their count.",
    default: 20,
    parse: parse.integer(1, 1_000_000),
  },
  JUNCTION_BODY_LIMIT_BYTES: {
    description: 'Largest request body accepted (API and ingest).',
    default: 1024 * 1024,
    parse: parse.integer(1024, 64 * 1024 * 1024),
  },
  JUNCTION_REQUEST_TIMEOUT_MS: {
    description:
      'Longest a client may take to send one request, headers and body; then it is answered 408 and its connection closed. Without it a client that trickles a body held the connection, and what it had sent (up to the body limit), for ever.',
    default: 30_000,
    parse: parse.integer(1_000, 3_600_000),
  },
  JUNCTION_EXPRESSION_TIMEOUT_MS: {
    description: 'Time limit of one JSONata evaluation.',
    default: 50,
    parse: parse.integer(1, 10_000),
  },
  JUNCTION_EGRESS_ALLOW: {
    description:
      'Comma-separated targets AMQP, Kafka and HTTP connections may reach: host, host:port, *.domain, address, [IPv6]:port or CIDR. In strict mode the only ones; in any mode the way to allow a metadata or link-local address.',
    default: [] as string[],
    parse: egressEntries,
  },
  JUNCTION_EGRESS_STRICT: {
    description:
      'true: connections may reach only JUNCTION_EGRESS_ALLOW. false (default): any target but cloud metadata and link-local addresses.',
    parse: (raw: string) => parseBoolean(raw),
  },
  JUNCTION_HTTP_ALLOW_HOSTS: {
    description: 'Deprecated alias: its entries are added to JUNCTION_EGRESS_ALLOW.',
    default: [] as string[],
    parse: egressEntries,
  },
  JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS: {
    description: 'Deprecated alias: false is JUNCTION_EGRESS_STRICT=true.',
    parse: (raw: string) => parseBoolean(raw),
  },
  JUNCTION_NODE_NAME: {
    description:
      "This process's name among the gateway processes, the same after a restart (default: the host name). MQTT sources put it in their sessions' client ids, so that a restarted process resumes its sessions and two processes never take each other's: give each process on one host its own.",
    parse: (raw: string) => {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(raw))
        throw new Error('must be 1 to 64 letters, digits, ".", "_" or "-"');
      return raw;
    },
  },
  JUNCTION_ROUTE_MAX_IN_FLIGHT: {
    description: 'Most messages one HTTP-fed route handles at once; more are answered 429.',
    default: 256,
    parse: parse.integer(1, 100_000),
  },
  JUNCTION_KAFKA_SESSION_TIMEOUT_MS: {
    description:
      "How long Kafka waits to hear from a gateway process's consumer before it gives the consumer's partitions to the other members of its group: the partitions of a process that died (kill -9, a lost host) stand still that long. Heartbeats go every third of it, at most every 3 s. Must lie within the brokers' group.min.session.timeout.ms and group.max.session.timeout.ms (by default 6 s and 30 min).",
    default: 30_000,
    parse: parse.integer(6_000, 1_800_000),
  },
  JUNCTION_MAX_HOPS: {
    description:
      'Routes of this gateway one message may pass through (counted in its junction-hops header); one that comes to more is dead-lettered, so routes that feed each other in a loop stop.',
    default: 10,
    parse: parse.integer(1, 1000),
  },
  JUNCTION_AUDIT_EXPORT_ENABLED: {
    description:
      'false: GET /audit/export answers 403 (an administrator may forbid bulk copies of the trail); reading and verifying stay open to auditors.',
    default: true,
    parse: (raw: string) => parseBoolean(raw),
  },
  JUNCTION_REPLAY_JOB_LEASE_MS: {
    description:
      'How long a process holds a dead-letter replay job without renewing its lease; another process resumes the job once it lapses.',
    default: 30_000,
    parse: parse.integer(300, 3_600_000),
  },
  JUNCTION_REPLAY_JOB_POLL_MS: {
    description: 'How often an idle process looks for a dead-letter replay job to run or resume.',
    default: 2_000,
    parse: parse.integer(50, 600_000),
  },
  JUNCTION_SHUTDOWN_TIMEOUT_MS: {
    description:
      "Longest a stop on SIGTERM or SIGINT may take to finish the messages in flight; then the process exits anyway (code 1), naming what it waited for. Unacknowledged broker messages go back to their queues. Keep it under the orchestrator's grace period (Kubernetes: 30 s).",
    default: 25_000,
    parse: parse.integer(1_000, 3_600_000),
  },
  JUNCTION_AUDIT_RETENTION_DAYS: {
    description:
      'Whole days of audit trail kept; older day partitions are dropped. Unset keeps everything.',
    parse: parse.integer(1, 36_500),
  },
  JUNCTION_ENV_NAME: {
    description:
      'Name of this environment, shown in a banner on every console page (e.g. production, staging).',
    default: '',
    parse: (raw: string) => {
      if (raw.length > 40) throw new Error('must be at most 40 characters');
      return raw;
    },
  },
  JUNCTION_ENV_COLOR: {
    description: 'Colour of the console banner: a CSS hex colour such as #c92a2a.',
    default: '#495057',
    parse: (raw: string) => {
      if (!/^#[0-9a-fA-F]{6}$/.test(raw)) throw new Error('must be a hex colour like #c92a2a');
      return raw.toLowerCase();
    },
  },
};

/** A list of egress entries, each checked (the message names a bad one). */
function egressEntries(raw: string): string[] {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  for (const entry of entries) parseEgressEntry(entry);
  return entries;
}

function parseBoolean(raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error('must be true or false');
}

const dn = (raw: string): string => {
  normalizeDn(raw); // throws with what is wrong
  return raw;
};

const oneOf =
  <T extends string>(values: readonly T[]) =>
  (raw: string): T => {
    if (!(values as readonly string[]).includes(raw))
      throw new Error(`must be one of ${values.join(', ')}`);
    return raw as T;
  };

const filterTemplate = (placeholders: string[]) => (raw: string) => {
  const problem = checkFilterTemplate(raw, placeholders);
  if (problem) throw new Error(problem);
  return raw;
};

function pemFile(path: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new Error('must be a PEM certificate file');
  }
  return pem;
}

/** LDAP sign-in (`POST /api/v1/auth/login` with `provider: ldap`); off while JUNCTION_LDAP_URL is unset. */
export const LDAP_CONFIG = {
  JUNCTION_LDAP_URL: {
    description:
      'LDAP server, ldap://host:port or ldaps://host:port. Setting it turns LDAP sign-in on.',
    parse: parse.url(['ldap', 'ldaps']),
  },
  JUNCTION_LDAP_BIND_DN: {
    description: 'DN of the service account that searches for users (and groups).',
    parse: dn,
  },
  JUNCTION_LDAP_BIND_PASSWORD: {
    description: 'Password of the service account.',
    sensitive: true,
    parse: parse.string,
  },
  JUNCTION_LDAP_USER_BASE: {
    description: 'DN under which users are searched (whole subtree).',
    parse: dn,
  },
  JUNCTION_LDAP_USER_FILTER: {
    description:
      'Filter that finds one user; {username} is replaced by the escaped (RFC 4515) user name.',
    default: '(uid={username})',
    parse: filterTemplate(['username']),
  },
  JUNCTION_LDAP_USERNAME_ATTRIBUTE: {
    description: "Attribute of the user's entry that becomes the gateway's user name.",
    default: 'uid',
    parse: (raw: string) => {
      if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(raw)) throw new Error('must be an attribute name');
      return raw;
    },
  },
  JUNCTION_LDAP_GROUP_MEMBERSHIP: {
    description:
      "Where a user's groups come from: memberOf (the user's memberOf attribute) or search (a group search).",
    default: 'memberOf' as 'memberOf' | 'search',
    parse: oneOf(['memberOf', 'search'] as const),
  },
  JUNCTION_LDAP_GROUP_BASE: {
    description: 'DN under which groups are searched (with JUNCTION_LDAP_GROUP_MEMBERSHIP=search).',
    parse: dn,
  },
  JUNCTION_LDAP_GROUP_FILTER: {
    description:
      "Group search filter; {dn} is the user's DN and {username} the user name, both escaped.",
    default: '(member={dn})',
    parse: filterTemplate(['dn', 'username']),
  },
  JUNCTION_LDAP_GROUP_ROLES: {
    description:
      'Group DN to role(s): "<group dn>=<role>[,<role>];..." or a JSON object. DNs are compared normalised.',
    parse: (raw: string) => RoleMapping.parse(raw, normalizeDn),
  },
  JUNCTION_LDAP_CA_FILE: {
    description: 'PEM file of the CA(s) that sign the server certificate (ldaps or StartTLS).',
    parse: pemFile,
  },
  JUNCTION_LDAP_STARTTLS: {
    description: 'Upgrade the ldap:// connection with StartTLS before binding (true/false).',
    default: false,
    parse: parseBoolean,
  },
  JUNCTION_LDAP_TIMEOUT_MS: {
    description: 'Time limit for connecting to the directory and for each operation.',
    default: 5000,
    parse: parse.integer(100, 120_000),
  },
};

const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** OpenID Connect sign-in and bearer tokens; off while JUNCTION_OIDC_ISSUER is unset. */
export const OIDC_CONFIG = {
  JUNCTION_OIDC_ISSUER: {
    description:
      'Issuer URL of the OpenID provider (https; http only on 127.0.0.1/localhost). Setting it turns OIDC on.',
    parse: (raw: string) => {
      parse.url(['https', 'http'])(raw);
      if (raw.startsWith('http:') && !isLoopbackUrl(raw))
        throw new Error('must be https (http is allowed only for 127.0.0.1 or localhost)');
      return raw;
    },
  },
  JUNCTION_OIDC_CLIENT_ID: {
    description: "The gateway's client id at the provider.",
    parse: parse.string,
  },
  JUNCTION_OIDC_CLIENT_SECRET: {
    description: "The gateway's client secret at the provider.",
    sensitive: true,
    parse: parse.string,
  },
  JUNCTION_OIDC_TOKEN_AUTH_METHOD: {
    description:
      'How the gateway authenticates at the token endpoint: client_secret_basic, client_secret_post or none.',
    default: 'client_secret_basic' as OidcAuthOptions['tokenAuthMethod'],
    parse: oneOf(['client_secret_basic', 'client_secret_post', 'none'] as const),
  },
  JUNCTION_OIDC_REDIRECT_URI: {
    description:
      'Callback URL registered at the provider: https://<gateway>/api/v1/auth/oidc/callback.',
    parse: parse.url(['https', 'http']),
  },
  JUNCTION_OIDC_SCOPES: {
    description: 'Scopes asked for, space-separated; must include openid.',
    default: 'openid profile email',
    parse: (raw: string) => {
      if (!raw.split(/\s+/).includes('openid')) throw new Error('must include openid');
      return raw.trim().replace(/\s+/g, ' ');
    },
  },
  JUNCTION_OIDC_ALGORITHM: {
    description: 'The signature algorithm accepted for ID tokens and bearer access tokens.',
    default: 'RS256',
    parse: oneOf(ALGORITHMS),
  },
  JUNCTION_OIDC_USERNAME_CLAIM: {
    description: "Claim that becomes the gateway's user name; must be stable and unique (sub).",
    default: 'sub',
    parse: parse.string,
  },
  JUNCTION_OIDC_REQUIRE_VERIFIED_EMAIL: {
    description:
      "With JUNCTION_OIDC_USERNAME_CLAIM=email: refuse a sign-in whose email_verified is not true (true/false). Many providers let anyone set an unverified address, a victim's included.",
    default: true,
    parse: parseBoolean,
  },
  JUNCTION_OIDC_ROLES_CLAIM: {
    description: 'Claim (or dotted path, e.g. realm_access.roles) listing groups or roles.',
    default: 'groups',
    parse: parse.string,
  },
  JUNCTION_OIDC_CLAIM_ROLES: {
    description: 'Claim value to role(s): "<value>=<role>[,<role>];..." or a JSON object.',
    parse: (raw: string) => RoleMapping.parse(raw),
  },
  JUNCTION_OIDC_ACCEPT_BEARER: {
    description:
      "Accept the provider's JWT access tokens as Authorization: Bearer on API calls (true/false).",
    default: false,
    parse: parseBoolean,
  },
  JUNCTION_OIDC_BEARER_AUDIENCE: {
    description:
      'The audience (aud) a bearer access token must carry: this API at the provider, not the client id.',
    parse: parse.string,
  },
  JUNCTION_OIDC_TIMEOUT_MS: {
    description: 'Time limit of each request to the provider.',
    default: 10_000,
    parse: parse.integer(1000, 120_000),
  },
};

type Loaded = ReturnType<
  typeof loadConfig<typeof GATEWAY_CONFIG & typeof LDAP_CONFIG & typeof OIDC_CONFIG>
>;

/** The sign-in providers that are configured, with their settings checked as a whole. */
export interface AuthProviders {
  ldap?: LdapAuthOptions;
  oidc?: OidcAuthOptions;
}

function isSet(env: NodeJS.ProcessEnv, name: string): boolean {
  return env[name] !== undefined && env[name] !== '';
}

function ldapProvider(
  c: Loaded,
  env: NodeJS.ProcessEnv,
  problems: string[],
): LdapAuthOptions | undefined {
  const before = problems.length;
  if (!c.JUNCTION_LDAP_URL) {
    for (const name of Object.keys(LDAP_CONFIG))
      if (isSet(env, name))
        problems.push(
          `${name} is set but JUNCTION_LDAP_URL is not: set it to turn LDAP sign-in on`,
        );
    return undefined;
  }
  const required = [
    'JUNCTION_LDAP_BIND_DN',
    'JUNCTION_LDAP_BIND_PASSWORD',
    'JUNCTION_LDAP_USER_BASE',
    'JUNCTION_LDAP_GROUP_ROLES',
  ] as const;
  for (const name of required)
    if (c[name] === undefined)
      problems.push(
        `${name} is required with JUNCTION_LDAP_URL (${LDAP_CONFIG[name].description})`,
      );
  const ldaps = c.JUNCTION_LDAP_URL.toLowerCase().startsWith('ldaps:');
  if (ldaps && c.JUNCTION_LDAP_STARTTLS)
    problems.push(
      'JUNCTION_LDAP_STARTTLS=true needs an ldap:// JUNCTION_LDAP_URL (ldaps:// is TLS already)',
    );
  if (c.JUNCTION_LDAP_CA_FILE && !ldaps && !c.JUNCTION_LDAP_STARTTLS)
    problems.push(
      'JUNCTION_LDAP_CA_FILE is set but the connection is not TLS: use ldaps:// or JUNCTION_LDAP_STARTTLS=true',
    );
  if (c.JUNCTION_LDAP_GROUP_MEMBERSHIP === 'search' && !c.JUNCTION_LDAP_GROUP_BASE)
    problems.push(
      'JUNCTION_LDAP_GROUP_BASE is required with JUNCTION_LDAP_GROUP_MEMBERSHIP=search',
    );
  if (problems.length > before) return undefined;
  return {
    url: c.JUNCTION_LDAP_URL,
    bindDn: c.JUNCTION_LDAP_BIND_DN!,
    bindPassword: c.JUNCTION_LDAP_BIND_PASSWORD!,
    userBase: c.JUNCTION_LDAP_USER_BASE!,
    userFilter: c.JUNCTION_LDAP_USER_FILTER,
    usernameAttribute: c.JUNCTION_LDAP_USERNAME_ATTRIBUTE,
    groupMembership: c.JUNCTION_LDAP_GROUP_MEMBERSHIP,
    groupBase: c.JUNCTION_LDAP_GROUP_BASE,
    groupFilter: c.JUNCTION_LDAP_GROUP_FILTER,
    groupRoles: c.JUNCTION_LDAP_GROUP_ROLES!,
    ca: c.JUNCTION_LDAP_CA_FILE,
    startTls: c.JUNCTION_LDAP_STARTTLS,
    timeoutMs: c.JUNCTION_LDAP_TIMEOUT_MS,
  };
}

function oidcProvider(
  c: Loaded,
  env: NodeJS.ProcessEnv,
  problems: string[],
): OidcAuthOptions | undefined {
  if (!c.JUNCTION_OIDC_ISSUER) {
    for (const name of Object.keys(OIDC_CONFIG))
      if (isSet(env, name))
        problems.push(
          `${name} is set but JUNCTION_OIDC_ISSUER is not: set it to turn OIDC sign-in on`,
        );
    return undefined;
  }
  const before = problems.length;
  for (const name of [
    'JUNCTION_OIDC_CLIENT_ID',
    'JUNCTION_OIDC_REDIRECT_URI',
    'JUNCTION_OIDC_CLAIM_ROLES',
  ] as const)
    if (c[name] === undefined)
      problems.push(
        `${name} is required with JUNCTION_OIDC_ISSUER (${OIDC_CONFIG[name].description})`,
      );
  if (c.JUNCTION_OIDC_TOKEN_AUTH_METHOD !== 'none' && c.JUNCTION_OIDC_CLIENT_SECRET === undefined)
    problems.push(
      `JUNCTION_OIDC_CLIENT_SECRET is required with JUNCTION_OIDC_TOKEN_AUTH_METHOD=${c.JUNCTION_OIDC_TOKEN_AUTH_METHOD}`,
    );
  if (c.JUNCTION_OIDC_ACCEPT_BEARER) {
    if (!c.JUNCTION_OIDC_BEARER_AUDIENCE)
      problems.push(
        'JUNCTION_OIDC_BEARER_AUDIENCE is required with JUNCTION_OIDC_ACCEPT_BEARER=true',
      );
    else if (c.JUNCTION_OIDC_BEARER_AUDIENCE === c.JUNCTION_OIDC_CLIENT_ID)
      problems.push(
        'JUNCTION_OIDC_BEARER_AUDIENCE must differ from JUNCTION_OIDC_CLIENT_ID, or ID tokens would pass as access tokens',
      );
  }
  if (problems.length > before) return undefined;
  return {
    issuer: c.JUNCTION_OIDC_ISSUER,
    clientId: c.JUNCTION_OIDC_CLIENT_ID!,
    clientSecret: c.JUNCTION_OIDC_CLIENT_SECRET,
    tokenAuthMethod: c.JUNCTION_OIDC_TOKEN_AUTH_METHOD,
    redirectUri: c.JUNCTION_OIDC_REDIRECT_URI!,
    scopes: c.JUNCTION_OIDC_SCOPES,
    algorithm: c.JUNCTION_OIDC_ALGORITHM,
    usernameClaim: c.JUNCTION_OIDC_USERNAME_CLAIM,
    requireVerifiedEmail: c.JUNCTION_OIDC_REQUIRE_VERIFIED_EMAIL,
    rolesClaim: c.JUNCTION_OIDC_ROLES_CLAIM,
    claimRoles: c.JUNCTION_OIDC_CLAIM_ROLES!,
    acceptBearer: c.JUNCTION_OIDC_ACCEPT_BEARER,
    bearerAudience: c.JUNCTION_OIDC_BEARER_AUDIENCE,
    timeoutMs: c.JUNCTION_OIDC_TIMEOUT_MS,
  };
}

/** One egress policy for every protocol, from JUNCTION_EGRESS_* and the older HTTP-only aliases. */
function egressPolicy(c: Loaded, problems: string[]): EgressPolicy | undefined {
  const aliasStrict =
    c.JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS === undefined
      ? undefined
      : !c.JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS;
  if (
    c.JUNCTION_EGRESS_STRICT !== undefined &&
    aliasStrict !== undefined &&
    c.JUNCTION_EGRESS_STRICT !== aliasStrict
  ) {
    problems.push(
      'JUNCTION_EGRESS_STRICT and JUNCTION_HTTP_ALLOW_CONNECTION_HOSTS (its deprecated alias) disagree: set only JUNCTION_EGRESS_STRICT',
    );
    return undefined;
  }
  return new EgressPolicy([...c.JUNCTION_EGRESS_ALLOW, ...c.JUNCTION_HTTP_ALLOW_HOSTS], {
    strict: c.JUNCTION_EGRESS_STRICT ?? aliasStrict ?? false,
  });
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

/**
 * Every variable, each parsed and checked, then the sign-in providers checked as a whole
 * (required companions, TLS settings that fit the URL). Throws ConfigError naming each bad
 * variable; sensitive values are never echoed.
 */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env) {
  const values = loadConfig({ ...GATEWAY_CONFIG, ...LDAP_CONFIG, ...OIDC_CONFIG }, env);
  const problems: string[] = [];
  const auth: AuthProviders = {
    ldap: ldapProvider(values, env, problems),
    oidc: oidcProvider(values, env, problems),
  };
  const egress = egressPolicy(values, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const hosts = HostPolicy.forListener(
    values.HOST,
    values.JUNCTION_ALLOWED_HOSTS,
    auth.oidc ? [new URL(auth.oidc.redirectUri).hostname] : [],
  );
  return { ...values, auth, egress: egress!, hosts };
}
