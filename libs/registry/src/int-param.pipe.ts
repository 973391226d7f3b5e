import { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import { JunctionError } from '@junction/common';

/** The largest value of a Postgres `integer` (int4), the type of route version numbers. */
export const INT4_MAX = 2_147_483_647;

/**
 * A path or query parameter that must be a whole number in a range (not `1.5`, `NaN` or
 * `Infinity`), checked before it reaches a query, so that a version beyond int4 is a 400 that
 * names the parameter rather than a database error.
 */
export class IntParamPipe implements PipeTransform<unknown, number | undefined> {
  constructor(
    private readonly range: { min: number; max: number; optional?: boolean } = {
      min: 1,
      max: INT4_MAX,
    },
  ) {}

  transform(value: unknown, metadata: ArgumentMetadata): number | undefined {
    if (value === undefined && this.range.optional) return undefined;
    const name = metadata.data ?? 'parameter';
    // The global ValidationPipe (transform: true) may already have made a number of it.
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^-?\d{1,16}$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isSafeInteger(n) || n < this.range.min || n > this.range.max) {
      throw new JunctionError(
        'BAD_REQUEST',
        `${name} must be a whole number from ${this.range.min} to ${this.range.max}`,
      );
    }
    return n;
  }
}
