export * from './envelope';
export * from './pipeline.error';
export * from './route-document';
export * from './route-protocol';
export * from './compile';
export * from './ingest-path';
export * from './expression/expression';
export { JsonataEngine } from './expression/jsonata.expression';
export { isTruthy } from './expression/truthy';
export { routeSchema, destinationKinds } from './schema/route-schema';
export { checkRouteShape, parseRouteText, prepareRouteSchema } from './schema/route-validator';
export { parseRouteSource, withPositions, SOURCE_LIMITS } from './schema/route-source';
export type { ParsedSource, SourceFormat } from './schema/route-source';
export {
  RouteSourceParser,
  SourceParserBusyError,
  sharedRouteSourceParser,
} from './schema/route-source-thread';
export type { JsonSchema } from './schema/json-schema';
export { useLinearUniqueItems } from './schema/unique-items';
export { STAGES, STAGE_KINDS } from './stages';
export type { StageKind } from './stages';
export type { RouteResources, Stage, StageDefinition } from './stages/stage';
export { MASK_STRATEGIES } from './mask/mask-strategies';
export type { MaskStrategy } from './mask/mask-strategies';
export {
  redactPans,
  redactPanText,
  containsPan,
  panPointers,
  luhnValid,
  mayHoldPan,
  isPanSeparator,
  PAN_REDACTED,
} from './pan/pan-detector';
export { decodeBody, DEFAULT_DECODE_LIMITS, invalidUtf8At, nestedDeeperThan } from './decode';
export { changedNumber, changedNumberText, decimal, type ChangedNumber } from './exact-numbers';
export { maxDepthExceeded } from './input-guard';
export { envelopeOf, testResources } from './testing';
