export { ApiError, NetworkError, errorBody, type ApiErrorBody, type ApiProblem } from './api-error';
export {
  createJunctionClient,
  readCookie,
  textBody,
  NEXT_CURSOR_HEADER,
  type AuditExportQuery,
  type CallResult,
  type components,
  type Download,
  type JunctionClient,
  type JunctionClientOptions,
  type PagedPath,
  type PageItem,
  type PageQuery,
  type paths,
  type Schemas,
} from './client';
export type { Middleware } from 'openapi-fetch';
