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

describe('RouteSupervisor: route incarnations and ingest paths', () => {
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
});
