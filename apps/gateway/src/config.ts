import { loadConfig, parse } from '@junction/common';

/** The gateway's configuration, validated at start-up. Sensitive values are never printed. */
export const GATEWAY_CONFIG = {
  HOST: { description: 'Address to listen on.', default: '127.0.0.1', parse: parse.string },
  PORT: { description: 'Port to listen on.', default: 8080, parse: parse.integer(0, 65535) },
  DATABASE_URL: {
    description:
      'PostgreSQL URL. Without it Junction runs on an embedded PostgreSQL in JUNCTION_DATA_DIR.',
    sensitive: true,
    parse: parse.url(['postgres', 'postgresql']),
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
      'Password of the first admin (at least 12 characters). Generated and printed once when not set.',
    sensitive: true,
    parse: parse.password,
  },
  JUNCTION_SEED_DEMO: {
    description: 'Seed the demo route on first start (true/false).',
    default: true,
    parse: (raw: string) => parseBoolean(raw),
  },
  JUNCTION_TOKEN_TTL_SECONDS: {
    description: 'Lifetime of a sign-in session token.',
    default: 8 * 3600,
    parse: parse.integer(60, 30 * 24 * 3600),
  },
  JUNCTION_LOGIN_ATTEMPTS_PER_MINUTE: {
    description: 'Sign-in attempts allowed per minute for one address and user name.',
    default: 10,
    parse: parse.integer(1, 10_000),
  },
  JUNCTION_BODY_LIMIT_BYTES: {
    description: 'Largest request body accepted (API and ingest).',
    default: 1024 * 1024,
    parse: parse.integer(1024, 64 * 1024 * 1024),
  },
  JUNCTION_EXPRESSION_TIMEOUT_MS: {
    description: 'Time limit of one JSONata evaluation.',
    default: 50,
    parse: parse.integer(1, 10_000),
  },
};

function parseBoolean(raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error('must be true or false');
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(GATEWAY_CONFIG, env);
}
