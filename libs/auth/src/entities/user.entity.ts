import { Column, Entity, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import { RoleGrantEntity } from './role-grant.entity';

export type IdentityProvider = 'local' | 'ldap' | 'oidc';

@Entity({ name: 'users' })
export class UserEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text' })
  username!: string;

  @Column({ type: 'text' })
  provider!: IdentityProvider;

  /** argon2id; null for users of a directory or identity provider. */
  @Column({ name: 'password_hash', type: 'text', nullable: true, select: false })
  passwordHash!: string | null;

  @Column({ name: 'display_name', type: 'text', nullable: true })
  displayName!: string | null;

  @Column({ type: 'text', nullable: true })
  email!: string | null;

  @Column({ type: 'boolean' })
  disabled!: boolean;

  /**
   * The API key this user came from: the one that made it, or the one the user that made it came
   * from. Revoking that key with cascade disables this user.
   */
  @Column({ name: 'created_by_key_id', type: 'uuid', nullable: true })
  createdByKeyId!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt!: Date | null;

  /** OIDC users: the provider's refresh token of the last sign-in, sealed (see OidcSignInService). */
  @Column({ name: 'provider_token', type: 'text', nullable: true, select: false })
  providerToken!: string | null;

  /** When the identity provider was last asked about this user. */
  @Column({ name: 'provider_checked_at', type: 'timestamptz', nullable: true, select: false })
  providerCheckedAt!: Date | null;

  @OneToMany(() => RoleGrantEntity, (grant) => grant.user, { cascade: true })
  grants!: RoleGrantEntity[];
}
