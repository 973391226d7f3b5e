import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { RouteSpec } from '@junction/connectors';

/** One stored version of a route: immutable (a trigger refuses UPDATE and DELETE). */
@Entity({ name: 'route_versions' })
export class RouteVersionEntity {
  @PrimaryColumn({ name: 'route_id', type: 'text' })
  routeId!: string;

  /** The route's incarnation: a version number counts within one. */
  @PrimaryColumn({ type: 'integer' })
  incarnation!: number;

  @PrimaryColumn({ type: 'integer' })
  version!: number;

  @Column({ type: 'jsonb' })
  document!: RouteSpec;

  /** SHA-256 of the document's canonical JSON. */
  @Column({ type: 'text' })
  checksum!: string;

  /** The text the version was written in (null for versions stored before texts were kept). */
  @Column({ type: 'text', nullable: true })
  source!: string | null;

  @Column({ name: 'source_format', type: 'text', nullable: true })
  sourceFormat!: 'yaml' | 'json' | null;

  @Column({ type: 'text' })
  author!: string;

  @Column({ type: 'text', nullable: true })
  comment!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;
}
