import { CONNECTORS, HttpIngestSource, IngestSources, type RouteSpec } from '@junction/connectors';
import { testResources } from '@junction/pipeline';
import type { DeadLettersRepository } from './dead-letters.repository';
import { LogDestination } from './log.destination';
import { NO_AUDIT } from './message-audit';
import { RouteRecord, RouteStore, RouteSupervisor, START_CONCURRENCY } from './route-supervisor';

const httpRoute = (path: string): RouteSpec => ({
  id: 'reborn',
  source: { type: 'http', path, auth: 'none' },
  pipeline: [],
  destinations: [{ type: 'log' }],
});

/** A store whose one route the test rewrites, as other processes would in the database. */
class OneRouteStore implements RouteStore {
  constructor(public record: RouteRecord) {}
  runnable(): Promise<RouteRecord[]> {
    return Promise.resolve([this.record]);
  }
  find(): Promise<RouteRecord | null> {
    return Promise.resolve(this.record);
  }
}

describe('RouteSupervisor (through fakes of WorkerDeps)', () => {
  const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
  let supervisor: RouteSupervisor;
  let store: OneRouteStore;
  let ingest: IngestSources;

  beforeEach(() => {
    ingest = new IngestSources();
    store = new OneRouteStore({
      id: 'reborn',
      incarnation: 1,
      activeVersion: 1,
      desiredState: 'running',
      deleted: false,
      document: httpRoute('Old//Path/'),
    });
    supervisor = new RouteSupervisor(
      store,
      fakeDeps((spec, _connection, route) => {
        if (spec.type !== 'http') throw new Error('only http sources here');
        return new HttpIngestSource(spec, route, ingest, 10);
      }),
    );
  });

  /** The deps of these cases: `source` makes the sources, the rest is fixed (or `more`). */
  function fakeDeps(
    source: ConstructorParameters<typeof RouteSupervisor>[1]['connectors']['source'],
    more: Partial<ConstructorParameters<typeof RouteSupervisor>[1]> = {},
  ): ConstructorParameters<typeof RouteSupervisor>[1] {
    return {
      connectors: {
        source,
        destination: () => new LogDestination('reborn', 'info', () => undefined),
      },
      connection: () => Promise.reject(new Error('no connections here')),
      resources: testResources({ protocols: CONNECTORS }),
      deadLetters: {} as DeadLettersRepository,
      audit: NO_AUDIT,
      log: quiet,
      closeConnectors: () => Promise.resolve(),
      ...more,
    };
  }

  afterEach(() => supervisor.stop());

  it('names what a stop still waits for: a source still closing, then a connection', async () => {
    const release = { source: () => undefined as void, connectors: () => undefined as void };
    const stuck = new RouteSupervisor(
      store,
      fakeDeps(
        () => ({
          start: () => Promise.resolve(),
          stop: () => new Promise<void>((resolve) => (release.source = resolve)),
        }),
        {
          closeConnectors: () => new Promise<void>((resolve) => (release.connectors = resolve)),
          closingConnectors: () => ["amqp connection 'rabbit': still closing"],
        },
      ),
    );
    await stuck.refresh('reborn');
    expect(stuck.stillStopping()).toEqual([]);
    const stopping = stuck.stop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stuck.stillStopping()).toEqual([
      'route reborn: its source or destinations still closing',
      "amqp connection 'rabbit': still closing",
    ]);
    release.source();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stuck.stillStopping()).toEqual(["amqp connection 'rabbit': still closing"]);
    release.connectors();
    await stopping;
  });

  it('finds a worker by its normalised path only', async () => {
    await supervisor.refresh('reborn');
    expect(ingest.find('old/path')?.route.routeId).toBe('reborn');
    expect(ingest.find('Old//Path/')).toBeUndefined(); // callers pass the normalised form
  });

  it('replaces the worker when the id was deleted and created again, though the version number is the same', async () => {
    await supervisor.refresh('reborn');
    // The delete and the new create were both committed before this process heard of either.
    store.record = { ...store.record, incarnation: 2, document: httpRoute('new/path') };
    await supervisor.refresh('reborn');
    expect(ingest.find('new/path')?.route).toEqual({ routeId: 'reborn', routeVersion: 1 });
    expect(supervisor.worker('reborn')).toMatchObject({ version: 1, incarnation: 2 });
    expect(ingest.find('old/path')).toBeUndefined();
  });

  it('starts the next version of an HTTP route before the old one drains: the path is never free', async () => {
    await supervisor.refresh('reborn');
    const first = ingest.find('old/path')!;
    const claims: Array<number | undefined> = [];
    const claim = ingest.claim.bind(ingest);
    ingest.claim = (source) => {
      // When the next version claims the path, the old one still holds it.
      claims.push(ingest.find(source.pathKey)?.route.routeVersion);
      claim(source);
    };
    store.record = { ...store.record, activeVersion: 2 };
    await supervisor.refresh('reborn');
    expect(claims).toEqual([1]);
    expect(ingest.find('old/path')?.route.routeVersion).toBe(2);
    expect(() =>
      first.offer({ id: 'm', headers: {}, payload: Buffer.from('{}'), path: 'p' }),
    ).toThrow(/stopping or restarting/);
  });

  it('stops the worker of a route set to stopped, and frees its ingest path', async () => {
    await supervisor.refresh('reborn');
    store.record = { ...store.record, desiredState: 'stopped' };
    await supervisor.refresh('reborn');
    expect(supervisor.worker('reborn')).toBeUndefined();
    expect(ingest.find('old/path')).toBeUndefined();
    expect(supervisor.status('reborn')).toBeUndefined();
  });

  it('reports a route whose source cannot start as failed, with the reason', async () => {
    store.record = {
      ...store.record,
      document: {
        id: 'reborn',
        source: { type: 'amqp', connection: 'rabbit', queue: 'q' },
        destinations: [{ type: 'log' }],
      },
    };
    supervisor = new RouteSupervisor(store, {
      connectors: {
        source: () => ({
          start: () => Promise.reject(new Error('ACCESS_REFUSED')),
          stop: () => Promise.resolve(),
        }),
        destination: () => new LogDestination('reborn', 'info', () => undefined),
      },
      connection: (name) => Promise.resolve({ name, config: {}, secrets: {} }),
      resources: testResources({ protocols: CONNECTORS }),
      deadLetters: {} as DeadLettersRepository,
      audit: NO_AUDIT,
      log: quiet,
      closeConnectors: () => Promise.resolve(),
    });
    await supervisor.refresh('reborn');
    expect(supervisor.worker('reborn')).toBeUndefined();
    expect(supervisor.status('reborn')).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/ACCESS_REFUSED/),
    });
  });
});

