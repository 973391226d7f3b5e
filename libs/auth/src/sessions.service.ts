import { Inject, Injectable } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import { AUTH_EVENT_SINK, AuthEventSink } from './auth.options';
import { Principal } from './roles';
import { LiveSession, SessionsRepository } from './sessions.repository';

export interface SessionView {
  id: string;
  userId: string;
  username: string;
  provider: string;
  createdAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
}

function view(s: LiveSession): SessionView {
  return {
    id: s.id,
    userId: s.userId,
    username: s.username,
    provider: s.provider,
    createdAt: s.createdAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
    ip: s.ip,
    userAgent: s.userAgent,
  };
}

/** Sign-in sessions of every provider, for admins: who is signed in, and ending a session. */
@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: SessionsRepository,
    @Inject(AUTH_EVENT_SINK) private readonly events: AuthEventSink,
  ) {}

  async listLive(): Promise<SessionView[]> {
    return (await this.sessions.listLive()).map(view);
  }

  /** Ends a live session: its token is refused from the next request on. */
  async revoke(id: string, actor: Principal, ip?: string): Promise<void> {
    const session = await this.sessions.findLiveWithUser(id);
    if (!session || !(await this.sessions.revoke(id)))
      throw new JunctionError('NOT_FOUND', `no live session ${id}`);
    await this.events.record({
      type: 'session.revoked',
      actor: actor.name,
      sessionId: id,
      user: session.username,
      provider: session.provider,
      ip,
    });
  }
}
