import ipaddr from 'ipaddr.js';

/**
 * Where the gateway may open a connection, for every protocol (AMQP, Kafka, HTTP): one policy,
 * checked on the name a connection gives before anything is sent, and again on the address a
 * socket is about to connect to (so a name that resolves somewhere else, now or later, gains
 * nothing).
 *
 * - Cloud metadata and link-local addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254,
 *   fd00:ec2::23,
 *   100.100.100.200, 168.63.129.16, 192.0.0.192, metadata.google.internal, ... and the same
 *   addresses inside IPv6 forms (mapped, translated, NAT64, 6to4, Teredo) or
 *   spelled in decimal, octal or hex) are refused in every mode unless an entry names them
 *   explicitly: an exact host entry, or an address or range inside the special range.
 * - Permissive (the default): anything else may be reached; the connection names its target.
 * - Strict: only what an entry lists.
 *
 * Entries: `erp.example.com` (any port), `erp.example.com:8443`, `*.example.com` (subdomains,
 * not the apex), `10.1.2.3`, `10.1.2.3:5672`, `[::1]`, `[::1]:9092`, `10.0.0.0/8`, `fd00::/8`.
 * Addresses in entries may use any spelling; they are compared as addresses.
 */
export interface EgressPolicyOptions {
  /** True: only what the entries list. False (default): anything but metadata and link-local. */
  strict?: boolean;
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

interface HostEntry {
  kind: 'host';
  host: string;
  port?: number;
}
interface SuffixEntry {
  kind: 'suffix';
  suffix: string;
  port?: number;
}
interface RangeEntry {
  kind: 'range';
  range: [Address, number];
  port?: number;
}
type Entry = HostEntry | SuffixEntry | RangeEntry;

/** Names of cloud metadata services, refused like their addresses. */
export const METADATA_HOSTS: readonly string[] = [
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
  'metadata.tencentyun.com',
  'metadata.packet.net',
];

/** Ranges refused unless listed explicitly, with what to call them in a refusal. */
const SPECIAL_RANGES: ReadonlyArray<{ range: [Address, number]; label: string }> = [
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['100.100.100.200/32', 'cloud metadata'],
  // Azure's WireServer (the VM agent's and platform DNS's endpoint) and Oracle Cloud's legacy
  // metadata address.
  ['168.63.129.16/32', 'cloud platform service'],
  ['192.0.0.192/32', 'cloud metadata'],
  ['fe80::/10', 'link-local'],
  ['fd00:ec2::254/128', 'cloud metadata'],
  // EKS Pod Identity's credential agent over IPv6 (169.254.170.23 over IPv4, in the /16 above).
  ['fd00:ec2::23/128', 'cloud metadata'],
].map(([cidr, label]) => ({ range: ipaddr.parseCIDR(cidr), label }));

/**
 * The IPv4 addresses an IPv6 one carries (mapped, translated, compatible, NAT64 well-known and
 * local-use, 6to4, both ends of Teredo), each of which may reach a special range.
 */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4[] {
  if (address.isIPv4MappedAddress()) return [address.toIPv4Address()];
  const parts = address.parts;
  const v4 = (high: number, low: number): ipaddr.IPv4 =>
    new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  const zero = (from: number, to: number) => parts.slice(from, to).every((p) => p === 0);
  // ::a.b.c.d (deprecated compatible form; not :: or ::1).
  if (zero(0, 6) && (parts[6] !== 0 || parts[7] > 1)) return [v4(parts[6], parts[7])];
  // ::ffff:0:a.b.c.d (IPv4-translated, SIIT).
  if (zero(0, 4) && parts[4] === 0xffff && parts[5] === 0) return [v4(parts[6], parts[7])];
  // 64:ff9b::a.b.c.d (NAT64) and 64:ff9b:1::/48 (local-use NAT64, the address in the last 32 bits).
  if (parts[0] === 0x64 && parts[1] === 0xff9b && (zero(2, 6) || parts[2] === 1))
    return [v4(parts[6], parts[7])];
  // 2002:AABB:CCDD::/48 (6to4) carries AA.BB.CC.DD.
  if (parts[0] === 0x2002) return [v4(parts[1], parts[2])];
  // 2001:0::/32 (Teredo): the server's address, then the client's, its bits inverted.
  if (parts[0] === 0x2001 && parts[1] === 0)
    return [v4(parts[2], parts[3]), v4(~parts[6] & 0xffff, ~parts[7] & 0xffff)];
  return [];
}

/**
 * Parses an address in any spelling the system resolver would accept (`2852039166`,
 * `0251.0376.0251.0376`, `0xa9.0xfe.0xa9.0xfe`, `[::ffff:a9fe:a9fe]`, `fe80::1%eth0`), or
 * undefined for a name. IPv4-mapped IPv6 becomes the IPv4 it maps.
 */
export function parseAddress(text: string): Address | undefined {
  const bare = text
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.+$/, '');
  if (!ipaddr.isValid(bare)) return undefined;
  const address = ipaddr.parse(bare);
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.+$/, '');
}

function inRange(address: Address, [network, bits]: [Address, number]): boolean {
  return address.kind() === network.kind() && address.match(network, bits);
}

/** Why an address is special (metadata, link-local), or undefined. */
function specialLabel(address: Address): { label: string; range: [Address, number] } | undefined {
  const candidates: Address[] = [address];
  if (address.kind() === 'ipv6') {
    candidates.push(...embeddedIPv4(address as ipaddr.IPv6));
  }
  for (const candidate of candidates)
    for (const special of SPECIAL_RANGES) if (inRange(candidate, special.range)) return special;
  return undefined;
}

