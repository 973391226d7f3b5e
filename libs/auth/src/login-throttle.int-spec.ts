import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Logger } from '@nestjs/common';
import { JunctionError } from '@junction/common';
import { createTestDatabase, TestDatabase } from '@junction/database';
import { MIGRATIONS } from '../../../migrations';
import type { AuthEvent, AuthOptions, LoginThrottleSettings } from './auth.options';
import { LoginThrottleRepository } from './login-throttle.repository';
import { LoginThrottleService } from './login-throttle.service';

/**
 * The sign-in counters on real Postgres with a clock the test moves: windows, lockouts and their
 * doubling to the millisecond, two services (two gateway processes) sharing one table, and a
 * burst of parallel attempts counted exactly.
 */
const SETTINGS: LoginThrottleSettings = {
  windowSeconds: 60,
  sourceFailures: 5,
  accountFailures: 3,
  lockoutSeconds: 10,
  maxLockoutSeconds: 35,
};

let db: TestDatabase;
let ds: DataSource;
let now = Date.UTC(2026, 0, 1);
const events: AuthEvent[] = [];

function service(settings: LoginThrottleSettings = SETTINGS): LoginThrottleService {
  const options = { loginThrottle: settings, clock: () => now } as AuthOptions;
  return new LoginThrottleService(new LoginThrottleRepository(ds), options, {
    record: (e) => {
      events.push(e);
    },
  });
}

/** The Retry-After of a refusal, or 'admitted'. */
async function admit(s: LoginThrottleService, ip: string, user?: string): Promise<number | string> {
  try {
    await s.admit(ip, 'local', user);
    return 'admitted';
  } catch (err) {
    if (err instanceof JunctionError && err.code === 'RATE_LIMITED') return err.retryAfterSeconds!;
    throw err;
  }
}

