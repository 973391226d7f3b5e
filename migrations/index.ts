import { InitialSchema1764160000000 } from './1764160000000-initial-schema';
import { DeadLetters1764170000000 } from './1764170000000-dead-letters';
import { AuditTrail1764190000000 } from './1764190000000-audit-trail';
import { AccountHardening1765030000000 } from './1765030000000-account-hardening';
import { AuditRoles1765040000000 } from './1765040000000-audit-roles';

/** Every migration, in order. Listed explicitly so that source (tests) and dist (npm start) agree. */
export const MIGRATIONS = [
  InitialSchema1764160000000,
  DeadLetters1764170000000,
  AuditTrail1764190000000,
  AccountHardening1765030000000,
  AuditRoles1765040000000,
];
