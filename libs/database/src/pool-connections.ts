import type { EventEmitter } from 'node:events';
import type { DataSource } from 'typeorm';

/**
 * Gives every connection the DataSource's pool makes an 'error' listener for its whole life.
 *
 * pg-pool hands a new connection out the moment it is ready, with no 'error' listener until its
 * user (TypeORM's query runner, one microtask later) adds one. A backend terminated just then
 * (`pg_terminate_backend`, a failover, a pooler restart: the FATAL arrives in the same read as
 * ReadyForQuery) emits 'error' on a client nobody listens to, and Node ends the process. With
 * this listener the error still reaches the client's user as the failure of its next query,
 * and the pool drops the connection when it comes back.
 */
export function guardPoolConnections<T extends DataSource>(db: T): T {
  const pool = (db.driver as unknown as { master?: EventEmitter }).master;
  pool?.on('connect', (client: EventEmitter) => {
    client.on('error', () => undefined);
  });
  return db;
}
