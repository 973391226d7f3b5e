/**
 * Distinguished names compared by meaning, not by spelling (RFC 4514). Directories write the
 * same DN in several ways: OpenLDAP answers `cn=Frank (Ops)\2C Jr,...` for an entry added as
 * `cn=Frank (Ops)\, Jr,...`, attribute types may be upper case or OIDs, and people type spaces
 * after commas. `normalizeDn` maps all of those to one string.
 *
 * Values are compared case-insensitively with insignificant spaces removed: the matching rule of
 * the attributes that name groups and people (cn, ou, dc, uid, o: caseIgnoreMatch). A directory
 * whose group DNs use a case-exact attribute would need exact matching, which we do not offer.
 */

export class DnSyntaxError extends Error {
  override readonly name = 'DnSyntaxError';
}

/** Common attribute types written as OIDs, so that `2.5.4.3=x` equals `cn=x`. */
const OID_NAMES: Record<string, string> = {
  '2.5.4.3': 'cn',
  '2.5.4.6': 'c',
  '2.5.4.7': 'l',
  '2.5.4.8': 'st',
  '2.5.4.9': 'street',
  '2.5.4.10': 'o',
  '2.5.4.11': 'ou',
  '0.9.2342.19200300.100.1.1': 'uid',
  '0.9.2342.19200300.100.1.25': 'dc',
};

export interface Ava {
  type: string;
  value: string;
}

const HEX = /^[0-9a-fA-F]{2}$/;

/** Parses a DN string (RFC 4514; `;` separators and quoted values of RFC 1779/2253 too). */
export function parseDn(dn: string): Ava[][] {
  const rdns: Ava[][] = [];
  if (dn.trim() === '') return rdns;
  let i = 0;
  let rdn: Ava[] = [];
  const fail = (why: string): never => {
    throw new DnSyntaxError(`not a distinguished name: ${why} at position ${i + 1}`);
  };
  while (i <= dn.length) {
    // attribute type
    while (dn[i] === ' ') i++;
    const typeStart = i;
    while (i < dn.length && dn[i] !== '=') i++;
    if (i >= dn.length) fail('an attribute type without "="');
    const rawType = dn.slice(typeStart, i).trim();
    if (!/^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)*)$/.test(rawType))
      fail(`a bad attribute type "${rawType}"`);
    let type = rawType.toLowerCase().replace(/^oid\./, '');
    type = OID_NAMES[type] ?? type;
    i++; // '='
    while (dn[i] === ' ') i++;
    // attribute value
    const bytes: number[] = [];
    let value: string;
    if (dn[i] === '#') {
      const start = i;
      i++;
      while (i < dn.length && /[0-9a-fA-F]/.test(dn[i])) i++;
      value = dn.slice(start, i).toLowerCase();
      if (value.length < 3 || value.length % 2 === 0) fail('a bad hex value');
    } else if (dn[i] === '"') {
      i++;
      while (i < dn.length && dn[i] !== '"') {
        if (dn[i] === '\\') i++;
        if (i >= dn.length) fail('an unterminated quoted value');
        const char = String.fromCodePoint(dn.codePointAt(i)!);
        bytes.push(...Buffer.from(char, 'utf8'));
        i += char.length;
      }
      if (dn[i] !== '"') fail('an unterminated quoted value');
      i++;
      value = Buffer.from(bytes).toString('utf8');
    } else {
      let trailingSpaces = 0;
      while (i < dn.length && dn[i] !== ',' && dn[i] !== '+' && dn[i] !== ';') {
        if (dn[i] === '\\') {
          const pair = dn.slice(i + 1, i + 3);
          if (HEX.test(pair)) {
            bytes.push(parseInt(pair, 16));
            i += 3;
          } else if (i + 1 < dn.length) {
            // RFC 4514 escapes only its special characters; other servers escape more.
            const escaped = String.fromCodePoint(dn.codePointAt(i + 1)!);
            bytes.push(...Buffer.from(escaped, 'utf8'));
            i += 1 + escaped.length;
          } else {
            fail('a backslash at the end');
          }
          trailingSpaces = 0;
          continue;
        }
        const char = String.fromCodePoint(dn.codePointAt(i)!);
        trailingSpaces = char === ' ' ? trailingSpaces + 1 : 0;
        bytes.push(...Buffer.from(char, 'utf8'));
        i += char.length;
      }
      // Unescaped trailing spaces are not part of the value.
      value = Buffer.from(bytes.slice(0, bytes.length - trailingSpaces)).toString('utf8');
    }
    while (dn[i] === ' ') i++;
    rdn.push({ type, value });
    if (i >= dn.length) {
      rdns.push(rdn);
      break;
    }
    const sep = dn[i];
    if (sep !== ',' && sep !== '+' && sep !== ';') fail(`an unexpected "${sep}"`);
    if (sep !== '+') {
      rdns.push(rdn);
      rdn = [];
    }
    i++;
    if (i >= dn.length) fail('a separator at the end');
  }
  return rdns;
}

function escapeValue(value: string): string {
  let out = value.replace(/[\\"+,;<=>]/g, (c) => `\\${c}`);
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function normalizeValue(value: string): string {
  if (value.startsWith('#')) return value.toLowerCase();
  return value.normalize('NFC').toLowerCase().trim().replace(/\s+/g, ' ');
}

/** One canonical spelling of a DN; equal results mean the same entry. Throws DnSyntaxError. */
export function normalizeDn(dn: string): string {
  return parseDn(dn)
    .map((rdn) =>
      rdn
        .map((ava) => `${ava.type}=${escapeValue(normalizeValue(ava.value))}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

/** Whether two DNs name the same entry (false if either is not a DN). */
export function sameDn(a: string, b: string): boolean {
  try {
    return normalizeDn(a) === normalizeDn(b);
  } catch {
    return false;
  }
}
