export * from './message-tracing';
export * from './otel-tracing';
export * from './traceparent';
