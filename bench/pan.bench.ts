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
