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
    return {
      kind: 'transform',
      async run(envelope) {
        const body = await expression!.evaluate(envelope.body, {
          headers: envelope.headers,
          meta: envelope.meta,
        });
        if (body === undefined) {
          throw new PipelineError(
            'EXPRESSION_FAILED',
            'transform produced no value (the expression matched nothing)',
          );
        }
        return { ...envelope, body };
      },
    };
  },
};
