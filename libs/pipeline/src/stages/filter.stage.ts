import { evaluateNow } from '../expression/expression';
import { isTruthy } from '../expression/truthy';
import { DROP, Stage, StageDefinition } from './stage';

export type FilterConfig = string;

export const filterStage: StageDefinition<FilterConfig> = {
  kind: 'filter',
  description:
    'Keeps the message when a JSONata expression is truthy (JSONata $boolean rules); drops it otherwise.',
  configSchema: {
    type: 'string',
    minLength: 1,
    description:
      'JSONata expression over the body ($), with $headers and $meta bound. Falsy (false, 0, "", null, empty array or object, no match) drops the message.',
    examples: ['total > 100 and customer.country in ["DE","FR"]', "$headers.'x-tenant' = 'eu'"],
  },
  create(source, context): Stage {
    const expression = context.expression(source);
    return {
      kind: 'filter',
      run(envelope) {
        const verdict = evaluateNow(expression!, envelope.body, {
          headers: envelope.headers,
          meta: envelope.meta,
        });
        return verdict instanceof Promise
          ? verdict.then((value) => (isTruthy(value) ? envelope : DROP))
          : isTruthy(verdict)
            ? envelope
            : DROP;
      },
    };
  },
};
