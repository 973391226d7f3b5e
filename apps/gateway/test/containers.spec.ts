import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { JsonataEngine, parseRouteSource, validateRoute } from '@junction/pipeline';
import { CONNECTORS } from '@junction/connectors';
import { GATEWAY_CONFIG } from '../src/config';
import { DEMO_ROUTE } from '../src/demo-route';
import {
  checkCompose,
  checkDockerfile,
  Compose,
  interpolate,
  parseLdif,
  portMappings,
  serviceEnvironment,
} from './container-checks';

const ROOT = join(__dirname, '..', '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCKERFILE = read('Dockerfile');
const LDAP_DOCKERFILE = read('docker/ldap/Dockerfile');
const COMPOSE = parse(read('docker-compose.yml')) as Compose;
const SEED = read('scripts/ldap/seed.ldif');
const START = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
const gatewayOptions = { gateway: { startScript: START, port: GATEWAY_CONFIG.PORT.default } };
const dockerfiles = { Dockerfile: DOCKERFILE, 'docker/ldap/Dockerfile': LDAP_DOCKERFILE };

const clone = (): Compose => structuredClone(COMPOSE);
const check = (compose: Compose, hostEnv = {}, files = dockerfiles) =>
  checkCompose({ compose, dockerfiles: files, seedLdif: SEED, hostEnv, initScripts });
/** The .sql files of a folder of the checkout, as the postgres image runs them on a new volume. */
const initScripts = (dir: string) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => read(join(dir, f)));
const gatewayEnv = (c: Compose) => c.services.gateway.environment as Record<string, string>;

describe('Dockerfile (no Docker engine here: parsed and linted)', () => {
  it('passes the linter and the hadolint-style rules, and runs what `npm start` runs as a non-root user', () => {
    expect(checkDockerfile(DOCKERFILE, gatewayOptions)).toEqual([]);
    expect(checkDockerfile(LDAP_DOCKERFILE)).toEqual([]);
    expect(START).toBe('node --max-semi-space-size=32 bin/gateway.js');
  });

  it('.dockerignore keeps installs, builds, data and secrets out of the context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['.git', '**/node_modules', 'dist', 'data', '.cache', '.env'])
      expect(ignored).toContain(entry);
  });

  const broken: [string, (text: string) => string, RegExp][] = [
    ['USER root', (t) => t.replace('USER node', 'USER root'), /runs as root.*DL3002/],
    ['USER 0:0', (t) => t.replace('USER node', 'USER 0:0'), /DL3002/],
    ['no USER', (t) => t.replace('USER node\n', ''), /runs as root/],
    [
      'CMD in shell form',
      (t) =>
        t.replace(
          'CMD ["node", "--max-semi-space-size=32", "bin/gateway.js"]',
          'CMD node --max-semi-space-size=32 bin/gateway.js',
        ),
      /DL3025/,
    ],
    [
      'CMD not npm start',
      (t) => t.replace('bin/gateway.js"]', 'dist/main.js"]'),
      /not what `npm start` runs/,
    ],
    [
      'EXPOSE another port',
      (t) => t.replace('EXPOSE 8080', 'EXPOSE 3000'),
      /EXPOSE 3000 is not the gateway's PORT 8080/,
    ],
    ['ENV PORT differs', (t) => t.replace('PORT=8080', 'PORT=9090'), /ENV PORT=9090/],
    [
      'latest tag',
      (t) => t.replace(/node:20-bookworm-slim AS runtime/, 'node:latest AS runtime'),
      /DL3007/,
    ],
    ['untagged', (t) => t.replace(/node:20-bookworm-slim AS runtime/, 'node AS runtime'), /DL3006/],
    [
      'ADD',
      (t) => t.replace('COPY --from=build /src/examples ./examples', 'ADD examples ./examples'),
      /DL3020/,
    ],
    ['no HEALTHCHECK', (t) => t.replace(/HEALTHCHECK[^\n]*\\\n[^\n]*\n/, ''), /no HEALTHCHECK/],
    [
      'HEALTHCHECK elsewhere',
      (t) => t.replace('/health/ready', '/metrics'),
      /\/health\/live or \/health\/ready/,
    ],
    [
      'no console',
      (t) => t.replace(/COPY[^\n]*apps\/console\/dist[^\n]*\n/, ''),
      /console's static files/,
    ],
    [
      'dev dependencies kept',
      (t) => t.replace(/ \\\n && npm prune --omit=dev[^\n]*/, ''),
      /dev dependencies/,
    ],
    [
      'npm install in the final stage',
      (t) => t.replace('USER node', 'RUN npm ci\nUSER node'),
      /installs dev dependencies/,
    ],
    [
      'one stage',
      (t) => t.slice(t.indexOf('FROM node:20-bookworm-slim AS runtime')),
      /single stage/,
    ],
    ['bad EXPOSE', (t) => t.replace('EXPOSE 8080', 'EXPOSE 8080 abc'), /Invalid containerPort/],
  ];
  it.each(broken)('refuses a Dockerfile with %s', (_, mutate, expected) => {
    const text = mutate(DOCKERFILE);
    expect(text).not.toBe(DOCKERFILE);
    expect(checkDockerfile(text, gatewayOptions).join('\n')).toMatch(expected);
  });

  it('apt layers: no recommends, lists removed', () => {
    expect(checkDockerfile(LDAP_DOCKERFILE.replace(' --no-install-recommends', ''))).toEqual([
      expect.stringMatching(/DL3015/),
    ]);
    expect(
      checkDockerfile(LDAP_DOCKERFILE.replace(' \\\n && rm -rf /var/lib/apt/lists/*', '')),
    ).toEqual([expect.stringMatching(/DL3009/)]);
  });
});

