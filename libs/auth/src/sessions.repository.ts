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

  async create(session: {
    userId: string;
    provider: string;
    expiresAt: Date;
    ip?: string;
    userAgent?: string;
  }): Promise<SessionEntity> {
    const repo = this.db.getRepository(SessionEntity);
    return repo.save(
      repo.create({ ...session, ip: session.ip ?? null, userAgent: session.userAgent ?? null }),
    );
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
