import type { EgressPolicy } from '@junction/connectors';
import type { Jitter } from './retry';

export interface RuntimeOptions {
  /** Where AMQP, Kafka and HTTP connections may go (default: anywhere but metadata and link-local). */
  egress?: EgressPolicy;
  /** Most messages one HTTP-fed route handles at once; more get 429. */
  maxInFlight: number;
  /** The random part of retry backoffs (default Math.random; tests fix it). */
  jitter?: Jitter;
}

export const RUNTIME_OPTIONS = Symbol('RUNTIME_OPTIONS');
