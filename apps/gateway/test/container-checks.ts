/**
 * Checks of the Dockerfile and docker-compose.yml that need no Docker engine: every file is
 * parsed, the gateway's environment goes through the gateway's own start-up validation, and the
 * hosts and ports one service uses to reach another are compared with what that service listens
 * on. Each check returns problems as sentences; an empty list means the files agree.
 */
import { sameDn } from '@junction/auth';
import { ConfigError } from '@junction/common';
import { DockerfileParser, type Dockerfile, type Instruction } from 'dockerfile-ast';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { loadGatewayConfig } from '../src/config';

type Env = Record<string, string | undefined>;
export type Service = {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  hostname?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target: number; published?: string | number; host_ip?: string })[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  command?: string | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
};
export type Compose = { services: Record<string, Service> };

/** Compose variable interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}. */
export function interpolate(value: string, env: Env): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^}\\]|\\.)*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare) return env[bare] ?? '';
      const v = env[name!];
      const missing = v === undefined || (colon === ':' && v === '');
      if (op === '-') return missing ? interpolate(arg ?? '', env) : v!;
      if (op === '?') {
        if (missing) throw new Error(`\${${name}} is required: ${arg}`);
        return v!;
      }
      return v ?? '';
    },
  );
}

/** A service's environment as the container sees it: the image's ENV, then compose's. */
export function serviceEnvironment(service: Service, hostEnv: Env, imageEnv: Env = {}): Env {
  const out: Env = { ...imageEnv };
  const raw = service.environment ?? {};
  const entries: [string, string | undefined][] = Array.isArray(raw)
    ? raw.map((line) => {
        const eq = line.indexOf('=');
        return eq < 0 ? [line, hostEnv[line]] : [line.slice(0, eq), line.slice(eq + 1)];
      })
    : Object.entries(raw).map(([k, v]) => [k, v === null ? hostEnv[k] : String(v)]);
  for (const [k, v] of entries) out[k] = v === undefined ? undefined : interpolate(v, hostEnv);
  return out;
}

export interface PortMapping {
  hostIp?: string;
  published?: number;
  target: number;
}

export function portMappings(service: Service): PortMapping[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object')
      return {
        target: Number(p.target),
        published: p.published === undefined ? undefined : Number(p.published),
        hostIp: p.host_ip,
      };
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const target = Number(parts.pop());
    const published = parts.length > 0 ? Number(parts.pop()) : undefined;
    return { target, published, hostIp: parts.length > 0 ? parts.join(':') : undefined };
  });
}

function dockerfileOf(service: Service): string | undefined {
  if (!service.build) return undefined;
  return typeof service.build === 'string'
    ? 'Dockerfile'
    : (service.build.dockerfile ?? 'Dockerfile');
}

/** The instructions of the last stage (what runs). */
function finalStage(df: Dockerfile): Instruction[] {
  const all = df.getInstructions();
  const froms = df.getFROMs();
  const start = froms.length > 0 ? froms[froms.length - 1].getRange().start.line : 0;
  return all.filter((i) => i.getRange().start.line >= start);
}

export function imageEnvironment(text: string): Env {
  const env: Env = {};
  for (const i of finalStage(DockerfileParser.parse(text)))
    if (i.getKeyword() === 'ENV')
      for (const p of (
        i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
      ).getProperties())
        env[p.getName()] = p.getValue() ?? '';
  return env;
}

function exposed(text: string): number[] {
  return finalStage(DockerfileParser.parse(text))
    .filter((i) => i.getKeyword() === 'EXPOSE')
    .flatMap((i) => i.getArguments().map((a) => Number(a.getValue().split('/')[0])));
}

function hasHealthcheck(text: string): boolean {
  return finalStage(DockerfileParser.parse(text)).some(
    (i) => i.getKeyword() === 'HEALTHCHECK' && !/^NONE\b/i.test(i.getArgumentsContent() ?? ''),
  );
}

