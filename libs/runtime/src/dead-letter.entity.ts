import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { SourceRef } from '@junction/pipeline';

@Entity({ name: 'dead_letters' })
export class DeadLetterEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'message_id', type: 'text' })
  messageId!: string;

  @Column({ name: 'route_id', type: 'text' })
  routeId!: string;

  @Column({ name: 'route_version', type: 'integer' })
  routeVersion!: number;

  /** With routeVersion, names the version that failed it (versions count from 1 in each incarnation). */
  @Column({ name: 'route_incarnation', type: 'integer' })
  routeIncarnation!: number;

  @Column({ type: 'jsonb' })
  source!: SourceRef;

  @Column({ name: 'reason_code', type: 'text' })
  reasonCode!: string;

  @Column({ type: 'text' })
  reason!: string;

  /** The reason with card numbers redacted: what is shown and searched. */
  @Column({ name: 'reason_redacted', type: 'text' })
  reasonRedacted!: string;

  @Column({ name: 'failed_at', type: 'text', nullable: true })
  failedAt!: string | null;

  @Column({ type: 'integer' })
  attempts!: number;

  /** The original payload and headers, sealed with AES-256-GCM; opened only to replay. */
  @Column({ type: 'text', select: false })
  sealed!: string;

  @Column({ name: 'payload_sha256', type: 'text' })
  payloadSha256!: string;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'replayed_at', type: 'timestamptz', nullable: true })
  replayedAt!: Date | null;

  @Column({ type: 'integer', insert: false })
  replays!: number;

  @Column({ name: 'last_replay_error', type: 'text', nullable: true })
  lastReplayError!: string | null;
}
