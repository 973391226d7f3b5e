import { RouteEventBus } from '@junction/registry';
import { followRouteEvents } from './runtime.module';

/** A supervisor whose refreshes finish only when the test says so. */
function fakeSupervisor() {
  const pending = new Map<string, () => void>();
  const refreshed: string[] = [];
  return {
    refreshed,
    finish: (id: string) => pending.get(id)?.(),
    refresh: (id: string) => {
      refreshed.push(id);
      return new Promise<void>((resolve) => pending.set(id, resolve));
    },
  };
}

describe('followRouteEvents', () => {
  afterEach(() => jest.useRealTimers());

  it('a route change is applied before the emitter goes on', async () => {
    const events = new RouteEventBus();
    const supervisor = fakeSupervisor();
    followRouteEvents(events, supervisor);
    let answered = false;
    const emitted = events.emit('route.changed', { routeId: 'r1' }).then(() => (answered = true));
    await Promise.resolve();
    expect(supervisor.refreshed).toEqual(['r1']);
    expect(answered).toBe(false);
    supervisor.finish('r1');
    await emitted;
    expect(answered).toBe(true);
  });

  it('a connection change refreshes every route using it, and waits for all of them', async () => {
    const events = new RouteEventBus();
    const supervisor = fakeSupervisor();
    followRouteEvents(events, supervisor);
    let answered = false;
    const emitted = events
      .emit('connection.changed', { name: 'c', routeIds: ['a', 'b'] })
      .then(() => (answered = true));
    await Promise.resolve();
    expect(supervisor.refreshed).toEqual(['a', 'b']);
    supervisor.finish('a');
    await Promise.resolve();
    expect(answered).toBe(false);
    supervisor.finish('b');
    await emitted;
    expect(answered).toBe(true);
  });

  it('waits for a slow start only so long: the route keeps starting in the background', async () => {
    jest.useFakeTimers();
    const events = new RouteEventBus();
    const supervisor = fakeSupervisor();
    followRouteEvents(events, supervisor, 3000);
    const emitted = events.emit('route.changed', { routeId: 'slow' });
    await jest.advanceTimersByTimeAsync(3000);
    await expect(emitted).resolves.toBeUndefined();
  });

  it('a refresh that fails is counted by the bus and does not fail the request', async () => {
    const errors: string[] = [];
    const events = new RouteEventBus({ error: (m) => errors.push(m) });
    followRouteEvents(events, { refresh: () => Promise.reject(new Error('no broker')) });
    await expect(events.emit('route.changed', { routeId: 'r1' })).resolves.toBeUndefined();
    expect(events.failures).toBe(1);
    expect(errors).toEqual(['runtime failed on route.changed: no broker']);
  });

  it('stops following when asked (at shutdown)', async () => {
    const events = new RouteEventBus();
    const supervisor = fakeSupervisor();
    const unfollow = followRouteEvents(events, supervisor);
    unfollow();
    await events.emit('route.changed', { routeId: 'r1' });
    expect(supervisor.refreshed).toEqual([]);
  });
});
