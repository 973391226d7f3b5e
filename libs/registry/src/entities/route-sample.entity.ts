import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A sample message of a route; its body and headers are sealed (AES-256-GCM). */
@Entity({ name: 'route_samples' })
export class RouteSampleEntity {
  @PrimaryColumn({ name: 'route_id', type: 'text' })
  routeId!: string;

  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  sealed!: string;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'updated_by', type: 'text' })
  updatedBy!: string;
}