/**
 * hadolint-style rules (no hadolint in Debian or npm) plus what the gateway needs: dockerfile-utils'
 * own diagnostics; DL3000 absolute WORKDIR; DL3002 last USER not root; DL3006/DL3007 tagged, not
 * latest; DL3020 COPY not ADD; DL3025 JSON CMD; DL3009/DL3015 apt lists removed, no
 * recommends; and for the gateway image: several stages, production dependencies only, the
 * console's static files copied, EXPOSE = PORT, CMD = `npm start`, a HEALTHCHECK on /health.
 */
export function checkDockerfile(
  text: string,
  options: { gateway?: { startScript: string; port: number } } = {},
): string[] {
  const problems: string[] = [];
  for (const d of lintDockerfile(text))
    problems.push(`line ${d.range.start.line + 1}: ${d.message}`);
  const df = DockerfileParser.parse(text);
  const froms = df.getFROMs();
  if (froms.length === 0) return [...problems, 'no FROM'];
  for (const f of froms) {
    const stage = froms.find((s) => s.getBuildStage() === f.getImageName());
    if (stage) continue; // FROM an earlier stage
    if (!f.getImageTag() && !f.getImageDigest())
      problems.push(`FROM ${f.getImageName()}: no tag (DL3006)`);
    if (f.getImageTag() === 'latest') problems.push(`FROM ${f.getImageName()}:latest (DL3007)`);
  }
  for (const i of df.getInstructions()) {
    const k = i.getKeyword();
    const args = i.getArgumentsContent() ?? '';
    if (k === 'ADD') problems.push(`line ${i.getRange().start.line + 1}: ADD; use COPY (DL3020)`);
    if (k === 'WORKDIR' && !args.startsWith('/') && !args.startsWith('$'))
      problems.push(`WORKDIR ${args} is relative (DL3000)`);
    if ((k === 'CMD' || k === 'ENTRYPOINT') && !args.trim().startsWith('['))
      problems.push(`${k} in shell form: signals do not reach the process (DL3025)`);
    if (k === 'RUN' && /apt-get install/.test(args)) {
      if (!/--no-install-recommends/.test(args))
        problems.push('apt-get install without --no-install-recommends (DL3015)');
      if (!/rm -rf \/var\/lib\/apt\/lists/.test(args))
        problems.push('apt lists left in the layer (DL3009)');
    }
  }
  const last = finalStage(df);
  const users = last.filter((i) => i.getKeyword() === 'USER');
  const user = users.length > 0 ? (users[users.length - 1].getArgumentsContent() ?? '') : 'root';
  if (/^(root|0)(:|$)/.test(user.trim()))
    problems.push(`the image runs as ${user.trim()}: add a USER that is not root (DL3002)`);
  if (!hasHealthcheck(text)) problems.push('no HEALTHCHECK in the final stage');

  const gw = options.gateway;
  if (gw) {
    if (froms.length < 2)
      problems.push('single stage: build tools and dev dependencies would ship');
    const runs = df.getInstructions().filter((i) => i.getKeyword() === 'RUN');
    const prunes = runs.some((i) =>
      /--omit[= ]dev|--production\b/.test(i.getArgumentsContent() ?? ''),
    );
    if (!prunes) problems.push('dev dependencies are not left out (npm ci/prune --omit=dev)');
    const finalRuns = last
      .filter((i) => i.getKeyword() === 'RUN')
      .map((i) => i.getArgumentsContent() ?? '');
    if (finalRuns.some((r) => /npm (ci|install)\b/.test(r) && !/--omit[= ]dev/.test(r)))
      problems.push('the final stage installs dev dependencies');
    const copies = last.filter((i) => i.getKeyword() === 'COPY');
    const workdirs = last.filter((i) => i.getKeyword() === 'WORKDIR');
    const workdir =
      workdirs.length > 0 ? workdirs[workdirs.length - 1].getArgumentsContent()! : '/';
    const dest = (i: Instruction) => {
      const a = i.getArguments().map((x) => x.getValue());
      const d = a[a.length - 1];
      return (d.startsWith('/') ? d : `${workdir}/${d}`)
        .replace(/\/\.\//g, '/')
        .replace(/\/+$/, '');
    };
    if (!copies.some((c) => dest(c) === `${workdir}/apps/console/dist`))
      problems.push(`the console's static files are not copied to ${workdir}/apps/console/dist`);
    if (!copies.some((c) => /node_modules/.test(c.getArgumentsContent() ?? '')))
      problems.push('node_modules (production) is not copied into the final stage');
    const ports = exposed(text);
    if (!ports.includes(gw.port))
      problems.push(`EXPOSE ${ports.join(' ') || '(none)'} is not the gateway's PORT ${gw.port}`);
    const envPort = imageEnvironment(text).PORT;
    if (envPort !== undefined && Number(envPort) !== gw.port)
      problems.push(`ENV PORT=${envPort} but EXPOSE ${gw.port}`);
    const cmds = df.getCMDs();
    const cmd = cmds.length > 0 ? (cmds[cmds.length - 1].getArgumentsContent() ?? '') : '';
    let argv: unknown;
    try {
      argv = JSON.parse(cmd);
    } catch {
      argv = undefined;
    }
    const start = gw.startScript.trim().split(/\s+/);
    if (JSON.stringify(argv) !== JSON.stringify(start))
      problems.push(
        `CMD ${cmd || '(none)'} is not what \`npm start\` runs (${JSON.stringify(start)})`,
      );
    const health = last.find((i) => i.getKeyword() === 'HEALTHCHECK')?.getArgumentsContent() ?? '';
    if (health && !/\/health\/(live|ready)/.test(health))
      problems.push('the HEALTHCHECK does not ask /health/live or /health/ready');
  }
  return problems;
}

function matches(text: string, re: RegExp, group: number): string[] {
  return [...text.matchAll(re)].map((m) => m[group]);
}

/** The texts of the SQL files a service mounts into /docker-entrypoint-initdb.d. */
function initScripts(service: Service, inputs: ComposeInputs): string[] {
  const out: string[] = [];
  for (const v of service.volumes ?? []) {
    const [source, target] =
      typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target ?? ''];
    if (target === '/docker-entrypoint-initdb.d' && /^\.{0,2}\//.test(source))
      out.push(...(inputs.initScripts?.(source) ?? []));
  }
  return out;
}

export interface ComposeInputs {
  compose: Compose;
  /** Dockerfile texts by path, for services built from one. */
  dockerfiles: Record<string, string>;
  /** scripts/ldap/seed.ldif */
  seedLdif: string;
  /** The .sql texts in a folder of the checkout a service mounts (relative to the compose file). */
  initScripts?: (dir: string) => string[];
  /** The host environment compose interpolates from (an empty one: the documented defaults). */
  hostEnv?: Env;
}

interface LdifEntry {
  dn: string;
  attrs: Record<string, string[]>;
}

export function parseLdif(text: string): LdifEntry[] {
  const unfolded = text.replace(/\r?\n /g, '');
  const entries: LdifEntry[] = [];
  for (const block of unfolded.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l && !l.startsWith('#'));
    if (lines.length === 0 || !/^dn:/i.test(lines[0])) continue;
    const entry: LdifEntry = { dn: lines[0].replace(/^dn:\s*/i, ''), attrs: {} };
    for (const line of lines.slice(1)) {
      const m = /^([A-Za-z][\w-]*):\s?(.*)$/.exec(line);
      if (m) (entry.attrs[m[1].toLowerCase()] ??= []).push(m[2]);
    }
    entries.push(entry);
  }
  return entries;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The cross-service checks of docker-compose.yml (see the file's header). */
export function checkCompose(inputs: ComposeInputs): string[] {
  const problems: string[] = [];
  const hostEnv = inputs.hostEnv ?? {};
  const services = inputs.compose?.services ?? {};
  const names = Object.keys(services);
  const byRole = (test: (name: string, s: Service) => boolean) =>
    names.find((n) => test(n, services[n]));
  const dependsOn = (s: Service) =>
    Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
  const fromDockerfile = names.filter((n) => dockerfileOf(services[n]) === 'Dockerfile');
  /** One-shot jobs run from the gateway's image against the gateway (e.g. `route apply`). */
  const jobs = fromDockerfile.filter((n) =>
    dependsOn(services[n]).some((d) => fromDockerfile.includes(d)),
  );
  const gatewayName = fromDockerfile.find((n) => !jobs.includes(n));
  const postgresName = byRole((_, s) => /^postgres(:|$)/.test(s.image ?? ''));
  const kafkaName = byRole((_, s) => /kafka/.test(s.image ?? ''));
  const rabbitName = byRole((_, s) => /rabbitmq/.test(s.image ?? ''));
  const ldapName = byRole((_, s) => /ldap/i.test(`${s.image ?? ''} ${dockerfileOf(s) ?? ''}`));
  for (const [role, name] of Object.entries({
    gateway: gatewayName,
    postgres: postgresName,
    kafka: kafkaName,
    rabbitmq: rabbitName,
    ldap: ldapName,
  }))
    if (!name) problems.push(`no ${role} service`);
  if (problems.length > 0) return problems;
  /** Names other containers on the compose network resolve to a service. */
  const resolvable = (host: string) =>
    names.filter((n) => n === host || services[n].hostname === host);
  const dockerText = (n: string) => {
    const file = dockerfileOf(services[n]);
    return file ? inputs.dockerfiles[file] : undefined;
  };

  // Every service is published on the host's loopback only: the defaults are public.
  for (const n of names)
    for (const p of portMappings(services[n]))
      if (p.published !== undefined && !LOOPBACK.has(p.hostIp ?? ''))
        problems.push(`${n}: port ${p.published} is published on every interface; bind 127.0.0.1`);

  // Health checks, and the gateway waits for every other service to be healthy.
  for (const n of names.filter((x) => !jobs.includes(x))) {
    const text = dockerText(n);
    const hc = services[n].healthcheck;
    if (hc?.disable || (!hc?.test && !(text && hasHealthcheck(text))))
      problems.push(`${n}: no healthcheck`);
  }
  const deps = services[gatewayName!].depends_on ?? [];
  for (const n of names.filter((x) => x !== gatewayName && !jobs.includes(x))) {
    const cond = Array.isArray(deps) ? undefined : deps[n]?.condition;
    if (cond !== 'service_healthy')
      problems.push(`gateway: depends_on ${n} with condition service_healthy is missing`);
  }

  // The gateway's environment, through the gateway's own start-up validation.
  const gwText = dockerText(gatewayName!) ?? '';
  let env: Env;
  try {
    env = serviceEnvironment(services[gatewayName!], hostEnv, imageEnvironment(gwText));
  } catch (err) {
    return [...problems, `gateway: ${(err as Error).message}`];
  }
  let config: ReturnType<typeof loadGatewayConfig> | undefined;
  try {
    config = loadGatewayConfig(env as NodeJS.ProcessEnv);
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems.map((p) => `gateway: ${p}`));
    else problems.push(`gateway: ${(err as Error).message}`);
  }
  if (!config) return problems;
  if (!config.DATABASE_URL)
    problems.push('gateway: DATABASE_URL is not set (the embedded database is for `npm start`)');
  if (!config.JUNCTION_MASTER_KEY)
    problems.push(
      'gateway: JUNCTION_MASTER_KEY is required with DATABASE_URL (the gateway would not start)',
    );
  if (LOOPBACK.has(config.HOST))
    problems.push(
      `gateway: HOST=${config.HOST} is unreachable through the published port; use 0.0.0.0`,
    );
  const gwPorts = portMappings(services[gatewayName!]);
  if (!gwPorts.some((p) => p.target === config.PORT))
    problems.push(`gateway: no published port targets PORT ${config.PORT}`);
  if (gwText && !exposed(gwText).includes(config.PORT))
    problems.push(`gateway: the Dockerfile does not EXPOSE PORT ${config.PORT}`);

  // DATABASE_URL (and the owner's migration URL) name the postgres service, its port, a role
  // and a database that exist once the image's init scripts ran.
  const pgEnv = serviceEnvironment(services[postgresName!], hostEnv);
  const superuser = pgEnv.POSTGRES_USER || 'postgres';
  const init = initScripts(services[postgresName!], inputs).join('\n');
  const roles = new Set([
    superuser,
    ...matches(init, /CREATE\s+ROLE\s+("?)(\w+)\1[^;]*\bLOGIN\b/gi, 2),
  ]);
  const owners = new Map<string, string>([[pgEnv.POSTGRES_DB || superuser, superuser]]);
  for (const m of init.matchAll(/CREATE\s+DATABASE\s+("?)(\w+)\1(?:[^;]*\bOWNER\s+("?)(\w+)\3)?/gi))
    owners.set(m[2], m[4] ?? superuser);
  const pgPort = Number(pgEnv.PGPORT ?? 5432);
  const urls = {
    DATABASE_URL: config.DATABASE_URL,
    JUNCTION_MIGRATION_DATABASE_URL: env.JUNCTION_MIGRATION_DATABASE_URL || undefined,
  };
  for (const [name, raw] of Object.entries(urls)) {
    if (!raw) continue;
    const url = new URL(raw);
    const user = decodeURIComponent(url.username);
    const db = url.pathname.slice(1);
    if (!resolvable(url.hostname).includes(postgresName!))
      problems.push(`gateway: ${name} host '${url.hostname}' is not the ${postgresName} service`);
    if (Number(url.port || 5432) !== pgPort)
      problems.push(`gateway: ${name} port ${url.port || 5432} is not ${postgresName}'s ${pgPort}`);
    if (!roles.has(user))
      problems.push(
        `gateway: ${name} user '${user}' is not a role ${postgresName} creates (${[...roles].join(', ')})`,
      );
    if (!owners.has(db))
      problems.push(
        `gateway: ${name} database '${db}' is not one ${postgresName} creates (${[...owners.keys()].join(', ')})`,
      );
    if (
      pgEnv.POSTGRES_HOST_AUTH_METHOD !== 'trust' &&
      user === superuser &&
      decodeURIComponent(url.password) !== (pgEnv.POSTGRES_PASSWORD ?? '')
    )
      problems.push(`gateway: ${name} password is not POSTGRES_PASSWORD`);
  }
  if (urls.JUNCTION_MIGRATION_DATABASE_URL && urls.DATABASE_URL) {
    const app = new URL(urls.DATABASE_URL);
    const owner = new URL(urls.JUNCTION_MIGRATION_DATABASE_URL);
    if (app.pathname !== owner.pathname || app.hostname !== owner.hostname)
      problems.push(
        'gateway: DATABASE_URL and JUNCTION_MIGRATION_DATABASE_URL name different databases',
      );
    if (app.username === owner.username)
      problems.push(
        'gateway: the runtime role is the schema owner (it could rewrite the audit trail)',
      );
    if (owners.get(owner.pathname.slice(1)) !== decodeURIComponent(owner.username))
      problems.push(
        `gateway: JUNCTION_MIGRATION_DATABASE_URL's '${owner.username}' does not own the database`,
      );
  }

  // Jobs wait for a healthy gateway and call it by its service name and PORT.
  for (const job of jobs) {
    const deps = services[job].depends_on;
    if (Array.isArray(deps) || deps?.[gatewayName!]?.condition !== 'service_healthy')
      problems.push(`${job}: depends_on ${gatewayName} with condition service_healthy is missing`);
    const text = JSON.stringify([
      services[job].command ?? '',
      serviceEnvironment(services[job], hostEnv),
    ]);
    const urls = [...text.matchAll(/https?:\/\/([\w.-]+)(?::(\d+))?/g)];
    if (urls.length === 0) problems.push(`${job}: names no gateway URL`);
    for (const [url, host, port] of urls) {
      if (!resolvable(host).includes(gatewayName!))
        problems.push(`${job}: ${url} is not the ${gatewayName} service`);
      else if (Number(port ?? 80) !== config.PORT)
        problems.push(`${job}: ${url} is not the gateway's PORT ${config.PORT}`);
    }
  }

  problems.push(...checkKafka(kafkaName!, services, resolvable));
  problems.push(...checkLdap(env, config, ldapName!, services, inputs, resolvable));
  return problems;
}

function listenerMap(raw: string | undefined): Map<string, { host: string; port: number }> {
  const out = new Map<string, { host: string; port: number }>();
  for (const item of (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9_]+):\/\/(\[[^\]]*\]|[^:]*):(\d+)$/.exec(item);
    if (m) out.set(m[1].toUpperCase(), { host: m[2], port: Number(m[3]) });
    else out.set(`?${item}`, { host: '', port: NaN });
  }
  return out;
}

