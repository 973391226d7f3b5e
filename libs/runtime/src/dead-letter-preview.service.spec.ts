import type { RoutesService } from '@junction/registry';
import type { DeadLettersRepository } from './dead-letters.repository';
import { DeadLetterPreviewService, PREVIEW_BUDGET_MS } from './dead-letter-preview.service';

/**
 * The preview's time budget, with a clock the test moves: each dead letter's run is a step of
 * it. (The preview against the real database and a running gateway: dead-letter-replay-jobs
 * int-spec.)
 */
describe('dead-letter preview: one time budget for the whole request', () => {
  const letters = Array.from({ length: 50 }, (_, i) => ({
    row: {
      id: `dl-${i}`,
      messageId: `m-${i}`,
      routeId: 'orders',
      routeVersion: 1,
      reasonCode: 'SCHEMA_FAILED',
      reasonRedacted: 'no total',
      failedAt: null,
    },
    payload: Buffer.from('{"id":1}'),
    headers: {},
  }));
  const store = {
    openMany: async function* () {
      yield* letters;
    },
    count: () => Promise.resolve([{ count: letters.length }]),
  } as unknown as DeadLettersRepository;

  /** A version whose every run the clock counts as `runMs` long. */
  const routes = (clock: { now: number }, runMs: number) =>
    ({
      dryRunner: () =>
        Promise.resolve({
          version: 2,
          run: () => {
            clock.now += runMs;
            return Promise.resolve({
              version: 2,
              outcome: 'deliver',
              stages: [],
              deliveries: [],
              panWarnings: [],
            });
          },
        }),
    }) as unknown as RoutesService;

  const preview = (runMs: number) => {
    const clock = { now: 0 };
    return new DeadLetterPreviewService(store, routes(clock, runMs), () => clock.now).preview({
      filter: { routeId: 'orders' },
    });
  };

  it('stops once the budget is spent and says so: evaluated, truncated, cutShort', async () => {
    // 100 ms a run (and the first 3 of the reason run twice, as examples): 2,000 ms of budget.
    const result = await preview(100);
    expect(result.cutShort).toBe(true);
    expect(result.truncated).toBe(true);
    expect(result.evaluated).toBeLessThan(letters.length);
    expect(result.evaluated).toBe((PREVIEW_BUDGET_MS - 3 * 100) / 100 + 1);
    expect(result.byReason[0].total).toBe(result.evaluated);
    expect(result.wouldDeliver).toBe(result.evaluated);
  });

  it('runs them all within it', async () => {
    const result = await preview(1);
    expect(result).toMatchObject({
      evaluated: letters.length,
      truncated: false,
      cutShort: false,
      wouldDeliver: letters.length,
    });
  });
});
