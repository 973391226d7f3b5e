import type { Envelope } from '../envelope';
import { evaluateNow } from '../expression/expression';
import { PipelineError } from '../pipeline.error';
import { Stage, StageDefinition } from './stage';

export type TransformConfig = string;

export const transformStage: StageDefinition<TransformConfig> = {
  kind: 'transform',
  description: 'Replaces the body with the result of a JSONata expression.',
  configSchema: {
    type: 'string',
    minLength: 1,
    description:
      'JSONata expression over the body ($), with $headers and $meta bound. Its result becomes the new body; an expression that yields nothing is an error.',
    examples: ['{ "orderId": id, "amount": total, "email": customer.email }'],
  },
  create(source, context): Stage {
    const expression = context.expression(source);
    const finish = (envelope: Envelope, body: unknown): Envelope => {
      if (body === undefined) {
        throw new PipelineError(
          'EXPRESSION_FAILED',
          'transform produced no value (the expression matched nothing)',
        );
      }
      return { ...envelope, body };
    };
    return {
      kind: 'transform',
      run(envelope) {
        const body = evaluateNow(expression!, envelope.body, {
          headers: envelope.headers,
          meta: envelope.meta,
        });
        return body instanceof Promise
          ? body.then((value) => finish(envelope, value))
          : finish(envelope, body);
      },
    };
  },
};