function checkKafka(
  name: string,
  services: Record<string, Service>,
  resolvable: (host: string) => string[],
): string[] {
  const problems: string[] = [];
  const env = serviceEnvironment(services[name], {});
  const listeners = listenerMap(env.KAFKA_LISTENERS);
  const advertised = listenerMap(env.KAFKA_ADVERTISED_LISTENERS);
  const controllers = (env.KAFKA_CONTROLLER_LISTENER_NAMES ?? '')
    .split(',')
    .map((s) => s.trim().toUpperCase());
  const protocols = new Map(
    (env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP ?? 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT')
      .split(',')
      .map((p) => p.split(':').map((s) => s.trim().toUpperCase()) as [string, string]),
  );
  const published = portMappings(services[name]);
  for (const key of [...listeners.keys(), ...advertised.keys()])
    if (key.startsWith('?')) problems.push(`${name}: cannot read listener '${key.slice(1)}'`);
  for (const l of listeners.keys())
    if (!l.startsWith('?') && !protocols.has(l))
      problems.push(`${name}: listener ${l} has no security protocol`);
  let internal = 0;
  let external = 0;
  for (const [l, a] of advertised) {
    if (l.startsWith('?')) continue;
    const own = listeners.get(l);
    if (!own) {
      problems.push(`${name}: advertised listener ${l} is not in KAFKA_LISTENERS`);
      continue;
    }
    if (controllers.includes(l))
      problems.push(`${name}: the controller listener ${l} is advertised`);
    if (LOOPBACK.has(a.host)) {
      // Reached from the host: a published port must lead to this listener.
      if (!published.some((p) => p.published === a.port && p.target === own.port))
        problems.push(
          `${name}: ${l} advertises ${a.host}:${a.port} but no published port ${a.port} leads to its ${own.port}`,
        );
      else external++;
    } else if (resolvable(a.host).includes(name)) {
      if (a.port !== own.port)
        problems.push(`${name}: ${l} advertises ${a.host}:${a.port} but listens on ${own.port}`);
      else internal++;
    } else problems.push(`${name}: ${l} advertises '${a.host}', which no container can resolve`);
  }
  if (internal === 0)
    problems.push(
      `${name}: no listener advertised as <service>:<port> for the compose network (the gateway would be sent to 127.0.0.1)`,
    );
  if (external === 0)
    problems.push(`${name}: no listener advertised for the host (127.0.0.1:<published port>)`);
  const inter = (env.KAFKA_INTER_BROKER_LISTENER_NAME ?? 'PLAINTEXT').toUpperCase();
  const interAd = advertised.get(inter);
  if (!interAd || LOOPBACK.has(interAd.host))
    problems.push(
      `${name}: the inter-broker listener ${inter} must be advertised on the compose network`,
    );
  for (const voter of (env.KAFKA_CONTROLLER_QUORUM_VOTERS ?? '').split(',').filter(Boolean)) {
    const m = /^\d+@([^:]+):(\d+)$/.exec(voter.trim());
    const ctl = controllers.map((c) => listeners.get(c)).find(Boolean);
    if (!m) problems.push(`${name}: cannot read quorum voter '${voter}'`);
    else if (!LOOPBACK.has(m[1]) && !resolvable(m[1]).includes(name))
      problems.push(`${name}: quorum voter host '${m[1]}' does not resolve to ${name}`);
    else if (ctl && Number(m[2]) !== ctl.port)
      problems.push(
        `${name}: quorum voter port ${m[2]} is not the controller listener's ${ctl.port}`,
      );
  }
  return problems;
}

/** The group DNs of JUNCTION_LDAP_GROUP_ROLES (`dn=role,...;...`, split at the last `=`, or JSON). */
function mappedGroups(raw: string): string[] {
  if (raw.trim().startsWith('{')) return Object.keys(JSON.parse(raw) as object);
  return raw
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => e.slice(0, e.lastIndexOf('=')));
}

