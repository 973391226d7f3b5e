import { CONNECTORS, HttpIngestSource, IngestSources, type RouteSpec } from '@junction/connectors';
import { testResources } from '@junction/pipeline';
import type { DeadLettersRepository } from './dead-letters.repository';
import { LogDestination } from './log.destination';
import { NO_AUDIT } from './message-audit';
import { RouteRecord, RouteStore, RouteSupervisor } from './route-supervisor';

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
    supervisor = new RouteSupervisor(store, {
      connectors: {
        source: (spec, _connection, route) => {
          if (spec.type !== 'http') throw new Error('only http sources here');
          return new HttpIngestSource(spec, route, ingest, 10);
        },
        destination: () => new LogDestination('reborn', 'info', () => undefined),
      },
      connection: () => Promise.reject(new Error('no connections here')),
      resources: testResources({ protocols: CONNECTORS }),
      deadLetters: {} as DeadLettersRepository,
      audit: NO_AUDIT,
      log: quiet,
      closeConnectors: () => Promise.resolve(),
    });
  });

  afterEach(() => supervisor.stop());

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