describe('docker-compose.yml against the gateway configuration schema', () => {
  it('agrees with itself, the Dockerfiles, the LDAP seed and the gateway validation', () => {
    expect(check(COMPOSE)).toEqual([]);
  });

  it('also with the documented variables set from the environment', () => {
    expect(
      check(COMPOSE, {
        JUNCTION_MASTER_KEY: 'ab'.repeat(32),
        JUNCTION_ADMIN_PASSWORD: 'a-long-password',
      }),
    ).toEqual([]);
    expect(check(COMPOSE, { JUNCTION_MASTER_KEY: 'too-short' }).join('\n')).toMatch(
      /JUNCTION_MASTER_KEY/,
    );
    expect(check(COMPOSE, { JUNCTION_ADMIN_PASSWORD: 'short' }).join('\n')).toMatch(
      /JUNCTION_ADMIN_PASSWORD/,
    );
  });

  it('every required value has a default, so `docker compose up` needs no .env', () => {
    const env = serviceEnvironment(COMPOSE.services.gateway, {});
    for (const name of ['DATABASE_URL', 'JUNCTION_MASTER_KEY', 'JUNCTION_ADMIN_PASSWORD', 'HOST'])
      expect(env[name]).toEqual(expect.stringMatching(/./));
  });

  const broken: [string, (c: Compose) => void, RegExp][] = [
    [
      'no master key',
      (c) => delete gatewayEnv(c).JUNCTION_MASTER_KEY,
      /JUNCTION_MASTER_KEY is required/,
    ],
    [
      'HOST on loopback',
      (c) => (gatewayEnv(c).HOST = '127.0.0.1'),
      /HOST=127.0.0.1 is unreachable/,
    ],
    [
      'database on localhost',
      (c) => (gatewayEnv(c).DATABASE_URL = 'postgres://postgres@localhost:5432/junction'),
      /host 'localhost' is not the postgres service/,
    ],
    [
      'database port',
      (c) => (gatewayEnv(c).DATABASE_URL = 'postgres://postgres@postgres:5433/junction'),
      /port 5433 is not postgres's 5432/,
    ],
    [
      'database name',
      (c) => (gatewayEnv(c).DATABASE_URL = 'postgres://postgres@postgres:5432/test'),
      /DATABASE_URL database 'test' is not one postgres creates \(postgres, junction\)/,
    ],
    [
      'database scheme',
      (c) => (gatewayEnv(c).DATABASE_URL = 'mysql://postgres@postgres/junction'),
      /DATABASE_URL/,
    ],
    [
      'Kafka on 127.0.0.1 only',
      (c) => {
        const k = c.services.kafka.environment as Record<string, string>;
        k.KAFKA_ADVERTISED_LISTENERS = 'INTERNAL://127.0.0.1:9092,EXTERNAL://127.0.0.1:19092';
      },
      /no listener advertised as <service>:<port>/,
    ],
    [
      'Kafka advertising an unknown host',
      (c) => {
        const k = c.services.kafka.environment as Record<string, string>;
        k.KAFKA_ADVERTISED_LISTENERS = 'INTERNAL://broker:9092,EXTERNAL://127.0.0.1:19092';
      },
      /'broker', which no container can resolve/,
    ],
    [
      'Kafka external port not published',
      (c) => (c.services.kafka.ports = ['127.0.0.1:29092:19092']),
      /no published port 19092/,
    ],
    [
      'Kafka listener without protocol',
      (c) => {
        const k = c.services.kafka.environment as Record<string, string>;
        k.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP = 'INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT';
      },
      /listener EXTERNAL has no security protocol/,
    ],
    [
      'Kafka quorum voter elsewhere',
      (c) => {
        (c.services.kafka.environment as Record<string, string>).KAFKA_CONTROLLER_QUORUM_VOTERS =
          '1@kafka:9094';
      },
      /quorum voter port 9094/,
    ],
    ['no healthcheck', (c) => delete c.services.rabbitmq.healthcheck, /rabbitmq: no healthcheck/],
    [
      'not waiting for Kafka',
      (c) => {
        delete (c.services.gateway.depends_on as Record<string, unknown>).kafka;
      },
      /depends_on kafka/,
    ],
    [
      'a port on every interface',
      (c) => (c.services.postgres.ports = ['5432:5432']),
      /published on every interface/,
    ],
    [
      'gateway port not published',
      (c) => (c.services.gateway.ports = ['127.0.0.1:8080:9090']),
      /no published port targets PORT 8080/,
    ],
    [
      'LDAP on another host',
      (c) => (gatewayEnv(c).JUNCTION_LDAP_URL = 'ldap://127.0.0.1:3389'),
      /JUNCTION_LDAP_URL host '127.0.0.1'/,
    ],
    [
      'LDAP port',
      (c) => (gatewayEnv(c).JUNCTION_LDAP_URL = 'ldap://ldap:389'),
      /port 389 is not ldap's 3389/,
    ],
    [
      'LDAP bind password',
      (c) => (gatewayEnv(c).JUNCTION_LDAP_BIND_PASSWORD = 'wrong'),
      /BIND_PASSWORD is not the seeded/,
    ],
    [
      'LDAP group not seeded',
      (c) =>
        (gatewayEnv(c).JUNCTION_LDAP_GROUP_ROLES +=
          ';cn=nobody,ou=groups,dc=junction,dc=test=admin'),
      /cn=nobody.*not a group in the seed/,
    ],
    [
      'LDAP group unmapped',
      (c) =>
        (gatewayEnv(c).JUNCTION_LDAP_GROUP_ROLES =
          'cn=gateway-admins,ou=groups,dc=junction,dc=test=admin'),
      /gateway-viewers.*maps to no role/,
    ],
    [
      'LDAP companion missing',
      (c) => delete gatewayEnv(c).JUNCTION_LDAP_USER_BASE,
      /JUNCTION_LDAP_USER_BASE is required/,
    ],
    [
      'LDAP bad DN',
      (c) => (gatewayEnv(c).JUNCTION_LDAP_BIND_DN = 'not a dn'),
      /JUNCTION_LDAP_BIND_DN/,
    ],
    [
      'slapd on loopback',
      (c) => (c.services.ldap.environment = { JUNCTION_LDAP_LISTEN_HOST: '127.0.0.1' }),
      /listens on 127.0.0.1 only/,
    ],
    ['no Kafka', (c) => delete c.services.kafka, /no kafka service/],
  ];
  it.each(broken)('refuses a compose file with %s', (_, mutate, expected) => {
    const c = clone();
    mutate(c);
    expect(check(c).join('\n')).toMatch(expected);
  });

  it('the routes job calls the gateway by its service name and PORT, once it is healthy', () => {
    const command = () => COMPOSE.services.routes as { command: string[] };
    expect(command().command.join(' ')).toContain('login http://gateway:8080');
    for (const [url, expected] of [
      ['http://127.0.0.1:8080', /127.0.0.1:8080 is not the gateway service/],
      ['http://gateway:9090', /gateway:9090 is not the gateway's PORT 8080/],
      ['http://localhost', /localhost is not the gateway service/],
    ] as const) {
      const c = clone();
      const job = c.services.routes as { command: string[] };
      job.command = job.command.map((part) => part.replace('http://gateway:8080', url));
      expect(check(c).join('\n')).toMatch(expected);
    }
    const c = clone();
    c.services.routes.depends_on = { gateway: { condition: 'service_started' } };
    expect(check(c)).toEqual([
      'routes: depends_on gateway with condition service_healthy is missing',
    ]);
  });

  it('examples/routes/demo-orders.route.yaml is the demo route the embedded default seeds', async () => {
    const text = read('examples/routes/demo-orders.route.yaml');
    const parsed = parseRouteSource(text);
    expect(parsed.problems).toEqual([]);
    expect(parsed.value).toEqual(DEMO_ROUTE);
    expect(
      await validateRoute(parsed.value, {
        expressions: new JsonataEngine(),
        hmacKey: Buffer.from('k'),
        protocols: CONNECTORS,
      }),
    ).toEqual([]);
  });

  it('the gateway and postgres must agree on any port (generated)', () => {
    for (const port of [5432, 5433, 6543, 15432, 25000]) {
      const withPort = (pgPort: number) => {
        const c = clone();
        (c.services.postgres.environment as Record<string, string>).PGPORT = String(pgPort);
        for (const name of ['DATABASE_URL', 'JUNCTION_MIGRATION_DATABASE_URL'])
          gatewayEnv(c)[name] = gatewayEnv(c)[name].replace(
            '@postgres:5432/',
            `@postgres:${port}/`,
          );
        return check(c);
      };
      expect(withPort(port)).toEqual([]);
      const off = withPort(port + 1).join('\n');
      expect(off).toMatch(new RegExp(`DATABASE_URL port ${port} is not postgres's ${port + 1}`));
      expect(off).toMatch(new RegExp(`JUNCTION_MIGRATION_DATABASE_URL port ${port} is not`));
    }
  });

  it('roles and databases must be ones the postgres service creates (generated)', () => {
    for (const [user, db] of [
      ['app', 'junction'],
      ['junction_app', 'orders'],
      ['JUNCTION_APP', 'Junction'],
    ]) {
      const c = clone();
      gatewayEnv(c).DATABASE_URL = `postgres://${user}:x@postgres:5432/${db}`;
      gatewayEnv(c).JUNCTION_MIGRATION_DATABASE_URL =
        `postgres://junction_owner:x@postgres:5432/${db}`;
      const found = check(c).join('\n');
      if (user !== 'junction_app')
        expect(found).toMatch(new RegExp(`DATABASE_URL user '${user}' is not a role`));
      if (db !== 'junction')
        expect(found).toMatch(new RegExp(`database '${db}' is not one postgres creates`));
    }
    const same = clone();
    gatewayEnv(same).DATABASE_URL = gatewayEnv(same).JUNCTION_MIGRATION_DATABASE_URL;
    expect(check(same)).toEqual([
      'gateway: the runtime role is the schema owner (it could rewrite the audit trail)',
    ]);
    const notOwner = clone();
    gatewayEnv(notOwner).JUNCTION_MIGRATION_DATABASE_URL =
      'postgres://postgres@postgres:5432/junction';
    expect(check(notOwner)).toEqual([
      "gateway: JUNCTION_MIGRATION_DATABASE_URL's 'postgres' does not own the database",
    ]);
    const noInit = clone();
    noInit.services.postgres.volumes = ['postgres-data:/var/lib/postgresql/data'];
    expect(check(noInit).join('\n')).toMatch(
      /user 'junction_app' is not a role postgres creates \(postgres\)/,
    );
  });

  it('the Dockerfile EXPOSE and the compose PORT must agree (generated)', () => {
    for (const port of [3000, 8081, 9999]) {
      const c = clone();
      gatewayEnv(c).PORT = String(port);
      c.services.gateway.ports = [`127.0.0.1:8080:${port}`];
      const job = c.services.routes as { command: string[] };
      job.command = job.command.map((part) => part.replace('gateway:8080', `gateway:${port}`));
      expect(check(c)).toEqual([`gateway: the Dockerfile does not EXPOSE PORT ${port}`]);
      const files = {
        ...dockerfiles,
        Dockerfile: DOCKERFILE.replace('EXPOSE 8080', `EXPOSE ${port}`).replace(
          'PORT=8080',
          `PORT=${port}`,
        ),
      };
      expect(check(c, {}, files)).toEqual([]);
    }
  });
});

describe('compose helpers', () => {
  it('interpolates as compose does', () => {
    const env = { SET: 'v', EMPTY: '' };
    expect(interpolate('${SET:-d}/${UNSET:-d}/${EMPTY:-d}/${EMPTY-d}/${UNSET-d}', env)).toBe(
      'v/d/d//d',
    );
    expect(interpolate('$$HOME ${SET} $SET ${UNSET}', env)).toBe('$HOME v v ');
    expect(() => interpolate('${UNSET:?set it}', env)).toThrow(/set it/);
    expect(() => interpolate('${EMPTY:?set it}', env)).toThrow(/set it/);
    expect(interpolate('${EMPTY?set it}', env)).toBe('');
  });

  it('reads short and long port syntax', () => {
    expect(
      portMappings({
        ports: [
          '127.0.0.1:1:2',
          '3:4',
          '5',
          '127.0.0.1:6:7/tcp',
          { target: 8, published: '9', host_ip: '127.0.0.1' },
        ],
      }),
    ).toEqual([
      { hostIp: '127.0.0.1', published: 1, target: 2 },
      { hostIp: undefined, published: 3, target: 4 },
      { hostIp: undefined, published: undefined, target: 5 },
      { hostIp: '127.0.0.1', published: 6, target: 7 },
      { hostIp: '127.0.0.1', published: 9, target: 8 },
    ]);
  });

  it('reads the seed: the README users and their groups', () => {
    const seed = parseLdif(SEED);
    const members = (cn: string) => seed.find((e) => e.dn.startsWith(`cn=${cn},`))?.attrs.member;
    expect(members('gateway-admins')).toEqual(['uid=alice,ou=people,dc=junction,dc=test']);
    expect(members('gateway-operators')).toEqual([
      'cn=Frank (Ops)\\, Jr,ou=people,dc=junction,dc=test',
    ]);
  });
});
