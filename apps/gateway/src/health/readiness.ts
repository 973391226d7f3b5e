import { Injectable } from '@nestjs/common';

/**
 * What the process still waits for before it may take traffic (`startup`: migrations, the first
 * admin, the stored routes' first starts). While anything is held, GET /health/ready answers 503.
 * Nothing is held unless start-up holds it (apps built by tests are ready once initialised).
 */
@Injectable()
export class Readiness {
  private readonly holds = new Set<string>();

  hold(what: string): void {
    this.holds.add(what);
  }

  release(what: string): void {
    this.holds.delete(what);
  }

  pending(): string[] {
    return [...this.holds];
  }
}
