export * from './junction.error';
export * from './secret-box';
export * from './config';
export * from './package-info';
export * from './event-bus';
export * from './iso-now';
export * from './no-card-number';
export * from './api-time';
