export { AuditModule, AUDIT_OPTIONS } from './audit.module';
export type { AuditModuleOptions } from './audit.module';
export { AuditTrail, createAuditTrail } from './audit-trail';
export type { AuditTrailOptions } from './audit-trail';
export type { AuditLog, ChainWriterStats } from './chain-writer';
export { messageRow, messageRowText, eventRow } from './audit-rows';
export type { AuditEventInput } from './audit-rows';
export { AuditService } from './audit.service';
export { DenialAggregator } from './denial-aggregator';
export type { Page, VerifyResult } from './audit.service';
export { AuditRepository } from './audit.repository';
export type { MessageFilter, EventFilter } from './audit.repository';
export type { MessageAuditView, EventAuditView } from './audit-views';
export { AUDIT_WRITER_ROLE, auditSessionSetup } from './audit-session';
export { AuditError } from './audit.error';
export type { AuditErrorCode } from './audit.error';
export { AuditLifecycle } from './audit.module';
export type { AnchorOptions } from './audit.module';
export {
  AnchorDirectory,
  checkAnchor,
  keyId,
  loadSigningKey,
  loadVerifyKey,
  ANCHOR_FORMAT,
} from './anchors';
export type { SignedAnchor, AnchoredChain } from './anchors';
export { AnchorSigner } from './anchor-signer';
export { checkAnchors } from './anchor-verifier';
export type { AnchorCheckResult, AnchorSummary } from './anchor-verifier';
export type { AnchorVerifyResult } from './audit.service';
export {
  chainHash,
  chainHashOf,
  EVENTS,
  GENESIS_HASH,
  MESSAGE_APPENDER,
  MESSAGES,
} from './audit-tables';
export type {
  ChainAppender,
  Chained,
  ChainTable,
  ChainTableName,
  MessageRowText,
} from './audit-tables';
export { AmqpAnchorPublisher } from './anchor-publishers';
export type { AnchorPublisher } from './anchor-publishers';
export { StatsService } from './stats.service';
export type { StatsView } from './stats.service';
export { StatsRepository } from './stats.repository';
export type { StatsBucket } from './stats.repository';
export { makeReport, checkReport, REPORT_FORMAT } from './verify-report';
export type { VerificationReport, ReportCheck } from './verify-report';
export type {
  ApiKeyStatePort,
  AuditStatePorts,
  ConnectionStatePort,
  DeadLetterIdsPort,
  RouteStatePort,
  UserStatePort,
} from './audit-ports';
