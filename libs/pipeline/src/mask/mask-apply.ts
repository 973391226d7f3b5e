import { formatPath, PathStep } from './mask-path';
import { describe, MaskContext, MaskNotApplicable, MASKERS, MaskStrategy } from './mask-strategies';

export interface MaskRule {
  path: string;
  steps: PathStep[];
  with: MaskStrategy;
}

/**
 * Applies one rule and returns the new value. Copies only the objects and arrays on the rule's
 * path (the input is never mutated, so the original body stays intact for hashing or a
 * dead-letter copy). `owned` holds the copies made so far by this stage: later rules change
 * those in place rather than copy them again. An absent or null field has nothing to leak and is
 * left alone; a field of the wrong shape throws MaskNotApplicable, so the stage fails closed.
 */
export function applyMask(
  root: unknown,
  rule: MaskRule,
  context: MaskContext,
  owned: Set<object>,
): unknown {
  return maskAt(root, rule, 0, context, owned);
}

/** The record itself if this stage made it, else a shallow copy that it now owns. */
function writable<T extends object>(node: T, owned: Set<object>): T {
  if (owned.has(node)) return node;
  const copy = (Array.isArray(node) ? node.slice() : { ...node }) as T;
  owned.add(copy);
  return copy;
}

function maskAt(
  node: unknown,
  rule: MaskRule,
  index: number,
  context: MaskContext,
  owned: Set<object>,
): unknown {
  if (node === undefined || node === null) return node;
  const step = rule.steps[index];
  const last = index === rule.steps.length - 1;
  if ('key' in step) {
    if (typeof node !== 'object' || Array.isArray(node)) {
      throw new MaskNotApplicable(
        `expected an object at '${formatPath(rule.steps, index)}', found ${describe(node)}`,
      );
    }
    const record = node as Record<string, unknown>;
    if (!Object.prototype.hasOwnProperty.call(record, step.key)) return node;
    const child = record[step.key];
    if (last) {
      if (rule.with !== 'remove' && (child === null || child === undefined)) return node;
      const out = writable(record, owned);
      if (rule.with === 'remove') delete out[step.key];
      else out[step.key] = MASKERS[rule.with](child, context);
      return out;
    }
    const masked = maskAt(child, rule, index + 1, context, owned);
    if (masked === child) return node;
    const out = writable(record, owned);
    out[step.key] = masked;
    return out;
  }
  if (!Array.isArray(node)) {
    throw new MaskNotApplicable(
      `expected an array at '${formatPath(rule.steps, index)}', found ${describe(node)}`,
    );
  }
  if (last) {
    if (rule.with === 'remove') return [];
    const masker = MASKERS[rule.with];
    const out = writable(node, owned);
    for (let i = 0; i < out.length; i++) {
      if (out[i] !== null && out[i] !== undefined) out[i] = masker(out[i], context);
    }
    return out;
  }
  let out: unknown[] | undefined;
  for (let i = 0; i < node.length; i++) {
    const masked = maskAt(node[i], rule, index + 1, context, owned);
    if (masked !== node[i]) (out ??= writable(node, owned))[i] = masked;
  }
  return out ?? node;
}
