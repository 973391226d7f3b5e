import { EventBus } from './event-bus';

interface Events {
  'thing.changed': { id: string };
  'other.changed': { n: number };
}

/** A promise resolved from outside, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('EventBus', () => {
  it('runs the handlers of an event in registration order, one after the other', async () => {
    const bus = new EventBus<Events>();
    const seen: string[] = [];
    const first = gate();
    bus.on('thing.changed', async ({ id }) => {
      seen.push(`a-start:${id}`);
      await first.promise;
      seen.push(`a-end:${id}`);
    });
    bus.on('thing.changed', ({ id }) => void seen.push(`b:${id}`));
    bus.on('other.changed', () => void seen.push('other'));
    const emitted = bus.emit('thing.changed', { id: 'r1' });
    await Promise.resolve();
    expect(seen).toEqual(['a-start:r1']);
    first.open();
    await emitted;
    expect(seen).toEqual(['a-start:r1', 'a-end:r1', 'b:r1']);
  });

  it('resolves emit only once every handler has finished', async () => {
    const bus = new EventBus<Events>();
    const held = gate();
    let done = false;
    bus.on('thing.changed', async () => {
      await held.promise;
      done = true;
    });
    let resolved = false;
    const emitted = bus.emit('thing.changed', { id: 'r1' }).then(() => (resolved = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(resolved).toBe(false);
    held.open();
    await emitted;
    expect(done).toBe(true);
    expect(resolved).toBe(true);
  });

  it('logs and counts a failing handler, runs the next one, and does not fail the emitter', async () => {
    const errors: string[] = [];
    const bus = new EventBus<Events>({ error: (m) => errors.push(m) });
    const seen: string[] = [];
    bus.on('thing.changed', () => Promise.reject(new Error('broker down')), 'runtime');
    bus.on(
      'thing.changed',
      () => {
        throw new Error('sync failure');
      },
      'other',
    );
    bus.on('thing.changed', ({ id }) => void seen.push(id));
    await expect(bus.emit('thing.changed', { id: 'r1' })).resolves.toBeUndefined();
    expect(seen).toEqual(['r1']);
    expect(bus.failures).toBe(2);
    expect(errors).toEqual([
      'runtime failed on thing.changed: broker down',
      'other failed on thing.changed: sync failure',
    ]);
  });

  it('emits to no one when nothing listens, and stops calling an unregistered handler', async () => {
    const bus = new EventBus<Events>();
    await expect(bus.emit('other.changed', { n: 1 })).resolves.toBeUndefined();
    const seen: number[] = [];
    const off = bus.on('other.changed', ({ n }) => void seen.push(n));
    await bus.emit('other.changed', { n: 1 });
    off();
    await bus.emit('other.changed', { n: 2 });
    expect(seen).toEqual([1]);
  });
});
