/**
 * Measures the card-number detector on the generated corpus (libs/pipeline/src/pan/pan-corpus.ts):
 * the share of card numbers found however written, and the share of ordinary numbers wrongly
 * redacted, per kind. Prints; the spec asserts the same figures' bounds.
 * Run: npm run build && node dist/bench/pan.bench.js
 */
import { PAN_REDACTED, redactPanText } from '@junction/pipeline';
import { cardSample, ORDINARY_KINDS, prng } from '../libs/pipeline/src/pan/pan-corpus';

const CARDS = 20_000;
const ORDINARY = 5_000; // per kind

const random = prng(20261204);
let found = 0;
let exact = 0;
const started = process.hrtime.bigint();
for (let i = 0; i < CARDS; i++) {
  const sample = cardSample(random, PAN_REDACTED);
  const out = redactPanText(sample.text);
  if (out !== sample.text) found += 1;
  if (out === sample.expected) exact += 1;
}
const cardNs = Number(process.hrtime.bigint() - started);
console.log(
  `cards: ${found}/${CARDS} detected (${((100 * found) / CARDS).toFixed(2)}%), ${exact} with exactly the written form replaced; ${(cardNs / CARDS / 1000).toFixed(1)} us each`,
);
let wrong = 0;
for (const { kind, make } of ORDINARY_KINDS) {
  let hits = 0;
  for (let i = 0; i < ORDINARY; i++) {
    const text = make(random);
    if (redactPanText(text) !== text) hits += 1;
  }
  wrong += hits;
  console.log(
    `  ${kind.padEnd(14)} false positives ${hits}/${ORDINARY} (${((100 * hits) / ORDINARY).toFixed(2)}%)`,
  );
}
const total = ORDINARY * ORDINARY_KINDS.length;
console.log(
  `ordinary numbers: ${wrong}/${total} false positives (${((100 * wrong) / total).toFixed(2)}%)`,
);

// Digit-dense text, the detector's worst case (every character a digit or a separator), against
// prose of the same size in the same run: a message of 1 MB of `1 1 1 ...` held the event loop
// half a second before the span search was made linear.
const SIZE = 1_000_000;
const dense: Array<[string, string]> = [
  ['prose (baseline)', 'The order 12 ships on Monday to Berlin. '],
  ['1 1 1 ...', '1 '],
  ['1-1-1- ...', '1-'],
  ['1<ZWSP>1 ...', '1\u200b'],
  ['1\\n1\\n ... (JSON)', '1\\n'],
  ['Arabic-Indic digits', '\u0661 '],
  ['4111 1111 1111 111 ...', '4111 1111 1111 111 '],
  ['1234-5678- ...', '1234-5678-'],
  ['1234|5678| ...', '1234|5678|'],
  ['4111|1111|1111|1111 ...', '4111|1111|1111|1111 '],
  // Digits glued by what separates only once escapes are read (a form's +, %20, a pointer's ~1),
  // and JSON escapes of digits in a text (a JSON body holding `\\u0034`, parsed): 100 to 400 ms
  // per MB before the second reading kept its groups in typed arrays and the first stopped
  // reading the escapes after each run again.
  ['4+4+4+ ...', '4+'],
  ['4%204%20 ...', '4%20'],
  ['4~14~1 ...', '4~1'],
  ['\\u0034\\u0034 ... (text)', '\\u0034'],
];
let baselineMs = 0;
for (const [kind, unit] of dense) {
  const text = unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    redactPanText(text);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  if (baselineMs === 0) baselineMs = best;
  console.log(
    `  ${kind.padEnd(24)} ${best.toFixed(1).padStart(6)} ms per MB (${(best / baselineMs).toFixed(1)}x prose)`,
  );
}
