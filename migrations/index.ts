import { InitialSchema1764160000000 } from './1764160000000-initial-schema';
import { DeadLetters1764170000000 } from './1764170000000-dead-letters';
import { AuditTrail1764190000000 } from './1764190000000-audit-trail';
import { RouteVersionSource1765060000000 } from './1765060000000-route-version-source';

/** Every migration, in order. Listed explicitly so that source (tests) and dist (npm start) agree. */
export const MIGRATIONS = [
  InitialSchema1764160000000,
  DeadLetters1764170000000,
  AuditTrail1764190000000,
  RouteVersionSource1765060000000,
];
