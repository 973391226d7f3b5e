export interface RuntimeOptions {
  /** Hosts HTTP destinations may call besides their connection's own baseUrl host. */
  httpAllowHosts: string[];
  /**
   * Default true: a connection's own baseUrl host may be called. False: only `httpAllowHosts`
   * (an operator who does not trust editors with targets).
   */
  httpAllowConnectionHosts?: boolean;
  /** Most messages one HTTP-fed route handles at once; more get 429. */
  maxInFlight: number;
}

export const RUNTIME_OPTIONS = Symbol('RUNTIME_OPTIONS');
