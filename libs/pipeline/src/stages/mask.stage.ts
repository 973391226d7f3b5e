import { applyMask, MaskRule } from '../mask/mask-apply';
import { parseMaskPath } from '../mask/mask-path';
import {
  MASK_STRATEGIES,
  MaskContext,
  MaskNotApplicable,
  MaskStrategy,
} from '../mask/mask-strategies';
import { PipelineError } from '../pipeline.error';
import { Stage, StageDefinition } from './stage';

export type MaskConfig = Array<{ path: string; with: MaskStrategy }>;

export const maskStage: StageDefinition<MaskConfig> = {
  kind: 'mask',
  description:
    'Masks sensitive fields. Fails closed: a rule that cannot apply stops the message instead of letting it pass unmasked.',
  configSchema: {
    type: 'array',
    minItems: 1,
    description: 'Rules applied in order.',
    items: {
      type: 'object',
      required: ['path', 'with'],
      additionalProperties: false,
      properties: {
        path: {
          type: 'string',
          minLength: 1,
          description: 'Dotted path into the body; [*] stands for every element of an array.',
          examples: ['card.pan', 'items[*].note', 'customer.email'],
        },
        with: {
          enum: [...MASK_STRATEGIES],
          description:
            'redact: replace with "[REDACTED]"; remove: delete the field; pan: keep the first 6 and last 4 digits; last4: keep the last 4 characters; hash: HMAC-SHA256 (hex) with the gateway key, a stable pseudonym; email: keep the first letter and the domain (j***@example.com).',
          examples: ['pan', 'hash'],
        },
      },
    },
    examples: [
      [
        { path: 'card.pan', with: 'pan' },
        { path: 'email', with: 'hash' },
      ],
    ],
  },
  create(config, context): Stage {
    const rules: MaskRule[] = [];
    config.forEach((rule, i) => {
      const steps = parseMaskPath(rule.path);
      if (typeof steps === 'string') context.problem(`/${i}/path`, steps);
      else rules.push({ path: rule.path, steps, with: rule.with });
    });
    const maskContext: MaskContext = { hmacKey: context.resources.hmacKey };
    return {
      kind: 'mask',
      run(envelope) {
        let body = envelope.body;
        const owned = new Set<object>();
        for (const rule of rules) {
          try {
            body = applyMask(body, rule, maskContext, owned);
          } catch (err) {
            if (!(err instanceof MaskNotApplicable)) throw err;
            throw new PipelineError(
              'MASK_FAILED',
              `mask '${rule.path}' with '${rule.with}' cannot apply: ${err.message}`,
              undefined,
              { path: rule.path, with: rule.with },
            );
          }
        }
        return body === envelope.body ? envelope : { ...envelope, body };
      },
    };
  },
};
