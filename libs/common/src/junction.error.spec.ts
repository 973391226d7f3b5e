import fc from 'fast-check';
import { databaseInputError, JunctionError } from './junction.error';

/** What TypeORM throws (QueryFailedError): the driver's error, with its SQLSTATE, inside. */
function queryFailed(
  code: string,
  message = 'invalid input syntax for type uuid: "4111111111111111"',
) {
  return Object.assign(new Error(message), { driverError: { code, message } });
}

describe('databaseInputError', () => {
  it.each([
    ['22021', 400, /NUL/],
    ['22P05', 400, /NUL|surrogate/],
    ['22003', 400, /out of range/],
    ['22P02', 400, /wrong form/],
    ['22008', 400, /date or time/],
    ['22001', 400, /longer/],
    ['22023', 400, /cannot be stored/],
    ['54001', 413, /nested too deeply/],
    ['54000', 413, /too large/],
  ])("SQLSTATE %s is the caller's fault: %i", (code, status, message) => {
    const err = databaseInputError(queryFailed(code));
    expect(err).toBeInstanceOf(JunctionError);
    expect(err!.code).toBe(status === 400 ? 'BAD_REQUEST' : 'PAYLOAD_TOO_LARGE');
    expect(err!.message).toMatch(message);
    expect(err!.details).toEqual({ sqlState: code });
    // Postgres's own text may quote the value (here a card number): never passed on.
    expect(err!.message).not.toContain('4111');
    expect(err!.cause).toBeDefined();
  });

  it('finds the SQLSTATE on pg errors and through wrapping causes', () => {
    const pg = Object.assign(new Error('x'), { code: '22021' });
    expect(databaseInputError(pg)?.code).toBe('BAD_REQUEST');
    expect(databaseInputError(new Error('wrapped', { cause: queryFailed('22003') }))?.code).toBe(
      'BAD_REQUEST',
    );
  });

  it("leaves the server's own failures alone (they stay 5xx)", () => {
    for (const code of ['23505', '40001', '08006', '42P01', '57014', 'XX000', 'EPIPE'])
      expect(databaseInputError(queryFailed(code))).toBeUndefined();
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const out = databaseInputError(value);
        return out === undefined || out instanceof JunctionError;
      }),
      { seed: 11, numRuns: 300 },
    );
    expect(databaseInputError(new Error('no code'))).toBeUndefined();
  });
});
