import { Injectable } from '@nestjs/common';
import { DataSource, IsNull } from 'typeorm';
import { SessionEntity } from './entities/session.entity';

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

  async revoke(id: string): Promise<boolean> {
    const result = await this.db
      .getRepository(SessionEntity)
      .update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  async revokeAllOf(userId: string): Promise<void> {
    await this.db
      .getRepository(SessionEntity)
      .update({ userId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }
}