describe('RouteSupervisor at boot (many stored routes)', () => {
  const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
  const queueRoute = (i: number): RouteSpec => ({
    id: `r-${i}`,
    source: { type: 'amqp', connection: 'rabbit', queue: `q-${i}` },
    pipeline: [],
    destinations: [{ type: 'log' }],
  });
  const stored = (i: number, version = 1): RouteRecord => ({
    id: `r-${i}`,
    incarnation: 1,
    activeVersion: version,
    desiredState: 'running',
    deleted: false,
    document: queueRoute(i),
  });

  /** Counts the store's reads: one of every route, and one by one. */
  class CountingStore implements RouteStore {
    runnableReads = 0;
    finds: string[] = [];
    constructor(public records: Map<string, RouteRecord>) {}
    runnable(): Promise<RouteRecord[]> {
      this.runnableReads += 1;
      return Promise.resolve([...this.records.values()]);
    }
    find(id: string): Promise<RouteRecord | null> {
      this.finds.push(id);
      return Promise.resolve(this.records.get(id) ?? null);
    }
  }

  /** A supervisor whose sources start when the test lets them, counting starts in flight. */
  function boot(store: RouteStore, gate?: Promise<void>) {
    const seen = { connectionReads: 0, inFlight: 0, mostInFlight: 0, started: [] as string[] };
    const supervisor = new RouteSupervisor(store, {
      connectors: {
        source: (_spec, _connection, route) => ({
          start: async () => {
            seen.inFlight += 1;
            seen.mostInFlight = Math.max(seen.mostInFlight, seen.inFlight);
            await gate;
            seen.inFlight -= 1;
            seen.started.push(`${route.routeId}@${route.routeVersion}`);
          },
          stop: () => Promise.resolve(),
        }),
        destination: (_spec, _connection, route) =>
          new LogDestination(route.routeId, 'info', () => undefined),
      },
      connection: (name) => {
        seen.connectionReads += 1;
        return Promise.resolve({ name, config: {}, secrets: {} });
      },
      resources: testResources({ protocols: CONNECTORS }),
      deadLetters: {} as DeadLettersRepository,
      audit: NO_AUDIT,
      log: quiet,
      closeConnectors: () => Promise.resolve(),
    });
    return { supervisor, seen };
  }

  const routes = (n: number) =>
    new Map(Array.from({ length: n }, (_, i) => [`r-${i}`, stored(i)] as const));

  it('reads the stored routes in one query and their shared connection once, not once per route', async () => {
    const store = new CountingStore(routes(200));
    const { supervisor, seen } = boot(store);
    await supervisor.start();
    await supervisor.firstStarts(60_000);
    expect(store.runnableReads).toBe(1);
    expect(store.finds).toEqual([]);
    expect(seen.connectionReads).toBe(1);
    expect(supervisor.statuses().filter((s) => s.state === 'running')).toHaveLength(200);
    await supervisor.stop();
  });

  it('starts at most START_CONCURRENCY routes at once', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { supervisor, seen } = boot(new CountingStore(routes(100)), gate);
    await supervisor.start();
    // Let every lane reach its first start before the gate opens.
    for (let i = 0; i < 100 && seen.inFlight < START_CONCURRENCY; i++)
      await new Promise((resolve) => setImmediate(resolve));
    expect(seen.mostInFlight).toBe(START_CONCURRENCY);
    open();
    await supervisor.firstStarts(60_000);
    expect(seen.started).toHaveLength(100);
    expect(seen.mostInFlight).toBe(START_CONCURRENCY);
    await supervisor.stop();
  });

  it('reads a route again when a change was announced after the read of them all began', async () => {
    const store = new CountingStore(routes(2 * START_CONCURRENCY));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { supervisor, seen } = boot(store, gate);
    await supervisor.start();
    // The last route is still waiting for a lane when version 2 is activated and announced.
    const last = `r-${2 * START_CONCURRENCY - 1}`;
    store.records.set(last, stored(2 * START_CONCURRENCY - 1, 2));
    const announced = supervisor.refresh(last);
    open();
    await supervisor.firstStarts(60_000);
    await announced;
    expect(supervisor.worker(last)?.version).toBe(2);
    expect(seen.started.filter((s) => s.startsWith(`${last}@`))).toEqual([`${last}@2`]);
    expect(store.finds.every((id) => id === last)).toBe(true);
    await supervisor.stop();
  });

  it('resyncs from one read too: a route gone from it is stopped, the others are left running', async () => {
    const store = new CountingStore(routes(20));
    const { supervisor } = boot(store);
    await supervisor.start();
    await supervisor.firstStarts(60_000);
    store.records.delete('r-3');
    await supervisor.resync();
    expect(store.runnableReads).toBe(2);
    expect(store.finds).toEqual([]);
    expect(supervisor.worker('r-3')).toBeUndefined();
    expect(supervisor.statuses().filter((s) => s.state === 'running')).toHaveLength(19);
    await supervisor.stop();
  });
});