const ip = () => `10.${randomBytes(3).join('.')}`;
const user = () => `user-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  db = await createTestDatabase('throttle');
  ds = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS });
  await ds.initialize();
  await ds.runMigrations();
}, 60_000);

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

describe('per source address', () => {
  it('admits sourceFailures failed attempts per window, whatever the names, over two processes', async () => {
    const [a, b] = [service(), service()];
    const from = ip();
    for (let i = 0; i < 5; i++) {
      expect(await admit(i % 2 ? a : b, from, user())).toBe('admitted');
      await (i % 2 ? a : b).failed('local', user(), from);
    }
    now += 15_000;
    expect(await admit(a, from, user())).toBe(45); // until the window that began 15 s ago ends
    expect(await admit(b, from)).toBe(45);
    expect(await admit(a, ip(), user())).toBe('admitted'); // another address
    now += 45_000;
    expect(await admit(b, from, user())).toBe('admitted'); // a new window
  });

  it('counts an IPv6 address with its whole /64, and an IPv4-mapped one with its IPv4', async () => {
    const s = service();
    const [third, fourth] = [randomBytes(2).readUInt16BE(), randomBytes(2).readUInt16BE()];
    const net = `2001:db8:${third.toString(16)}:${fourth.toString(16)}`;
    const nextNet = `2001:db8:${third.toString(16)}:${(fourth ^ 1).toString(16)}`;
    // Each attempt from another address of the network, as a host holding it can send.
    for (let i = 1; i <= 5; i++) {
      const from = `${net}:${randomBytes(2).toString('hex')}::${i}`;
      expect(await admit(s, from, user())).toBe('admitted');
      await s.failed('local', user(), from);
    }
    expect(await admit(s, `${net}::beef`, user())).toBe(60);
    expect(await admit(s, `${nextNet}::1`, user())).toBe('admitted');

    const v4 = ip();
    for (let i = 0; i < 5; i++) await admit(s, i % 2 ? v4 : `::ffff:${v4}`, user());
    expect(await admit(s, v4)).toBe(60);
    expect(await admit(s, `::ffff:${v4}`)).toBe(60);
    now += 60_000;
  });

  it('records one event per address and window as it is first held back, over two processes', async () => {
    const [a, b] = [service(), service()];
    const from = ip();
    const windowStart = now;
    for (let i = 0; i < 5; i++) {
      await admit(a, from, user());
      await a.failed('local', undefined, from);
    }
    const held = () => events.filter((e) => e.type === 'login.throttled' && e.ip === from);
    expect(held()).toEqual([]);
    for (let i = 0; i < 4; i++) expect(await admit(i % 2 ? a : b, from, user())).toBe(60);
    expect(held()).toEqual([
      {
        type: 'login.throttled',
        actor: '(anonymous)',
        provider: 'local',
        ip: from,
        until: new Date(windowStart + 60_000).toISOString(),
        failures: 5,
      },
    ]);
    now += 60_000;
    for (let i = 0; i < 6; i++) await admit(b, from, user());
    expect(held()).toHaveLength(2);
  });

  it('holds an address back even when its event cannot be written', async () => {
    const options = { loginThrottle: SETTINGS, clock: () => now } as AuthOptions;
    const s = new LoginThrottleService(new LoginThrottleRepository(ds), options, {
      record: () => Promise.reject(new Error('the audit database is away')),
    });
    // The failure is logged as a warning (kept out of the test's output, and checked).
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const from = ip();
      for (let i = 0; i < 5; i++) {
        await admit(s, from, user());
        await s.failed('local', undefined, from);
      }
      expect(await admit(s, from, user())).toBe(60); // a 429, not the event's failure
      expect(warn).toHaveBeenCalledWith(
        expect.stringContaining('could not record login.throttled: the audit database is away'),
      );
    } finally {
      warn.mockRestore();
    }
    now += 60_000;
  });

  it('gives a successful attempt back, and counts a parallel burst exactly', async () => {
    const s = service();
    const from = ip();
    for (let i = 0; i < 20; i++) {
      expect(await admit(s, from, 'someone')).toBe('admitted');
      await s.succeeded(from, 'local', 'someone');
    }
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) => admit(i % 2 ? s : service(), from, user())),
    );
    expect(burst.filter((r) => r === 'admitted')).toHaveLength(5);
  });
});

describe('per account', () => {
  it('locks after accountFailures in a row, for its look-alikes too, and doubles each lockout up to the maximum', async () => {
    const [a, b] = [service(), service()];
    const name = `victim${randomBytes(2).toString('hex').replace(/\d/g, 'x')}`;
    const locks: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3; i++) {
        expect(await admit(a, ip(), name)).toBe('admitted');
        await (i % 2 ? a : b).failed('local', name, '127.0.0.1');
      }
      locks.push((await admit(b, ip(), name)) as number);
      expect(await admit(a, ip(), name.toUpperCase())).toBe(locks[round]);
      expect(await admit(a, ip(), name.replace(/e/g, '\u0435'))).toBe(locks[round]);
      expect(await admit(a, ip(), user())).toBe('admitted');
      now += locks[round] * 1000 - 1;
      expect(await admit(a, ip(), name)).toBe(1);
      now += 1;
    }
    expect(locks).toEqual([10, 20, 35, 35]);
    expect(events.filter((e) => e.type === 'account.locked' && e.actor === name)).toHaveLength(4);
  });

  it('a success clears the count and the backoff; failures further apart than the window do not add up', async () => {
    const s = service();
    const name = user();
    for (let i = 0; i < 2; i++) await s.failed('local', name);
    await s.succeeded('10.0.0.1', 'local', name);
    for (let i = 0; i < 2; i++) await s.failed('local', name);
    expect(await admit(s, ip(), name)).toBe('admitted');
    now += 61_000;
    await s.failed('local', name);
    expect(await admit(s, ip(), name)).toBe('admitted');
    await s.failed('local', name);
    await s.failed('local', name);
    expect(await admit(s, ip(), name)).toBe(10); // the first lockout again
  });

  it("counts a directory's spellings of one name, with spaces around or doubled, against it", async () => {
    const s = service();
    const name = user();
    for (let i = 0; i < 3; i++) await s.failed('ldap', name);
    const [h, t] = [name.slice(0, 2), name.slice(2)];
    for (const spelling of [
      ` ${name}`,
      `${name} `,
      `${name}\u00a0`,
      `\u3000${name}  `,
      `${name}\t`,
      `${h}\u200b${t}`,
      `${h}\u00ad${t}`,
      `${name}\u2060`,
      `${h}\u0001${t}`,
      `\ufeff${name}`,
    ])
      await expect(s.admit(ip(), 'ldap', spelling)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    const [head, tail] = [name.slice(0, 4), name.slice(4)];
    for (let i = 0; i < 3; i++) await s.failed('ldap', `${head}  ${tail}`);
    await expect(s.admit(ip(), 'ldap', `${head} ${tail}`)).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
  });

  it('keeps providers apart and survives names Postgres text cannot hold', async () => {
    const s = service();
    const name = `odd\u0000${user()}\ud800`;
    for (let i = 0; i < 3; i++) await s.failed('local', name);
    expect(await admit(s, ip(), name)).toBe(10);
    await expect(s.admit(ip(), 'ldap', name)).resolves.toBeUndefined();
  });
});
