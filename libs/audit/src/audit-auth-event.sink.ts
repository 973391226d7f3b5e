import type { AuthEvent, AuthEventSink } from '@junction/auth';
import { authEventInput } from './audit-rows';
import { AuditTrail } from './audit-trail';
import { DenialAggregator } from './denial-aggregator';

/**
 * Sign-ins, failed sign-ins and denied requests into the audit trail; resolves once committed.
 * Anonymous 401s are counted by the aggregator instead (one event per source and window), and a
 * signed-in caller's denials past the first few of a window too (one event per caller, status and
 * window), so that neither noise nor a key looping on a forbidden call can grow the append-only
 * trail without bound.
 */
export class AuditAuthEventSink implements AuthEventSink {
  constructor(
    private readonly trail: AuditTrail,
    private readonly denials?: DenialAggregator,
  ) {}

  record(event: AuthEvent): Promise<void> {
    if (
      this.denials &&
      event.type === 'request.denied' &&
      event.status === 401 &&
      event.actor === '(anonymous)'
    ) {
      this.denials.add(event);
      return Promise.resolve();
    }
    if (
      this.denials &&
      event.type === 'request.denied' &&
      event.actor !== '(anonymous)' &&
      !this.denials.admit({ ...event, actor: event.actor })
    )
      return Promise.resolve();
    return this.trail.recordEvent(authEventInput(event));
  }
}
