/**
 * Typed configuration from environment variables, one group per concern. Each variable says
 * what it is for and whether it is sensitive; a bad value stops the process with a message that
 * names the variable, and sensitive values are never echoed.
 */
export interface ConfigVariable<T> {
  description: string;
  sensitive?: boolean;
  /** Returns the value, or throws an Error whose message says what was expected. */
  parse(raw: string): T;
  default?: T;
}

type Spec = Record<string, ConfigVariable<unknown>>;
type Values<S extends Spec> = {
  [K in keyof S]: S[K] extends ConfigVariable<infer T>
    ? S[K]['default'] extends undefined
      ? T | undefined
      : T
    : never;
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export function loadConfig<S extends Spec>(
  spec: S,
  env: NodeJS.ProcessEnv = process.env,
): Values<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, variable] of Object.entries(spec)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      out[name] = variable.default;
      continue;
    }
    try {
      out[name] = variable.parse(raw);
    } catch (err) {
      const shown = variable.sensitive ? '(value hidden)' : JSON.stringify(raw);
      problems.push(`${name}=${shown}: ${(err as Error).message} (${variable.description})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Values<S>;
}

/** Describes every variable of a spec (for --help output and the docs). */
export function describeConfig(spec: Spec): string[] {
  return Object.entries(spec).map(
    ([name, v]) =>
      `${name}${v.sensitive ? ' (sensitive)' : ''}: ${v.description}${v.default !== undefined && !v.sensitive ? ` [default ${String(v.default)}]` : ''}`,
  );
}

export const parse = {
  integer(min: number, max: number) {
    return (raw: string): number => {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max)
        throw new Error(`must be a whole number from ${min} to ${max}`);
      return n;
    };
  },
  string(raw: string): string {
    return raw;
  },
  url(protocols: string[]) {
    return (raw: string): string => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error('must be a URL');
      }
      if (!protocols.includes(url.protocol.replace(/:$/, '')))
        throw new Error(`must be a ${protocols.join(' or ')} URL`);
      return raw;
    };
  },
  /** 32 bytes, as 64 hex digits or base64. */
  key32(raw: string): Buffer {
    const key = /^[0-9a-fA-F]{64}$/.test(raw)
      ? Buffer.from(raw, 'hex')
      : Buffer.from(raw, 'base64');
    if (key.length !== 32) throw new Error('must be 32 bytes, written as 64 hex digits or base64');
    return key;
  },
  password(raw: string): string {
    if (raw.length < 12) throw new Error('must be at least 12 characters');
    return raw;
  },
};
