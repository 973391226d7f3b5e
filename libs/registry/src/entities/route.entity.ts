import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'routes' })
export class RouteEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  /** Which life of this id: a route deleted and created again is the next incarnation, from version 1. */
  @Column({ type: 'integer' })
  incarnation!: number;

  @Column({ name: 'latest_version', type: 'integer' })
  latestVersion!: number;

  @Column({ name: 'active_version', type: 'integer', nullable: true })
  activeVersion!: number | null;

  /**
   * How many times the active version (or the incarnation) changed: counted by the database
   * (migration 1765190000000), never written here.
   */
  @Column({ type: 'integer', insert: false, update: false })
  activations!: number;

  @Column({ name: 'desired_state', type: 'text' })
  desiredState!: 'running' | 'stopped';

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}
