import { Writable } from 'node:stream';
import { ConfigError } from '@junction/common';
import {
  createPinoLogger,
  logSettings,
  PinoLoggerService,
  redactLogText,
  requestIdFrom,
  runInRequestContext,
  setTraceId,
  type LogSettings,
} from '.';

/** A logger writing JSON lines into memory, and the lines it wrote, parsed. */
function memoryLogger(level: LogSettings['level'] = 'trace') {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const pino = createPinoLogger({ level, format: 'json', color: false }, stream);
  const service = new PinoLoggerService(pino);
  const raw = () => chunks.join('');
  const lines = () =>
    raw()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { pino, service, raw, lines };
}

/** Luhn check digit appended to `body` (digits). */
function withLuhn(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const digits = `${body}${d}`;
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let n = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) {
        n *= 2;
        if (n > 9) n -= 9;
      }
      sum += n;
    }
    if (sum % 10 === 0) return digits;
  }
  throw new Error('unreachable');
}

/** Seeded card numbers of several brands and lengths (13-19 digits), deterministic. */
function cardNumbers(count: number): string[] {
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const prefixes = ['4', '51', '55', '2221', '34', '37', '6011', '65', '3528'];
  const lengths = [13, 15, 16, 16, 16, 19];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const prefix = prefixes[next() % prefixes.length];
    const length = prefix === '4' ? lengths[next() % lengths.length] : 16;
    let body = prefix;
    while (body.length < length - 1) body += String(next() % 10);
    out.push(withLuhn(body));
  }
  return out;
}

/** The ways a person or a system writes one card number. */
function spellings(pan: string): string[] {
  const groups = pan.match(/.{1,4}/g)!;
  return [pan, groups.join(' '), groups.join('-'), `card:${pan};`, `x${pan}y`.slice(1, -1)];
}

describe('log settings', () => {
  it('reads LOG_LEVEL, then JUNCTION_LOG (its older name), in any case, with Nest names too', () => {
    expect(logSettings({ LOG_LEVEL: 'debug' }, false).level).toBe('debug');
    expect(logSettings({ JUNCTION_LOG: 'silent' }, false).level).toBe('silent');
    expect(logSettings({ LOG_LEVEL: 'WARN', JUNCTION_LOG: 'silent' }, false).level).toBe('warn');
    expect(logSettings({ LOG_LEVEL: '', JUNCTION_LOG: 'error' }, false).level).toBe('error');
    expect(logSettings({ LOG_LEVEL: 'log' }, false).level).toBe('info');
    expect(logSettings({ LOG_LEVEL: 'verbose' }, false).level).toBe('trace');
    expect(logSettings({}, false).level).toBe('info');
  });

  it('JSON lines off a terminal, pretty on one; colour only on a terminal without NO_COLOR', () => {
    expect(logSettings({}, false)).toEqual({ level: 'info', format: 'json', color: false });
    expect(logSettings({}, true)).toEqual({ level: 'info', format: 'pretty', color: true });
    expect(logSettings({ NO_COLOR: '1' }, true).color).toBe(false);
    expect(logSettings({ NO_COLOR: '' }, true).color).toBe(true);
    expect(logSettings({ LOG_FORMAT: 'json' }, true).format).toBe('json');
    expect(logSettings({ LOG_FORMAT: 'pretty' }, false)).toEqual({
      level: 'info',
      format: 'pretty',
      color: false,
    });
  });

  it('refuses a bad value naming the variable', () => {
    expect(() => logSettings({ LOG_LEVEL: 'loud' }, false)).toThrow(ConfigError);
    expect(() => logSettings({ LOG_LEVEL: 'loud' }, false)).toThrow(/LOG_LEVEL must be one of/);
    expect(() => logSettings({ JUNCTION_LOG: 'quiet' }, false)).toThrow(/JUNCTION_LOG/);
    expect(() => logSettings({ LOG_FORMAT: 'xml' }, false)).toThrow(/LOG_FORMAT must be json/);
  });
});