function checkLdap(
  gatewayEnv: Env,
  config: ReturnType<typeof loadGatewayConfig>,
  name: string,
  services: Record<string, Service>,
  inputs: ComposeInputs,
  resolvable: (host: string) => string[],
): string[] {
  const problems: string[] = [];
  const ldap = config.auth.ldap;
  if (!ldap) return ['gateway: LDAP sign-in is not configured (JUNCTION_LDAP_URL)'];
  const url = new URL(ldap.url);
  if (!resolvable(url.hostname).includes(name))
    problems.push(`gateway: JUNCTION_LDAP_URL host '${url.hostname}' is not the ${name} service`);
  const file = dockerfileOf(services[name]);
  const text = file ? inputs.dockerfiles[file] : undefined;
  const ldapEnv = serviceEnvironment(
    services[name],
    inputs.hostEnv ?? {},
    text ? imageEnvironment(text) : {},
  );
  const port = Number(url.port || (url.protocol === 'ldaps:' ? 636 : 389));
  const listens =
    url.protocol === 'ldaps:'
      ? Number(ldapEnv.JUNCTION_LDAPS_PORT ?? 3636)
      : Number(ldapEnv.JUNCTION_LDAP_PORT ?? 3389);
  if (port !== listens)
    problems.push(`gateway: JUNCTION_LDAP_URL port ${port} is not ${name}'s ${listens}`);
  if (
    ldapEnv.JUNCTION_LDAP_LISTEN_HOST === undefined ||
    LOOPBACK.has(ldapEnv.JUNCTION_LDAP_LISTEN_HOST)
  )
    problems.push(
      `${name}: slapd listens on 127.0.0.1 only (JUNCTION_LDAP_LISTEN_HOST); the gateway cannot reach it`,
    );
  const seed = parseLdif(inputs.seedLdif);
  const find = (dn: string) => seed.find((e) => sameDn(e.dn, dn));
  const bind = find(ldap.bindDn);
  if (!bind) problems.push(`gateway: JUNCTION_LDAP_BIND_DN ${ldap.bindDn} is not in the seed`);
  else if (!(bind.attrs.userpassword ?? []).includes(ldap.bindPassword))
    problems.push('gateway: JUNCTION_LDAP_BIND_PASSWORD is not the seeded password of the bind DN');
  if (!find(ldap.userBase))
    problems.push(`gateway: JUNCTION_LDAP_USER_BASE ${ldap.userBase} is not in the seed`);
  const groups = seed.filter((e) =>
    (e.attrs.objectclass ?? []).some((c) => /^groupOfNames$/i.test(c)),
  );
  for (const dn of mappedGroups(gatewayEnv.JUNCTION_LDAP_GROUP_ROLES ?? ''))
    if (!groups.some((g) => sameDn(g.dn, dn)))
      problems.push(`gateway: JUNCTION_LDAP_GROUP_ROLES names ${dn}, not a group in the seed`);
  for (const g of groups)
    if (ldap.groupRoles.rolesFor([g.dn]).length === 0)
      problems.push(`gateway: the seeded group ${g.dn} maps to no role`);
  return problems;
}
