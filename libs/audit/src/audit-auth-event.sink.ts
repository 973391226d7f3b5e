import type { AuthEvent, AuthEventSink } from '@junction/auth';
import { authEventInput } from './audit-rows';
import { AuditTrail } from './audit-trail';

/** Sign-ins, failed sign-ins and denied requests into the audit trail; resolves once committed. */
export class AuditAuthEventSink implements AuthEventSink {
  constructor(private readonly trail: AuditTrail) {}

  record(event: AuthEvent): Promise<void> {
    return this.trail.recordEvent(authEventInput(event));
  }
}
