import { EventEmitter } from 'node:events';
import { stopOnSignals, type ShutdownDeps } from './shutdown';

/** A process of the test's: signals it sends, a timer it fires, exits and lines it records. */
function harness(close: () => Promise<void>, pending: string[] = []) {
  const signals = new EventEmitter();
  const timers: Array<{ ms: number; fire: () => void }> = [];
  const exits: number[] = [];
  const lines: string[] = [];
  const deps: ShutdownDeps = {
    close,
    pending: () => pending,
    timeoutMs: 25_000,
    log: (m) => lines.push(`log: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
    exit: (code) => exits.push(code),
    signals,
    setTimer: (fire, ms) => timers.push({ ms, fire }),
  };
  stopOnSignals(deps);
  return { signals, timers, exits, lines };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('stopOnSignals', () => {
  it('a stop that finishes exits 0', async () => {
    const h = harness(() => Promise.resolve());
    h.signals.emit('SIGTERM');
    await flush();
    expect(h.exits).toEqual([0]);
    expect(h.lines).toEqual(['log: SIGTERM: shutting down (at most 25000 ms)']);
    expect(h.timers.map((t) => t.ms)).toEqual([25_000]);
  });

  it('a stop that does not finish in time exits 1, naming what it waited for', async () => {
    const h = harness(
      () => new Promise(() => undefined), // a destination that never answers
      ['route orders: 3 message(s) in flight'],
    );
    h.signals.emit('SIGTERM');
    await flush();
    expect(h.exits).toEqual([]);
    h.timers[0].fire();
    expect(h.exits).toEqual([1]);
    expect(h.lines[1]).toBe(
      'error: the stop did not finish within 25000 ms; exiting without finishing: route orders: 3 message(s) in flight (unacknowledged broker messages go back to their queues)',
    );
  });

  it('a second signal while stopping exits at once; a late end of the stop changes nothing', async () => {
    let finish!: () => void;
    const h = harness(() => new Promise<void>((resolve) => (finish = resolve)));
    h.signals.emit('SIGINT');
    h.signals.emit('SIGTERM');
    expect(h.exits).toEqual([1]);
    expect(h.lines[1]).toMatch(/^error: SIGTERM while stopping; exiting without finishing/);
    finish();
    h.timers[0].fire();
    await flush();
    expect(h.exits).toEqual([1]);
  });

  it('a stop that fails exits 1 with the reason', async () => {
    const h = harness(() => Promise.reject(new Error('audit flush failed')));
    h.signals.emit('SIGTERM');
    await flush();
    expect(h.exits).toEqual([1]);
    expect(h.lines[1]).toBe('error: shutdown failed: audit flush failed');
  });
});
