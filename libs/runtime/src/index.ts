export * from './message-audit';
export { RuntimeModule, RUNTIME_OPTIONS } from './runtime.module';
export type { RuntimeOptions } from './runtime.module';
export { RouteSupervisor } from './route-supervisor';
export { RouteWorker, SYNC_TIMEOUT_MS } from './route-worker';
export type { ProcessResult, WorkerStatus } from './route-worker';
export { DeadLetterEntity } from './dead-letter.entity';

import { DeadLetterEntity } from './dead-letter.entity';
export const RUNTIME_ENTITIES = [DeadLetterEntity];
export { DeadLettersRepository, MAX_KEPT_PAYLOAD_BYTES } from './dead-letters.repository';
export { MAX_OPEN_REPLAY_JOBS, MAX_REPLAY_JOB_ITEMS } from './replay-jobs.repository';
export { ReplayJobsService, SYSTEM_CLOCK } from './replay-jobs.service';
export type { ReplayClock } from './replay-jobs.service';
export * from './tracing';
export { keptMessageId, MAX_MESSAGE_ID_BYTES } from './message-id';
