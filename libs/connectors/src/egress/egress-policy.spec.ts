import { lookup } from 'node:dns/promises';
import { EgressEntryError, EgressPolicy, parseAddress, parseEgressEntry } from './egress-policy';
import { egressLookup } from './egress-socket';

/** A deterministic generator, so that a failure names a case that can be run again. */
function* numbers(seed: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

const hex = (n: number) => n.toString(16);
const oct = (n: number) => `0${n.toString(8)}`;

/** Every spelling of one IPv4 address that a resolver or URL parser may accept. */
function spellings([a, b, c, d]: number[]): string[] {
  const long = ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
  const hi = hex((a << 8) | b);
  const lo = hex((c << 8) | d);
  return [
    `${a}.${b}.${c}.${d}`,
    `${long}`,
    `0x${hex(long)}`,
    `0X${hex(long).toUpperCase()}`,
    `0${long.toString(8)}`,
    [a, b, c, d].map(oct).join('.'),
    [a, b, c, d].map((n) => `0x${hex(n)}`).join('.'),
    `${oct(a)}.0x${hex(b)}.${c}.${oct(d)}`,
    `${a}.${b}.${(c << 8) | d}`,
    `${a}.${(b << 16) | (c << 8) | d}`,
    `${a}.${b}.${c}.${d}.`,
    `::ffff:${a}.${b}.${c}.${d}`,
    `::FFFF:${hi}:${lo}`,
    `0:0:0:0:0:ffff:${hi}:${lo}`,
    `[::ffff:${a}.${b}.${c}.${d}]`,
    `0000:0000:0000:0000:0000:ffff:${a}.${b}.${c}.${d}`,
  ];
}

/** The same address embedded in IPv6 forms that are not mapped (compatible, NAT64, 6to4). */
function embedded([a, b, c, d]: number[]): string[] {
  const hi = hex((a << 8) | b);
  const lo = hex((c << 8) | d);
  // Teredo carries the client's address with its bits inverted.
  const inverted = (x: number) => hex(~x & 0xffff);
  return [
    `::${a}.${b}.${c}.${d}`,
    `::ffff:0:${hi}:${lo}`,
    `::ffff:0:${a}.${b}.${c}.${d}`,
    `64:ff9b::${hi}:${lo}`,
    `64:ff9b:1::${hi}:${lo}`,
    `64:ff9b:1:abcd::${hi}:${lo}`,
    `2002:${hi}:${lo}::1`,
    `2001:0:${hi}:${lo}::1`,
    `2001::8000:ffff:${inverted((a << 8) | b)}:${inverted((c << 8) | d)}`,
  ];
}

function randomIn(gen: Generator<number>, prefix: number[]): number[] {
  return [0, 1, 2, 3].map((i) => prefix[i] ?? gen.next().value % 256);
}

const permissive = EgressPolicy.permissive();

describe('egress policy: metadata and link-local', () => {
  const gen = numbers(20261204);
  const linkLocal = [
    [169, 254, 169, 254],
    [169, 254, 170, 2],
    [169, 254, 170, 23],
    [169, 254, 0, 1],
    ...Array.from({ length: 20 }, () => randomIn(gen, [169, 254])),
    [100, 100, 100, 200],
    [168, 63, 129, 16],
    [192, 0, 0, 192],
  ];

  it.each(linkLocal.map((a) => [a.join('.'), a]))(
    'refuses %s in every spelling, in the permissive default, by name and by address',
    (_shown, address) => {
      for (const spelling of [...spellings(address), ...embedded(address)]) {
        expect([spelling, permissive.refusesName(spelling, 80)]).toEqual([
          spelling,
          expect.stringMatching(/metadata|link-local|cloud platform service/),
        ]);
        // A name that resolved to it at connect time.
        expect(permissive.refusesAddress('shop.example', spelling, 443)).toMatch(
          /refused unless listed explicitly/,
        );
      }
    },
  );

  it.each([
    'fe80::1',
    'FE80::a9fe:a9fe',
    'fe80::1%eth0',
    '[fe80::1]',
    'febf:ffff::1',
    'fd00:ec2::254',
    'fd00:0ec2:0000:0000:0000:0000:0000:0254',
    'FD00:EC2::254',
    '[fd00:ec2::254]',
    'fd00:ec2::254%eth0',
    'fd00:ec2::23',
    'fd00:0ec2:0000:0000:0000:0000:0000:0023',
    'fd00:ec2:0:0:0:0:0:23',
    'FD00:EC2::23',
    '[fd00:ec2::23]',
    '[FD00:0EC2::0023]',
    'fd00:ec2::23%eth0',
    'fd00:ec2::23%25eth0',
    '::ffff:100.100.100.200',
  ])('refuses the IPv6 link-local or metadata address %s', (address) => {
    expect(permissive.refusesName(address, 80)).toMatch(/refused unless listed explicitly/);
    expect(permissive.refusesAddress('x.example', address, 80)).toBeDefined();
  });

  it.each([
    'metadata.google.internal',
    'METADATA.google.internal.',
    'metadata.goog',
    'instance-data.ec2.internal',
  ])('refuses the metadata name %s', (name) => {
    expect(permissive.refusesName(name, 80)).toMatch(/cloud metadata/);
  });

  it('allows them when listed explicitly, and not through a broad range', () => {
    const listed = new EgressPolicy([
      '169.254.169.254:80',
      'fe80::/10',
      'metadata.google.internal',
    ]);
    expect(listed.refusesName('2852039166', 80)).toBeUndefined();
    expect(listed.refusesName('169.254.169.254', 8080)).toBeDefined();
    expect(listed.refusesName('169.254.1.1', 80)).toBeDefined();
    expect(listed.refusesAddress('x', 'fe80::99', 1)).toBeUndefined();
    expect(listed.refusesName('metadata.google.internal', 80)).toBeUndefined();
    expect(
      listed.refusesAddress('metadata.google.internal', '169.254.169.254', 80),
    ).toBeUndefined();
    const broad = new EgressPolicy(['0.0.0.0/0', '::/0', '*.internal'], { strict: true });
    expect(broad.refusesName('169.254.169.254', 80)).toBeDefined();
    expect(broad.refusesName('::ffff:a9fe:a9fe', 80)).toBeDefined();
    expect(broad.refusesName('fe80::1', 80)).toBeDefined();
    expect(broad.refusesName('metadata.google.internal', 80)).toBeDefined();
    expect(broad.refusesAddress('x.internal', '169.254.169.254', 80)).toBeDefined();
    expect(broad.refusesName('10.1.2.3', 80)).toBeUndefined();
  });
});

describe('egress policy: permissive and strict', () => {
  const gen = numbers(7);
  const ordinary = Array.from({ length: 25 }, () => {
    for (;;) {
      const a = randomIn(gen, []);
      if (a[0] !== 169 && a[0] !== 100 && a[0] !== 0) return a;
    }
  });

  it('permissive: any other address, in any spelling, may be reached', () => {
    for (const address of ordinary)
      for (const spelling of spellings(address))
        expect([spelling, permissive.refusesName(spelling, 5672)]).toEqual([spelling, undefined]);
    expect(permissive.refusesName('rabbit.internal', 5672)).toBeUndefined();
    expect(permissive.refusesAddress('localhost', '127.0.0.1', 5672)).toBeUndefined();
  });

  it('strict: only listed addresses, ranges and ports, in any spelling', () => {
    for (const address of ordinary) {
      const exact = new EgressPolicy([address.join('.')], { strict: true });
      const withPort = new EgressPolicy([`${address.join('.')}:9092`], { strict: true });
      const range = new EgressPolicy([`${address[0]}.${address[1]}.0.0/16`], { strict: true });
      const other = [address[0], address[1], address[2], (address[3] + 1) % 256];
      for (const spelling of spellings(address)) {
        expect(exact.refusesName(spelling, 1)).toBeUndefined();
        expect(withPort.refusesName(spelling, 9092)).toBeUndefined();
        expect(withPort.refusesName(spelling, 9093)).toMatch(/not on the allowlist/);
        expect(range.refusesAddress('broker.example', spelling, 9092)).toBeUndefined();
      }
      for (const spelling of spellings(other))
        expect(exact.refusesName(spelling, 1)).toMatch(/not on the allowlist/);
    }
  });

  it('strict: names, host:port, wildcards and IPv6 entries', () => {
    const policy = new EgressPolicy(
      [
        'ERP.example.com',
        'api.example.com:8443',
        '*.partners.example',
        '[::1]',
        '[2001:db8::1]:9092',
      ],
      { strict: true },
    );
    const cases: Array<[string, number, boolean]> = [
      ['erp.example.com', 443, true],
      ['erp.example.com.', 8080, true],
      ['api.example.com', 8443, true],
      ['api.example.com', 443, false],
      ['shop.partners.example', 443, true],
      ['a.b.partners.example', 443, true],
      ['partners.example', 443, false],
      ['evilpartners.example', 443, false],
      ['::1', 3000, true],
      ['[0:0:0:0:0:0:0:1]', 3000, true],
      ['2001:db8::1', 9092, true],
      ['2001:db8::1', 9093, false],
      ['example.com', 443, false],
      ['127.0.0.1', 80, false],
    ];
    // Names are checked against name entries; with address entries present a name is decided
    // on what it resolves to (refusesAddress), so check names on a policy of names only.
    const names = new EgressPolicy(
      ['ERP.example.com', 'api.example.com:8443', '*.partners.example'],
      {
        strict: true,
      },
    );
    for (const [host, port, allowed] of cases)
      expect([
        host,
        port,
        (parseAddress(host) ? policy : names).refusesName(host, port) === undefined,
      ]).toEqual([host, port, allowed]);
  });

  it('strict: a listed name allows what it resolves to; an unlisted one only listed addresses', () => {
    const policy = new EgressPolicy(['rabbit.internal', '127.0.0.2'], { strict: true });
    expect(policy.refusesAddress('rabbit.internal', '10.9.9.9', 5672)).toBeUndefined();
    expect(policy.refusesAddress('rabbit.internal', '169.254.169.254', 5672)).toBeUndefined();
    expect(policy.refusesAddress('localhost', '127.0.0.1', 5672)).toMatch(/not on the allowlist/);
    expect(policy.refusesAddress('localhost', '127.0.0.2', 5672)).toBeUndefined();
    // The name alone cannot tell: an address entry may match what it resolves to.
    expect(policy.refusesName('localhost', 5672)).toBeUndefined();
    expect(
      new EgressPolicy(['rabbit.internal'], { strict: true }).refusesName('localhost', 1),
    ).toMatch(/not on the allowlist/);
  });

  it.each([
    '',
    'a b',
    'host:0',
    'host:65536',
    'host:x',
    '10.0.0.0/33',
    'x/8',
    '[nope]',
    'a..b',
    '-a.b',
  ])('refuses the entry %j', (entry) => {
    expect(() => new EgressPolicy([entry === '' ? ',' : entry])).toThrow(EgressEntryError);
  });

  it('parses entries in every form', () => {
    expect(parseEgressEntry('Kafka.internal:9092')).toEqual({
      kind: 'host',
      host: 'kafka.internal',
      port: 9092,
    });
    expect(parseEgressEntry('*.example.com')).toEqual({ kind: 'suffix', suffix: '.example.com' });
    expect(parseEgressEntry('0x7f000001:5672')).toMatchObject({ kind: 'range', port: 5672 });
    expect(parseEgressEntry('fd00::/8')).toMatchObject({ kind: 'range' });
  });
});

describe('egress policy agrees with the system resolver', () => {
  const gen = numbers(99);
  const addresses = [
    [169, 254, 169, 254],
    [127, 0, 0, 2],
    ...Array.from({ length: 6 }, () => randomIn(gen, [])),
  ];

  it('parses every spelling getaddrinfo accepts to the address it connects to', async () => {
    for (const address of addresses)
      for (const spelling of spellings(address).filter((s) => !s.startsWith('['))) {
        const resolved = await lookup(spelling).catch(() => undefined);
        if (!resolved) continue; // not an address to the resolver: a name, resolved and checked at connect time
        const ours = parseAddress(spelling);
        const theirs = parseAddress(resolved.address);
        expect([spelling, ours?.toString()]).toEqual([spelling, theirs?.toString()]);
      }
  });

  it('connect-time lookup drops refused addresses, and fails when none is left', async () => {
    const strict = new EgressPolicy(['127.0.0.2'], { strict: true });
    const resolve = (policy: EgressPolicy, host: string, all: boolean) =>
      new Promise<unknown>((done) =>
        egressLookup(policy, 5672)(host, { all }, (err, address) => done(err ?? address)),
      );
    await expect(resolve(strict, 'localhost', true)).resolves.toMatchObject({
      code: 'NOT_ALLOWED',
      message: expect.stringContaining('not on the allowlist'),
    });
    await expect(resolve(strict, '2852039166', false)).resolves.toMatchObject({
      code: 'NOT_ALLOWED',
      message: expect.stringContaining('link-local'),
    });
    await expect(
      resolve(new EgressPolicy(['127.0.0.1'], { strict: true }), 'localhost', true),
    ).resolves.toEqual(expect.arrayContaining([{ address: '127.0.0.1', family: 4 }]));
    await expect(resolve(permissive, '127.0.0.1', false)).resolves.toBe('127.0.0.1');
  });
});
