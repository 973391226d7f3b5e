import { Client } from 'pg';

/** How long the probe waits for the database to answer. */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * Connects once to the database `url` names and says, in one line naming the variable and the
 * host:port, why it cannot be used: unreachable, unknown host, no answer, refused login, no such
 * database. TypeORM would otherwise retry for half a minute and end in a stack trace.
 */
export async function probeDatabase(url: string, variable: string): Promise<void> {
  const parsed = new URL(url);
  const where = `${parsed.hostname || 'localhost'}:${parsed.port || '5432'}`;
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    application_name: 'junction-probe',
  });
  // A connection that drops at once reports here too; nothing else listens.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `${variable}: ${databaseProblem(err, where, decodeURIComponent(parsed.username))}`,
      {
        cause: err,
      },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

function databaseProblem(err: unknown, where: string, user: string): string {
  const e = err as { code?: string; message?: string };
  switch (e.code) {
    case 'ECONNREFUSED':
      return `cannot reach the database at ${where}: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach the database at ${where}: the host name does not resolve`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot reach the database at ${where}: no route to the host`;
    case 'ECONNRESET':
      return `the database at ${where} closed the connection`;
    case '28P01':
    case '28000':
      return `the database at ${where} refused the login of ${user ? `user ${user}` : 'the user'}: ${e.message ?? ''}`;
    case '3D000':
      return `the database at ${where} says: ${e.message ?? 'no such database'}`;
  }
  if (/timeout/i.test(e.message ?? ''))
    return `the database at ${where} did not answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  return `cannot use the database at ${where}: ${e.message ?? String(err)}`;
}
