/**
 * Generated card numbers written the ways people and tools write them, and ordinary numbers
 * that are no card numbers: the detector's test corpus (pan-detector.spec.ts) and its measure
 * (bench/pan.bench.ts). Deterministic: a seeded PRNG.
 */

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)];
const int = (random: Random, min: number, max: number) =>
  min + Math.floor(random() * (max - min + 1));

/** Issuer prefixes and lengths (ISO/IEC 7812 as the brands publish them). */
const BRANDS: ReadonlyArray<{ name: string; prefixes: () => string; lengths: number[] }> = [
  { name: 'visa', prefixes: () => '4', lengths: [13, 16, 19] },
  { name: 'mastercard', prefixes: () => '51', lengths: [16] },
  { name: 'mastercard-2', prefixes: () => '2221', lengths: [16] },
  { name: 'amex', prefixes: () => '37', lengths: [15] },
  { name: 'discover', prefixes: () => '6011', lengths: [16, 19] },
  { name: 'jcb', prefixes: () => '3528', lengths: [16, 17, 18, 19] },
  { name: 'diners', prefixes: () => '36', lengths: [14] },
  { name: 'unionpay', prefixes: () => '62', lengths: [16, 17, 18, 19] },
  { name: 'maestro', prefixes: () => '6759', lengths: [13, 15, 18, 19] },
];

const MASTERCARD_PREFIXES = ['51', '52', '53', '54', '55', '2221', '2720', '2500'];

