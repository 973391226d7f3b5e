import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Role } from '../roles';

/** A machine's key. Only a SHA-256 of the key is stored: the key itself is shown once. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  /** The public part of the key, to find its row without scanning. */
  @Column({ type: 'text' })
  prefix!: string;

  @Column({ name: 'key_hash', type: 'text', select: false })
  keyHash!: string;

  @Column({ type: 'text', array: true })
  roles!: Role[];

  /** The user the key acts for: it works only while that user exists and is enabled. */
  @Column({ name: 'owner_id', type: 'uuid', nullable: true })
  ownerId!: string | null;
  /** The routes this key may post to (ingest); null: every route with `auth: apiKey`. */
  @Column({ name: 'ingest_routes', type: 'text', array: true, nullable: true })
  ingestRoutes!: string[] | null;

  @Column({ name: 'created_by', type: 'text' })
  createdBy!: string;

  /** The API key that made this one, if a key did (revoking that key with cascade ends this one). */
  @Column({ name: 'created_by_key_id', type: 'uuid', nullable: true })
  createdByKeyId!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
