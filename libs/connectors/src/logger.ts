/** Where connectors report what an operator may need (reconnects, crashes). Never given a secret or a payload. */
export interface ConnectorLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Default: warnings and errors to stderr; the gateway passes its own (Nest) logger instead. */
export const consoleLogger: ConnectorLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => console.warn(`[connectors] ${message}`),
  error: (message) => console.error(`[connectors] ${message}`),
};

/** Says nothing: for one-off clients whose failure the caller reports (a connection test). */
export const quietLogger: ConnectorLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What a broker client knows of its connection, for route status, readiness and metrics. */
export interface ConnectionState {
  /** The stored connection's name. */
  connection: string;
  /** The connector kind. */
  type: string;
  up: boolean;
  /** Since when it is up, or down (or connecting). */
  since: Date;
  /** Why the last attempt failed, while down (the broker's own words; no secret is in them). */
  error?: string;
  /** Connect attempts failed in a row, while down. */
  attempts?: number;
  /** Times it connected again after having been up. */
  reconnects: number;
}
