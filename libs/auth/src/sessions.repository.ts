import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull, Not } from 'typeorm';
import { SessionEntity } from './entities/session.entity';

/** A session that is neither revoked nor expired, with its user's name. */
export interface LiveSession {
  id: string;
  userId: string;
  username: string;
  provider: string;
  createdAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
}

@Injectable()
export class SessionsRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Opens a session, and in the same transaction removes the user's sessions that ended (revoked
   * or expired; the audit trail keeps each sign-in) and its live ones beyond the newest `keep`:
   * so a user signing in again and again leaves `keep` rows, not one more each time.
   */
  async create(
    session: {
      userId: string;
      provider: string;
      expiresAt: Date;
      ip?: string;
      userAgent?: string;
    },
    keep: number,
  ): Promise<SessionEntity> {
    return this.db.transaction(async (m) => {
      const repo = m.getRepository(SessionEntity);
      const saved = await repo.save(
        repo.create({ ...session, ip: session.ip ?? null, userAgent: session.userAgent ?? null }),
      );
      await m.query(
        `DELETE FROM sessions
          WHERE user_id = $1
            AND (revoked_at IS NOT NULL OR expires_at <= now()
                 OR id IN (SELECT id FROM sessions
                            WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
                            ORDER BY created_at DESC, (id = $2) DESC
                            OFFSET $3))`,
        [session.userId, saved.id, keep],
      );
      return saved;
    });
  }

  findLive(id: string): Promise<SessionEntity | null> {
    return this.db.getRepository(SessionEntity).findOne({ where: { id, revokedAt: IsNull() } });
  }

  /** Live sessions, newest first. */
  async listLive(): Promise<LiveSession[]> {
    return this.liveQuery().orderBy('s.created_at', 'DESC').getRawMany<LiveSession>();
  }

  async findLiveWithUser(id: string): Promise<LiveSession | null> {
    return (await this.liveQuery().andWhere('s.id = :id', { id }).getRawOne<LiveSession>()) ?? null;
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.db
      .getRepository(SessionEntity)
      .update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  /** Ends every live session of a user, but `except` (the caller's own, when it keeps it). */
  async revokeAllOf(
    userId: string,
    options: { except?: string; manager?: EntityManager } = {},
  ): Promise<number> {
    const result = await (options.manager ?? this.db.manager)
      .getRepository(SessionEntity)
      .update(
        { userId, revokedAt: IsNull(), ...(options.except ? { id: Not(options.except) } : {}) },
        { revokedAt: new Date() },
      );
    return result.affected ?? 0;
  }

  private liveQuery() {
    return (
      this.db
        .getRepository(SessionEntity)
        .createQueryBuilder('s')
        // By table name: importing UserEntity here would reorder the entities' import cycle.
        .innerJoin('users', 'u', 'u.id = s.user_id')
        .select('s.id', 'id')
        .addSelect('s.user_id', 'userId')
        .addSelect('u.username', 'username')
        .addSelect('s.provider', 'provider')
        .addSelect('s.created_at', 'createdAt')
        .addSelect('s.expires_at', 'expiresAt')
        .addSelect('s.ip', 'ip')
        .addSelect('s.user_agent', 'userAgent')
        .where('s.revoked_at IS NULL AND s.expires_at > now()')
    );
  }
}