function luhnDigit(partial: string): string {
  let sum = 0;
  let double = true;
  for (let i = partial.length - 1; i >= 0; i--) {
    let d = partial.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return String((10 - (sum % 10)) % 10);
}

/** A Luhn-valid card number of a random brand and length. */
export function cardNumber(random: Random): { brand: string; digits: string } {
  const brand = pick(random, BRANDS);
  const prefix = brand.name.startsWith('mastercard')
    ? pick(random, MASTERCARD_PREFIXES)
    : brand.prefixes();
  const length = pick(random, brand.lengths);
  let digits = prefix;
  while (digits.length < length - 1) digits += String(int(random, 0, 9));
  return { brand: brand.name, digits: digits + luhnDigit(digits) };
}

const SEPARATORS = [
  ' ',
  '-',
  '.',
  '_',
  '/',
  '\t',
  '  ',
  '   ',
  ' - ',
  '\u00A0', // no-break space
  '\u2009', // thin space
  '\u202F', // narrow no-break space
  '\u3000', // ideographic space
  '\u2010', // hyphen
  '\u2013', // en dash
  '\u2014', // em dash
  '\u2212', // minus sign
  '\uFF0D', // full-width hyphen-minus
  '\uFF0E', // full-width full stop
  '\u200B', // zero-width space
  '\u00AD', // soft hyphen
  '\n', // a line break
  '\r\n',
  '\u2028', // line separator
  '\u034F', // combining grapheme joiner (invisible)
  '\u3164', // Hangul filler (blank)
  '\u2022', // bullet
];

/** Zero of each script's digits: ASCII, full-width, Arabic-Indic, Devanagari, Bengali, Thai, mathematical bold. */
const DIGIT_ZEROS = [0x30, 0xff10, 0x660, 0x6f0, 0x966, 0x9e6, 0xe50, 0x1d7ce];

function groupSizes(random: Random, length: number): number[] {
  const style = int(random, 0, 3);
  if (style === 0) return [length]; // no groups
  if (style === 1) {
    const sizes: number[] = [];
    for (let left = length; left > 0; left -= 4) sizes.push(Math.min(4, left));
    return sizes; // 4-4-4-4, 4-4-4-3 ...
  }
  if (style === 2 && length === 15) return [4, 6, 5]; // amex
  const sizes: number[] = [];
  for (let left = length; left > 0;) {
    const size = Math.min(left, int(random, 1, 7));
    sizes.push(size);
    left -= size;
  }
  return sizes; // groups of any size
}

/** One way of writing a card number: digits of some script, groups of some sizes, some separators. */
export function writeCard(random: Random, digits: string): string {
  const zero = pick(random, DIGIT_ZEROS);
  const separator = pick(random, SEPARATORS);
  const mixed = random() < 0.15; // a different separator between each group
  const zeroWidth = random() < 0.15; // invisible characters between digits too
  const sizes = groupSizes(random, digits.length);
  let out = '';
  let at = 0;
  sizes.forEach((size, g) => {
    if (g > 0) out += mixed ? pick(random, SEPARATORS) : separator;
    for (let i = 0; i < size; i++, at++) {
      if (zeroWidth && i > 0 && random() < 0.5)
        out += pick(random, ['\u200B', '\u200C', '\u2060', '\uFEFF']);
      out += String.fromCodePoint(zero + (digits.charCodeAt(at) - 48));
    }
  });
  return out;
}

const CONTEXTS = [
  (x: string) => x,
  (x: string) => `card ${x} on file`,
  (x: string) => `{"pan":"${x}","amount":12.5}`,
  (x: string) => `Zahlung mit Karte ${x}, danke`,
  (x: string) => `pan=${x}&cvv=xyz`,
  (x: string) => `<card>${x}</card>`,
];

/** A card number written somehow, inside some text; `expected` is that text with it redacted. */
export function cardSample(
  random: Random,
  redacted: string,
): { text: string; expected: string; digits: string } {
  const { digits } = cardNumber(random);
  const written = writeCard(random, digits);
  const context = pick(random, CONTEXTS);
  return { text: context(written), expected: context(redacted), digits };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Ordinary numbers that are no card numbers: ids, timestamps, dates, phone numbers, amounts, UUIDs. */
export const ORDINARY_KINDS: ReadonlyArray<{ kind: string; make: (random: Random) => string }> = [
  { kind: 'order id', make: (r) => `ORD-${int(r, 2015, 2030)}-${pad(int(r, 0, 999999), 6)}` },
  { kind: 'order number', make: (r) => `order #${int(r, 100000, 999999999999)}` },
  { kind: 'epoch ms', make: (r) => String(int(r, 1_400_000_000_000, 1_999_999_999_999)) },
  { kind: 'epoch s', make: (r) => String(int(r, 1_400_000_000, 1_999_999_999)) },
  {
    kind: 'iso timestamp',
    make: (r) =>
      `${int(r, 2000, 2039)}-${pad(int(r, 1, 12), 2)}-${pad(int(r, 1, 28), 2)}T${pad(int(r, 0, 23), 2)}:${pad(int(r, 0, 59), 2)}:${pad(int(r, 0, 59), 2)}.${pad(int(r, 0, 999), 3)}Z`,
  },
  {
    kind: 'date range',
    make: (r) =>
      `${int(r, 2000, 2039)}-${pad(int(r, 1, 12), 2)}-${pad(int(r, 1, 28), 2)}${pick(r, [' ', '/', ' - '])}${int(r, 2000, 2039)}-${pad(int(r, 1, 12), 2)}-${pad(int(r, 1, 28), 2)}`,
  },
  {
    kind: 'european date',
    make: (r) => `${pad(int(r, 1, 28), 2)}.${pad(int(r, 1, 12), 2)}.${int(r, 1990, 2039)}`,
  },
  {
    kind: 'phone',
    make: (r) =>
      pick(r, [
        `+49 ${int(r, 30, 179)} ${int(r, 1000000, 99999999)}`,
        `+1 ${int(r, 200, 999)} ${int(r, 200, 999)} ${pad(int(r, 0, 9999), 4)}`,
        `+44 20 ${int(r, 1000, 9999)} ${pad(int(r, 0, 9999), 4)}`,
        `(0${int(r, 30, 999)}) ${int(r, 1000, 9999)}-${pad(int(r, 0, 9999), 4)}`,
        `0049 ${int(r, 150, 179)} ${int(r, 1000, 9999)} ${pad(int(r, 0, 9999), 4)}`,
        `+33 ${int(r, 1, 9)} ${pad(int(r, 0, 99), 2)} ${pad(int(r, 0, 99), 2)} ${pad(int(r, 0, 99), 2)} ${pad(int(r, 0, 99), 2)}`,
      ]),
  },
  {
    kind: 'amount',
    make: (r) =>
      pick(r, [
        `${int(r, 0, 999999)}.${pad(int(r, 0, 99), 2)}`,
        `EUR ${int(r, 1, 999)}.${pad(int(r, 0, 999), 3)}.${pad(int(r, 0, 999), 3)},${pad(int(r, 0, 99), 2)}`,
        `$${int(r, 1, 999)},${pad(int(r, 0, 999), 3)},${pad(int(r, 0, 999), 3)}.${pad(int(r, 0, 99), 2)}`,
        `${int(r, 1, 999)} ${pad(int(r, 0, 999), 3)} ${pad(int(r, 0, 999), 3)},${pad(int(r, 0, 99), 2)} €`,
      ]),
  },
  {
    kind: 'uuid',
    make: (r) => {
      const hex = (n: number) =>
        Array.from({ length: n }, () => '0123456789abcdef'[int(r, 0, 15)]).join('');
      return `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(r, ['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
    },
  },
];
