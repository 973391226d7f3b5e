export * from './log-settings';
export * from './log-redaction';
export * from './pino-logger';
export * from './request-context';
