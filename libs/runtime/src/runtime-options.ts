import type { EgressPolicy } from '@junction/connectors';
import type { ReplayClock } from './replay-jobs.service';
import type { Jitter } from './retry';
import type { MessageTracing } from './tracing';

export interface RuntimeOptions {
  /** Where AMQP, Kafka and HTTP connections may go (default: anywhere but metadata and link-local). */
  egress?: EgressPolicy;
  /** Most messages one HTTP-fed route handles at once; more get 429. */
  maxInFlight: number;
  /** Routes of Junction a message may pass through before it is dead-lettered (default 10). */
  maxHops?: number;
  /** This process's stable name among gateway processes (MQTT sessions' client ids); default the host name. */
  nodeName?: string;
  /**
   * Keys the secret part of MQTT sessions' client ids: a key derived from the master key for this
   * alone (stable across restarts, so sessions resume; never the master or mask key itself).
   */
  mqttClientIdKey: Buffer;
  /**
   * Kafka consumers' group session: how long the brokers wait for a heartbeat before they move a
   * silent consumer's partitions (default 30 s); heartbeats every third of it, at most every 3 s.
   */
  kafkaSessionTimeoutMs?: number;
  /** The random part of retry backoffs (default Math.random; tests fix it). */
  jitter?: Jitter;
  /** Dead-letter replay jobs: lease and poll (ms), and the clock their rate limit waits on. */
  replayJobs?: { leaseMs?: number; pollMs?: number; clock?: ReplayClock };
  /** Traces of messages (spans exported over OTLP, or trace context only passed on); shut down last. */
  tracing?: MessageTracing;
}

export const RUNTIME_OPTIONS = Symbol('RUNTIME_OPTIONS');
