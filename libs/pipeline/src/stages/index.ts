import { filterStage } from './filter.stage';
import { maskStage } from './mask.stage';
import { StageDefinition } from './stage';
import { transformStage } from './transform.stage';
import { validateStage } from './validate.stage';

/**
 * The stage registry. Explicit on purpose: no stage registers itself by being imported. The
 * route schema, the console's hints and the OpenAPI document are all derived from this map.
 */
export const STAGES = {
  validate: validateStage,
  filter: filterStage,
  transform: transformStage,
  mask: maskStage,
} as const satisfies Record<string, StageDefinition<never>>;

export type StageKind = keyof typeof STAGES;
export const STAGE_KINDS = Object.keys(STAGES) as StageKind[];
