import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { Role } from '../roles';
import { UserEntity } from './user.entity';

@Entity({ name: 'role_grants' })
export class RoleGrantEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @PrimaryColumn({ type: 'text' })
  role!: Role;

  @Column({ name: 'granted_by', type: 'text' })
  grantedBy!: string;

  @Column({ name: 'granted_at', type: 'timestamptz', insert: false, update: false })
  grantedAt!: Date;

  @ManyToOne(() => UserEntity, (user) => user.grants, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user!: UserEntity;
}