describe('log lines', () => {
  it('are JSON lines with the level by name, ISO time, pid, the message and its fields', () => {
    const { service, lines } = memoryLogger('info');
    service.warn({ msg: 'route r1: message m1 dead-lettered', route: 'r1', n: 2 }, 'Runtime');
    service.log('plain text', 'Junction');
    service.debug('not at info', 'Junction');
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 'warn',
        pid: process.pid,
        msg: 'route r1: message m1 dead-lettered',
        route: 'r1',
        n: 2,
        context: 'Runtime',
      }),
      expect.objectContaining({ level: 'info', msg: 'plain text', context: 'Junction' }),
    ]);
    expect(Date.parse(lines()[0].time as string)).not.toBeNaN();
  });

  it("puts Nest's start-up chatter at debug", () => {
    const { service, lines } = memoryLogger('info');
    service.log('AppModule dependencies initialized', 'InstanceLoader');
    service.log('Mapped {/api/v1/routes, GET} route', 'RouterExplorer');
    service.log('Starting Nest application...', 'NestFactory');
    expect(lines()).toEqual([]);
    const debug = memoryLogger('debug');
    debug.service.log('Mapped {/api/v1/routes, GET} route', 'RouterExplorer');
    expect(debug.lines()).toEqual([expect.objectContaining({ level: 'debug' })]);
  });

  it('keeps an error and its stack, as Nest passes them', () => {
    const { service, lines } = memoryLogger();
    const err = new Error('boom');
    service.error('it failed', err.stack, 'Runtime');
    service.error(err);
    const [first, second] = lines();
    expect(first).toMatchObject({ level: 'error', msg: 'it failed', context: 'Runtime' });
    expect(first.stack).toMatch(/Error: boom\n\s+at /);
    expect(second).toMatchObject({ msg: 'boom', err: { type: 'Error', message: 'boom' } });
  });

  it('never carries a card number, in the message, a field, a key, a number, an error or a stack', () => {
    const pans = cardNumbers(40);
    const { service, pino, raw, lines } = memoryLogger();
    for (const [i, pan] of pans.entries()) {
      for (const text of spellings(pan)) {
        service.log(`card ${text} refused`, 'Test');
        service.warn({ msg: 'fields', card: text, nested: { list: [text, { deep: text }] } });
        service.log({ msg: 'key', [text]: 1 });
        pino.info({ direct: text }, `direct ${text}`);
        // Stacks are slow to make under jest's source maps: a few cards are enough for them.
        if (i < 6) {
          service.error(`failed: ${text}`, new Error(`bad ${text}`).stack, 'Test');
          service.error(new Error(`cause ${text}`, { cause: new Error(text) }));
        }
      }
      service.log({ msg: 'number', amount: Number(pan) });
    }
    const out = raw();
    for (const pan of pans) {
      for (const text of spellings(pan)) expect(out).not.toContain(text);
      // Whatever separators were used, the digits never stand together.
      expect(out.replace(/[^0-9]/g, ' ')).not.toContain(pan);
    }
    expect(lines().length).toBeGreaterThan(pans.length * 5);
    expect(out).toContain('[PAN REDACTED]');
  });

  it('keeps numbers and texts that are no card numbers as they are', () => {
    const { service, lines } = memoryLogger();
    service.log({ msg: 'order 12345 of 2026-12-04', total: 1234567890123, id: 42, ok: true });
    expect(lines()[0]).toMatchObject({
      msg: 'order 12345 of 2026-12-04',
      total: 1234567890123,
      id: 42,
      ok: true,
    });
  });

  it('hides a password in a URL', () => {
    expect(redactLogText('connect amqp://user:s3cret@rabbit:5672/ failed')).toBe(
      'connect amqp://user:***@rabbit:5672/ failed',
    );
    expect(redactLogText('postgres://app:p%40ss@db/x')).toBe('postgres://app:***@db/x');
  });

  it('carries the request id, and the trace id once tracing sets it, on every line of a request', async () => {
    const { service, lines } = memoryLogger();
    service.log('outside');
    await runInRequestContext({ requestId: 'req-1' }, async () => {
      service.log('first');
      await new Promise((resolve) => setImmediate(resolve));
      setTraceId('trace-9');
      service.log('after a wait');
    });
    expect(lines().map((l) => [l.msg, l.reqId, l.traceId])).toEqual([
      ['outside', undefined, undefined],
      ['first', 'req-1', undefined],
      ['after a wait', 'req-1', 'trace-9'],
    ]);
  });

  it('never writes a trace id whose hex digits spell a card number', async () => {
    const { service, raw, lines } = memoryLogger();
    await runInRequestContext({ requestId: 'req-2' }, async () => {
      setTraceId('4111111111111111aaaaaaaaaaaaaaaa');
      service.log('traced');
    });
    expect(lines()[0].traceId).toBeUndefined();
    expect(raw()).not.toContain('4111111111111111');
  });

  it("takes the caller's request id only when it is a plain token without a card number", () => {
    expect(requestIdFrom('abc-123.X:y_z')).toBe('abc-123.X:y_z');
    expect(requestIdFrom(['first', 'second'])).toBe('first');
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    for (const bad of [undefined, '', 'a b', 'x'.repeat(65), 'line\nbreak', '{"json":1}'])
      expect(requestIdFrom(bad)).toMatch(uuid);
    for (const pan of cardNumbers(10)) expect(requestIdFrom(pan)).toMatch(uuid);
  });
});
