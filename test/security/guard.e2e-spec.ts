import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as amqp from 'amqplib';
import { Client } from 'pg';
import { createTestDatabase } from '@junction/database';
import { ADMIN_PASSWORD, eventually, freePort, MASTER_KEY } from '../gateway-process';
import { Spawned, spawnNode } from '../process';

/**
 * Issue #11, classes 1 and 4, against the gateway as a process with real PostgreSQL and
 * RabbitMQ: nothing a user sends can stall it, and no card number reaches an error text,
 * wherever that text goes (ingest reply, dead-letter header on RabbitMQ, dead-letter API, route
 * status, the dead_letters row, the log).
 */
const ROOT = join(__dirname, '../..');
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const RUN = `g${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const SEED = parseInt(randomBytes(2).toString('hex'), 16);

/** The digits of a text in ASCII, whatever script they are written in, without anything else. */
function digitsOf(text: string): string {
  let out = '';
  for (const ch of text) {
    if (/^\p{Nd}$/u.test(ch)) {
      let zero = ch.codePointAt(0)!;
      while (/^\p{Nd}$/u.test(String.fromCodePoint(zero - 1))) zero--;
      out += String((ch.codePointAt(0)! - zero) % 10);
    }
  }
  return out;
}

/** Card numbers (Luhn-valid, several brands) and ways to write them. */
const CARDS = ['4111111111111111', '5500000000000004', '378282246310005', '6011000990139424'];
const WRITE: Array<[string, (digits: string) => string]> = [
  ['plain', (d) => d],
  ['spaces', (d) => d.replace(/(\d{4})(?=\d)/g, '$1 ')],
  ['dashes', (d) => d.replace(/(\d{4})(?=\d)/g, '$1-')],
  ['dots', (d) => d.replace(/(\d{4})(?=\d)/g, '$1.')],
  ['full-width', (d) => [...d].map((c) => String.fromCodePoint(0xff10 + Number(c))).join('')],
  ['zero-width', (d) => [...d].join('\u200b')],
  ['en dashes', (d) => d.replace(/(\d{4})(?=\d)/g, '$1\u2013')],
];

/**
 * A refusal takes milliseconds; what it guards against (backtracking over 40 characters, parsing
 * 20,000 terms on the event loop) takes minutes to hours. The bound sits far from both, so a CI
 * machine running suites side by side cannot fail it.
 */
const REFUSED_WITHIN_MS = 5_000;

describe('security: no stall, no card number in any error', () => {
  let db: { url: string; drop(): Promise<void> };
  let gateway: Spawned;
  let base: string;
  let admin = '';
  let viewer = '';
  let amqpConnection: amqp.ChannelModel;
  let channel: amqp.Channel;

  async function login(username: string, password: string): Promise<string> {
    const res = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  }

  async function api(
    token: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; text: string }> {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
  }

  beforeAll(async () => {
    db = await createTestDatabase('guard');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // Logs on: they are checked for card numbers too.
    gateway = spawnNode(
      ['bin/gateway.js'],
      {
        DATABASE_URL: db.url,
        JUNCTION_MASTER_KEY: MASTER_KEY,
        JUNCTION_ADMIN_PASSWORD: ADMIN_PASSWORD,
        JUNCTION_SEED_DEMO: 'false',
        PORT: String(port),
        JUNCTION_LOG: '',
      },
      ROOT,
    );
    await gateway.waitFor(/listening on/, 60_000);
    admin = await login('admin', ADMIN_PASSWORD);
    const created = await api(admin, 'POST', '/users', {
      username: 'viewer',
      password: 'viewer-password-1234',
      roles: ['viewer'],
    });
    expect(created.status).toBe(201);
    viewer = await login('viewer', 'viewer-password-1234');
    amqpConnection = await amqp.connect(AMQP_URL);
    channel = await amqpConnection.createChannel();
  }, 120_000);

  afterAll(async () => {
    if (gateway && gateway.child.exitCode === null) {
      gateway.child.kill('SIGTERM');
      await gateway.exited().catch(() => undefined);
    }
    await channel?.deleteQueue(`${RUN}.dlq`).catch(() => undefined);
    await channel?.close().catch(() => undefined);
    await amqpConnection?.close().catch(() => undefined);
    await db?.drop();
  }, 60_000);

  /** Route documents no one could analyse in time: slow patterns, thousands of them, a huge one. */
  function hostileDocuments(): Array<{
    name: string;
    doc: unknown;
    pointer: RegExp;
    message: RegExp;
  }> {
    const route = (pipeline: unknown[]) => ({
      id: 'hostile',
      source: { type: 'http', path: 'hostile', auth: 'none' },
      pipeline,
      destinations: [{ type: 'log' }],
    });
    // Counted repetition in counted repetition: recheck needs seconds for each (fresh per run).
    const slow = (n: number) => `(a{1,${n}}b{1,${n}}){1,${n}}c`;
    const slowDoc = (k: number) =>
      route([
        {
          filter: [0, 1, 2, 3]
            .map((i) => `$match(x, /${slow(30 + ((SEED + k * 7 + i) % 200))}/)`)
            .join(' or '),
        },
        { filter: `$match(x, /(\\d{1,${31 + (SEED % 50)}}[.,]?){1,30}x/)` },
      ]);
    const terms = Array.from({ length: 3000 }, (_, i) => `$contains(x, /t${SEED}q${i}z/)`);
    const many: unknown[] = [];
    for (let i = 0; i < terms.length; i += 200)
      many.push({ filter: terms.slice(i, i + 200).join(' or ') });
    return [
      {
        name: 'slow patterns',
        doc: slowDoc(1),
        pointer: /^\/pipeline\/[01]\/filter$/,
        message: /could not be analysed within|analysis budget|exponential/,
      },
      {
        name: 'other slow patterns',
        doc: slowDoc(2),
        pointer: /^\/pipeline\/[01]\/filter$/,
        message: /could not be analysed within|analysis budget|exponential/,
      },
      {
        name: '3000 trivial patterns',
        doc: route(many),
        pointer: /^\/pipeline\/\d+\/filter$/,
        message: /more than 100 regular expressions/,
      },
      {
        name: 'one huge expression',
        doc: route([{ filter: Array.from({ length: 9000 }, (_, i) => `x = ${i}`).join(' or ') }]),
        pointer: /^\/pipeline\/0\/filter$/,
        message: /over the 8192-character limit/,
      },
      // JSON Schemas ajv compiles in seconds on the event loop (a probe: 8 to 12 s each).
      {
        name: 'a oneOf of 3000 branches',
        doc: route([
          {
            validate: { schema: { oneOf: Array.from({ length: 3000 }, (_, i) => ({ const: i })) } },
          },
        ]),
        pointer: /^\/pipeline\/0\/validate\/schema$/,
        message: /is too large to compile/,
      },
      {
        name: '6000 $refs into $defs',
        doc: route([
          {
            validate: {
              schema: {
                $defs: Object.fromEntries(
                  Array.from({ length: 6000 }, (_, i) => [
                    `d${i}`,
                    { type: 'string', minLength: i },
                  ]),
                ),
                properties: Object.fromEntries(
                  Array.from({ length: 6000 }, (_, i) => [`p${i}`, { $ref: `#/$defs/d${i}` }]),
                ),
              },
            },
          },
        ]),
        pointer: /^\/pipeline\/0\/validate\/schema$/,
        message: /is too large to compile/,
      },
    ];
  }

  /** The answer times (ms) of /health/live, asked one after another while `work` runs. */
  async function probesDuring<T>(work: Promise<T>): Promise<{ result: T; probes: number[] }> {
    let done = false;
    const finished = work.finally(() => (done = true));
    const probes: number[] = [];
    const probeDeadline = Date.now() + 60_000;
    while (!done && Date.now() < probeDeadline) {
      const started = performance.now();
      const res = await fetch(`${base}/health/live`);
      await res.arrayBuffer();
      probes.push(performance.now() - started);
      expect(res.status).toBe(200);
    }
    return { result: await finished, probes };
  }

  /**
   * The work took a while and health was asked throughout. Work on the event loop held it for
   * seconds. On a machine shared with other work (CI runs suites side by side), a probe of an idle
   * gateway now and then takes some hundreds of ms: so 99% of the probes must answer under
   * 300 ms, and every one under 1.5 s.
   */
  function expectResponsive(probes: number[]): void {
    expect(probes.length).toBeGreaterThan(5);
    const sorted = [...probes].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length * 0.99)]).toBeLessThan(300);
    expect(sorted[sorted.length - 1]).toBeLessThan(1500);
  }

  it('YAML texts at the size limit, sent at once, leave /health/live answering; two at a time per user', async () => {
    // A flow sequence is the yaml library's slowest input: 0.4 to 0.7 s to parse this one; a
    // long key over its 30,000 items would be 1.8 GB of JSON pointers, were they made per node.
    const text = (n: number) =>
      n % 2 === 0
        ? `id: ${RUN}-yaml${n}\nextra: [${'1, '.repeat(43_000)}${n}]\n`
        : `{"${'k'.repeat(60_000)}": [${'1,'.repeat(30_000)}${n}]}`;
    const validate = async (token: string, n: number) => {
      const res = await fetch(`${base}/api/v1/routes/validate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/yaml' },
        body: text(n),
      });
      return { n, status: res.status, body: (await res.json()) as { valid: boolean } };
    };
    const { result, probes } = await probesDuring(
      (async () => {
        // A viewer and an admin send four each at once: two of each are parsed, the rest wait
        // for nothing (503), so no one user holds the parsing thread; sent again one by one, all are.
        const burst = await Promise.all(
          Array.from({ length: 8 }, (_, n) => validate(n < 4 ? viewer : admin, n)),
        );
        const again = [];
        for (const { n, status } of burst)
          if (status === 503) again.push(await validate(n < 4 ? viewer : admin, n));
        return { burst, again };
      })(),
    );
    expect(result.burst.map((r) => r.status).sort()).toEqual([
      200, 200, 200, 200, 503, 503, 503, 503,
    ]);
    for (const { status, body } of [
      ...result.burst.filter((r) => r.status === 200),
      ...result.again,
    ])
      expect({ status, valid: body.valid }).toEqual({ status: 200, valid: false });
    expect(result.again).toHaveLength(4);
    expectResponsive(probes);
  }, 120_000);

  it('validate calls from a viewer holding hostile regexes and schemas leave /health/live answering under 100 ms', async () => {
    const documents = hostileDocuments();
    const { result: results, probes } = await probesDuring(
      Promise.all(documents.map(async ({ doc }) => api(viewer, 'POST', '/routes/validate', doc))),
    );
    results.forEach((result, i) => {
      const { pointer, message, name } = documents[i];
      expect({ name, status: result.status }).toEqual({ name, status: 200 });
      const body = result.body as {
        valid: boolean;
        problems: Array<{ pointer: string; message: string }>;
      };
      expect(body.valid).toBe(false);
      expect(body.problems.length).toBeGreaterThan(0);
      for (const problem of body.problems) {
        expect(problem.pointer).toMatch(pointer);
        expect(problem.message).toMatch(message);
      }
    });
    expectResponsive(probes);
  }, 120_000);

  it('saving a route with a ReDoS pattern is refused at the field; a safe one is saved', async () => {
    const doc = (filter: string) => ({
      id: `${RUN}-save`,
      source: { type: 'http', path: `${RUN}/save`, auth: 'none' },
      pipeline: [{ filter }],
      destinations: [{ type: 'log' }],
    });
    const refused = await api(admin, 'POST', '/routes', doc('$match(x, /^(\\w+\\s?)+$/)'));
    expect(refused.status).toBe(400);
    expect(refused.text).toMatch(/\/pipeline\/0\/filter/);
    expect(refused.text).toMatch(/exponential time/);
    const saved = await api(admin, 'POST', '/routes', doc('$exists($match(x, /^[a-z]+$/))'));
    expect(saved.status).toBe(201);
  }, 60_000);

  it('$eval cannot run a regex built from message data: the message fails fast, the process goes on', async () => {
    const created = await api(admin, 'POST', '/routes', {
      id: `${RUN}-eval`,
      source: { type: 'http', path: `${RUN}/eval`, auth: 'none' },
      pipeline: [{ transform: '{ "result": $eval(code) }' }],
      destinations: [{ type: 'log' }],
    });
    expect(created.status).toBe(201);
    const send = (code: string) =>
      fetch(`${base}/ingest/${RUN}/eval`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code }),
      });
    await eventually(async () => {
      const res = await send('1 + 1');
      expect(res.status).toBe(202);
    });
    for (const pattern of ['(a+)+$', '(a|aa)+$', '(\\w+\\s?)+$', 'x']) {
      const started = performance.now();
      const res = await send(`$match("${'a'.repeat(40)}!", /${pattern}/)`);
      const ms = performance.now() - started;
      expect(res.status).toBe(422);
      expect(await res.text()).toMatch(/was not checked for catastrophic backtracking/);
      expect(ms).toBeLessThan(REFUSED_WITHIN_MS);
    }
    const longCode = Array.from({ length: 20_000 }, (_, i) => `x = ${i}`).join(' or ');
    const started = performance.now();
    const long = await send(longCode);
    expect(long.status).toBe(422);
    expect(await long.text()).toMatch(/over the 8192-character limit/);
    expect(performance.now() - started).toBeLessThan(REFUSED_WITHIN_MS);
    // The process goes on: one probe, held to the stall test's bound for a single probe.
    const live = performance.now();
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    expect(performance.now() - live).toBeLessThan(1500);
  }, 60_000);

  it('no card number, however written, reaches any error text: reply, AMQP header, dead-letter API and row, status, log', async () => {
    expect(
      (
        await api(admin, 'POST', '/connections', {
          name: 'rabbit',
          type: 'amqp',
          config: { url: 'amqp://guest@127.0.0.1:5672', vhost: '/' },
          secrets: { password: 'guest' },
        })
      ).status,
    ).toBe(201);
    const routeId = `${RUN}-cards`;
    const created = await api(admin, 'POST', '/routes', {
      id: routeId,
      source: { type: 'http', path: `${RUN}/cards`, auth: 'none' },
      pipeline: [
        {
          validate: {
            schema: {
              type: 'object',
              if: { properties: { kind: { const: 'schema' } } },
              then: { additionalProperties: { type: 'string' } },
            },
          },
        },
        {
          transform: `kind = "error" ? $error("card " & pan & " declined")
            : kind = "cast" ? { "n": $number(pan & " x") }
            : kind = "compare" ? { "b": pan < 5 }
            : kind = "millis" ? { "t": $toMillis(pan) }
            : $`,
        },
      ],
      destinations: [{ type: 'log' }],
      errors: { deadLetter: { type: 'amqp', connection: 'rabbit', queue: `${RUN}.dlq` } },
    });
    expect(created.status).toBe(201);

    const sent: Array<{ digits: string; kind: string; format: string }> = [];
    const replies: string[] = [];
    const post = (body: string) =>
      fetch(`${base}/ingest/${RUN}/cards`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    await eventually(async () => {
      expect((await post(JSON.stringify({ kind: 'fine' }))).status).toBe(202);
    });
    let i = 0;
    for (const kind of ['error', 'cast', 'compare', 'millis', 'schema', 'json']) {
      for (const [format, write] of WRITE) {
        if (kind === 'json' && format === 'plain') continue; // that one is valid JSON
        const digits = CARDS[i++ % CARDS.length];
        const pan = write(digits);
        const body =
          kind === 'schema'
            ? JSON.stringify({ kind, [pan]: 1 })
            : kind === 'json'
              ? `{"kind": "json", "pan": ${pan} }`
              : JSON.stringify({ kind, pan });
        const res = await post(body);
        const text = `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await res.text()}`;
        expect({ kind, format, status: res.status }).toEqual({ kind, format, status: 422 });
        replies.push(text);
        sent.push({ digits, kind, format });
        if (kind === 'error' || kind === 'cast' || kind === 'compare' || kind === 'millis')
          expect({ kind, format, redacted: text.includes('[PAN REDACTED]') }).toEqual({
            kind,
            format,
            redacted: true,
          });
      }
    }
    const leaks = (where: string, texts: string[]) => {
      const found: string[] = [];
      for (const text of texts) {
        const digits = digitsOf(text);
        for (const card of CARDS)
          if (digits.includes(card)) found.push(`${where}: ${text.slice(0, 300)}`);
      }
      return found;
    };
    expect(leaks('ingest reply', replies)).toEqual([]);

    // The broker's dead-letter copy: its x-junction-error header.
    const headers: string[] = [];
    await eventually(
      async () => {
        for (;;) {
          const message = await channel.get(`${RUN}.dlq`, { noAck: true });
          if (!message) break;
          headers.push(String(message.properties.headers?.['x-junction-error'] ?? ''));
        }
        expect(headers.length).toBe(sent.length);
      },
      60_000,
      'every dead letter on RabbitMQ',
    );
    expect(headers.filter((h) => h.includes('[PAN REDACTED]')).length).toBeGreaterThanOrEqual(
      sent.filter((s) => s.kind !== 'json' && s.kind !== 'schema').length,
    );
    expect(leaks('x-junction-error', headers)).toEqual([]);

    // The dead-letter API (operator) and route status (viewer).
    const list = await api(admin, 'GET', `/dead-letters?routeId=${routeId}&limit=500`);
    expect(list.status).toBe(200);
    expect(list.text).toContain('[PAN REDACTED]');
    expect(leaks('dead-letter API', [list.text])).toEqual([]);
    const status = await api(viewer, 'GET', `/routes/${routeId}/status`);
    expect(status.status).toBe(200);
    expect(leaks('route status', [status.text])).toEqual([]);

    // The dead_letters rows in Postgres.
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const rows = await pg.query<{ reason: string }>(
        'SELECT reason FROM dead_letters WHERE route_id = $1',
        [routeId],
      );
      expect(rows.rows.length).toBe(sent.length);
      expect(
        leaks(
          'dead_letters.reason',
          rows.rows.map((r) => r.reason),
        ),
      ).toEqual([]);
    } finally {
      await pg.end();
    }

    // And the gateway's log.
    expect(leaks('log', gateway.output().split('\n'))).toEqual([]);
  }, 180_000);
});