/** An entry that cannot be understood: the message says which and why. */
export class EgressEntryError extends Error {
  override readonly name = 'EgressEntryError';
}

const HOST_LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;

function parsePort(text: string, entry: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535)
    throw new EgressEntryError(`'${entry}': port must be 1-65535`);
  return port;
}

/** One allow entry, parsed; throws EgressEntryError naming the entry. */
export function parseEgressEntry(raw: string): Entry {
  const entry = raw.trim().toLowerCase();
  if (!entry) throw new EgressEntryError('an entry is empty');
  if (entry.includes('/')) {
    const [network, bits] = entry.split('/');
    const address = parseAddress(network);
    if (!address || !/^\d+$/.test(bits ?? ''))
      throw new EgressEntryError(`'${raw}' is not a CIDR range (such as 10.0.0.0/8 or fd00::/8)`);
    const prefix = Number(bits);
    const max = address.kind() === 'ipv4' ? 32 : 128;
    if (prefix > max) throw new EgressEntryError(`'${raw}': prefix must be at most ${max}`);
    return { kind: 'range', range: [address, prefix] };
  }
  let host = entry;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d*))?$/.exec(entry);
  if (bracketed) {
    host = bracketed[1];
    if (bracketed[2] !== undefined) port = parsePort(bracketed[2], raw);
  } else if ((entry.match(/:/g) ?? []).length === 1) {
    const at = entry.lastIndexOf(':');
    host = entry.slice(0, at);
    port = parsePort(entry.slice(at + 1), raw);
  }
  const address = parseAddress(host);
  if (address) {
    return {
      kind: 'range',
      range: [address, address.kind() === 'ipv4' ? 32 : 128],
      ...(port ? { port } : {}),
    };
  }
  if (bracketed) throw new EgressEntryError(`'${raw}' is not an IPv6 address`);
  const name = host.replace(/\.+$/, '');
  const wildcard = name.startsWith('*.');
  const labels = (wildcard ? name.slice(2) : name).split('.');
  if (!labels.every((l) => HOST_LABEL.test(l)) || labels.length === 0)
    throw new EgressEntryError(
      `'${raw}' is not a host, host:port, *.domain, address or CIDR range`,
    );
  return wildcard
    ? { kind: 'suffix', suffix: name.slice(1), ...(port ? { port } : {}) }
    : { kind: 'host', host: name, ...(port ? { port } : {}) };
}

export class EgressPolicy {
  readonly strict: boolean;
  private readonly entries: Entry[];

  /** Throws EgressEntryError for an entry that cannot be understood. */
  constructor(entries: readonly string[] = [], options: EgressPolicyOptions = {}) {
    this.strict = options.strict ?? false;
    this.entries = entries.filter((e) => e.trim() !== '').map(parseEgressEntry);
  }

  /** The default: permissive, metadata and link-local refused. */
  static permissive(): EgressPolicy {
    return new EgressPolicy([], { strict: false });
  }

  /**
   * Before any name is resolved: a refusal (text for an error), or undefined when the target may
   * be connected to as far as its name tells (its addresses are checked when connecting).
   */
  refusesName(host: string, port: number): string | undefined {
    const address = parseAddress(host);
    if (address) return this.refusesAddress(host, address.toString(), port);
    const name = normalizeHost(host);
    if (METADATA_HOSTS.includes(name) && !this.hostListed(name, port, true))
      return `${name} is a cloud metadata service; egress there is refused unless listed explicitly`;
    if (!this.strict || this.hostListed(name, port, false)) return undefined;
    // An address entry may still match what the name resolves to.
    if (this.entries.some((e) => e.kind === 'range' && (e.port === undefined || e.port === port)))
      return undefined;
    return this.notListed(name, port);
  }

  /**
   * At connect time, for each address the socket may connect to: a refusal, or undefined.
   * `host` is the name the connection gives (an exact host entry for it allows its addresses).
   */
  refusesAddress(host: string, addressText: string, port: number): string | undefined {
    const address = parseAddress(addressText);
    if (!address) return `${addressText} is not an address`;
    const name = normalizeHost(host);
    const nameIsAddress = parseAddress(host) !== undefined;
    const namedExactly = !nameIsAddress && this.hostListed(name, port, true);
    const special = specialLabel(address);
    const shown = nameIsAddress ? address.toString() : `${name} (${address.toString()})`;
    if (special && !namedExactly && !this.rangeListed(address, port, special.range))
      return `${shown} is a ${special.label} address; egress there is refused unless listed explicitly`;
    if (!this.strict) return undefined;
    if ((!nameIsAddress && this.hostListed(name, port, false)) || this.rangeListed(address, port))
      return undefined;
    return this.notListed(shown, port);
  }

  private notListed(what: string, port: number): string {
    return `${what} port ${port} is not on the allowlist (JUNCTION_EGRESS_ALLOW)`;
  }

  private hostListed(name: string, port: number, exactOnly: boolean): boolean {
    return this.entries.some(
      (e) =>
        (e.port === undefined || e.port === port) &&
        ((e.kind === 'host' && e.host === name) ||
          (!exactOnly &&
            e.kind === 'suffix' &&
            name.endsWith(e.suffix) &&
            name.length > e.suffix.length)),
    );
  }

  /**
   * Whether an address entry covers the address; with `within`, only entries that lie inside that
   * special range count (a broad 0.0.0.0/0 does not list the metadata service).
   */
  private rangeListed(address: Address, port: number, within?: [Address, number]): boolean {
    return this.entries.some(
      (e) =>
        e.kind === 'range' &&
        (e.port === undefined || e.port === port) &&
        inRange(address, e.range) &&
        (!within || (e.range[1] >= within[1] && inRange(e.range[0], within))),
    );
  }
}
