import { InitialSchema1764160000000 } from './1764160000000-initial-schema';
import { DeadLetters1764170000000 } from './1764170000000-dead-letters';
import { AuditTrail1764190000000 } from './1764190000000-audit-trail';
import { IngestPathsAndScopes1765020000000 } from './1765020000000-ingest-paths-and-scopes';
import { DeadLetterIncarnation1765020000001 } from './1765020000001-dead-letter-incarnation';
import { AccountHardening1765030000000 } from './1765030000000-account-hardening';
import { AuditRoles1765040000000 } from './1765040000000-audit-roles';
import { RouteVersionSource1765060000000 } from './1765060000000-route-version-source';
import { RouteSamples1765061000000 } from './1765061000000-route-samples';
import { DeadLetterSearch1765080000000 } from './1765080000000-dead-letter-search';
import { DeadLetterReplayJobs1765080000001 } from './1765080000001-dead-letter-replay-jobs';
import { AuditMessageCounts1765080000002 } from './1765080000002-audit-message-counts';
import { AuditSavedSearches1765080000003 } from './1765080000003-audit-saved-searches';
import { AuditTraceId1765100000000 } from './1765100000000-audit-trace-id';
import { DeadLetterReplays1765110000000 } from './1765110000000-dead-letter-replays';
import { AuditReplayIndex1765120000000 } from './1765120000000-audit-replay-index';
import { ConnectionKindShape1765150000000 } from './1765150000000-connection-kind-shape';
import { ProviderRefreshToken1765160000000 } from './1765160000000-provider-refresh-token';
import { KeyProvenance1765170000000 } from './1765170000000-key-provenance';
import { ReplayJobApprovedActive1765180000000 } from './1765180000000-replay-job-approved-active';
import { RouteActivations1765190000000 } from './1765190000000-route-activations';

/** Every migration, in order. Listed explicitly so that source (tests) and dist (npm start) agree. */
export const MIGRATIONS = [
  InitialSchema1764160000000,
  DeadLetters1764170000000,
  AuditTrail1764190000000,
  IngestPathsAndScopes1765020000000,
  DeadLetterIncarnation1765020000001,
  AccountHardening1765030000000,
  AuditRoles1765040000000,
  RouteVersionSource1765060000000,
  RouteSamples1765061000000,
  DeadLetterSearch1765080000000,
  DeadLetterReplayJobs1765080000001,
  AuditMessageCounts1765080000002,
  AuditSavedSearches1765080000003,
  AuditTraceId1765100000000,
  DeadLetterReplays1765110000000,
  AuditReplayIndex1765120000000,
  ConnectionKindShape1765150000000,
  ProviderRefreshToken1765160000000,
  KeyProvenance1765170000000,
  ReplayJobApprovedActive1765180000000,
  RouteActivations1765190000000,
];
