import type { ConnectorKind } from '@junction/connectors';
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'connections' })
export class ConnectionEntity {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  type!: ConnectorKind;

  @Column({ type: 'jsonb' })
  config!: Record<string, unknown>;

  /** Sealed (AES-256-GCM) JSON of the secret values; never leaves the registry unsealed but to a connector. */
  @Column({ type: 'text', nullable: true })
  secrets!: string | null;

  @Column({ name: 'secret_keys', type: 'text', array: true })
  secretKeys!: string[];

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'updated_by', type: 'text' })
  updatedBy!: string;
}
