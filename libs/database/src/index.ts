export * from './database.error';
export * from './embedded-postgres';
export * from './test-database';
export * from './embedded-roles';
export * from './pg-listener';
export * from './pool-connections';
