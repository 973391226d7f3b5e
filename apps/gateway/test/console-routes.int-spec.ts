/**
 * The route endpoints the console's editor uses, against the real gateway on a real Postgres:
 * YAML sources kept verbatim per version, dry runs of unsaved documents, one expression at a
 * time, the route list in one call, samples that guard deploys, connection checks.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { RoutesService } from '@junction/registry';
import { startHttpTarget } from './http-target';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';
jest.setTimeout(60_000);

let gateway: TestGateway;
let adminToken: string;
let editorToken: string;
let viewerToken: string;
const PASSWORD = 'console-routes-0123456789';

/**
 * "Refused quickly" means refused before a hang or a run to the end, which would take minutes:
 * the status or error code proves the limit fired, and this bound only catches a refusal that
 * came after the work was done. It is wide because a loaded CI machine once took 7 s here.
 */
const QUICKLY_MS = 30_000;

const yaml = (token: string) => ({ token, headers: { 'content-type': 'application/yaml' } });

function ok(res: TestResponse, status = 200): unknown {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${res.text}`);
  return res.body;
}

beforeAll(async () => {
  gateway = await startTestGateway();
  adminToken = await gateway.login('admin', gateway.adminPassword);
  for (const role of ['editor', 'viewer'])
    await gateway.create(adminToken, '/api/v1/users', {
      username: `cr-${role}`,
      password: PASSWORD,
      roles: [role],
    });
  editorToken = await gateway.login('cr-editor', PASSWORD);
  viewerToken = await gateway.login('cr-viewer', PASSWORD);
});

afterAll(async () => {
  await gateway?.close();
});

function routeYaml(id: string, extra = ''): string {
  return [
    `# Orders from the shop, to the ERP log`,
    `id: ${id}   # keep the id stable`,
    `description: Orders ${id}`,
    `source:`,
    `  type: http`,
    `  path: yaml/${id}`,
    `  mode: async`,
    `  auth: apiKey`,
    `pipeline:`,
    `  # keep only what the ERP needs`,
    `  - transform: '{ "orderId": id, "amount": total }'`,
    `destinations:`,
    `  - type: log${extra}`,
    ``,
  ].join('\n');
}

describe('routes keep their YAML source verbatim per version', () => {
  it('POST as YAML, read back byte for byte: comments and key order survive', async () => {
    const text = routeYaml('yaml-a');
    const created = ok(
      await gateway.request('POST', '/api/v1/routes', { ...yaml(editorToken), body: text }),
      201,
    ) as { id: string; latestVersion: number; document: Record<string, unknown> };
    expect(created).toMatchObject({ id: 'yaml-a', latestVersion: 1, description: 'Orders yaml-a' });
    const v1 = ok(
      await gateway.request('GET', '/api/v1/routes/yaml-a/versions/1', { token: viewerToken }),
    ) as { source: string; sourceFormat: string; document: unknown };
    expect(v1.source).toBe(text);
    expect(v1.sourceFormat).toBe('yaml');
    expect(v1.document).toMatchObject({ id: 'yaml-a', source: { path: 'yaml/yaml-a' } });
    for (const [how, opts] of [
      ['accept', { token: viewerToken, headers: { accept: 'application/yaml' } }],
      ['format', { token: viewerToken }],
    ] as const) {
      const url = how === 'format' ? '/api/v1/routes/yaml-a?format=yaml' : '/api/v1/routes/yaml-a';
      const res = await gateway.request('GET', url, opts);
      expect({ how, status: res.status, type: String(res.headers['content-type']) }).toEqual({
        how,
        status: 200,
        type: 'application/yaml; charset=utf-8',
      });
      expect(res.text).toBe(text);
    }
    // Without asking for YAML: JSON as before.
    const json = await gateway.request('GET', '/api/v1/routes/yaml-a', { token: viewerToken });
    expect(json.body).toMatchObject({ id: 'yaml-a', document: { id: 'yaml-a' } });
  });

  it('PUT as YAML (text/yaml): a changed comment is a new version, the same text is not', async () => {
    const v2text = routeYaml('yaml-a').replace('# keep only what', '# only what');
    const put = (body: string, query = '') =>
      gateway.request('PUT', `/api/v1/routes/yaml-a${query}`, {
        token: editorToken,
        headers: { 'content-type': 'text/yaml; charset=utf-8' },
        body,
      });
    expect((ok(await put(v2text)) as { latestVersion: number }).latestVersion).toBe(2);
    expect((ok(await put(v2text)) as { latestVersion: number }).latestVersion).toBe(2);
    const v2 = ok(
      await gateway.request('GET', '/api/v1/routes/yaml-a/versions/2', { token: viewerToken }),
    ) as { source: string };
    expect(v2.source).toBe(v2text);
    // The active version is still 1: GET ?format=yaml shows what runs.
    const active = await gateway.request('GET', '/api/v1/routes/yaml-a?format=yaml', {
      token: viewerToken,
    });
    expect(active.text).toBe(routeYaml('yaml-a'));
    ok(await put(v2text, '?activate=true'));
    const now = await gateway.request('GET', '/api/v1/routes/yaml-a?format=yaml', {
      token: viewerToken,
    });
    expect(now.text).toBe(v2text);
  });

  it('JSON bodies keep their text too; YAML of a JSON version is its document', async () => {
    const doc = {
      id: 'json-a',
      source: { type: 'http', path: 'json/a', mode: 'async', auth: 'apiKey' },
      pipeline: [],
      destinations: [{ type: 'log' }],
    };
    const text = `{ "id": "json-a",\n  "source": ${JSON.stringify(doc.source)}, "pipeline": [], "destinations": [{"type":"log"}] }`;
    ok(await gateway.request('POST', '/api/v1/routes', { token: editorToken, body: text }), 201);
    const v1 = ok(
      await gateway.request('GET', '/api/v1/routes/json-a/versions/1', { token: viewerToken }),
    ) as { source: string; sourceFormat: string };
    expect(v1).toMatchObject({ source: text, sourceFormat: 'json' });
    const asYaml = await gateway.request('GET', '/api/v1/routes/json-a?format=yaml', {
      token: viewerToken,
    });
    expect(asYaml.text).toMatch(/^id: json-a\nsource:\n {2}type: http\n {2}path: json\/a\n/);
  });

  it('a YAML that does not parse is 400 with line and column; schema problems get them too', async () => {
    const bad: Array<[string, number]> = [
      [routeYaml('yaml-bad').replace('  type: http', '  type: http\n  type: amqp'), 6],
      [routeYaml('yaml-bad').replace('\'{ "orderId"', '[{ "orderId"'), 11],
      ['id: x\n\tsource: tab\n', 2],
    ];
    for (const [text, line] of bad) {
      for (const url of ['/api/v1/routes', '/api/v1/routes/validate']) {
        const res = await gateway.request('POST', url, { ...yaml(editorToken), body: text });
        expect({ url, status: res.status }).toEqual({ url, status: 400 });
        const problems = (res.body as { details: { problems: Array<Record<string, unknown>> } })
          .details.problems;
        expect(problems[0]).toMatchObject({
          pointer: '',
          message: expect.stringMatching(/^cannot parse/),
          line: expect.any(Number),
          column: expect.any(Number),
        });
        expect(problems[0].line).toBeGreaterThanOrEqual(line - 1);
        expect(problems[0].line).toBeLessThanOrEqual(line + 1);
      }
    }
    const invalid = routeYaml('yaml-bad').replace('  - type: log', '  - type: log\n    bogus: 1');
    const res = await gateway.request('POST', '/api/v1/routes/validate', {
      ...yaml(viewerToken),
      body: invalid,
    });
    expect(res.body).toEqual({
      valid: false,
      problems: [
        { pointer: '/destinations/0/bogus', message: expect.any(String), line: 14, column: 12 },
      ],
    });
  });

  it('alias bombs and deep nesting are refused with 400, quickly', async () => {
    let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++)
      bomb += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    const deep = `id: deep\nx: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    const dashes = `id: deep\nx:\n${'- '.repeat(50_000)}1\n`;
    for (const [what, body] of Object.entries({ bomb, deep, dashes })) {
      const started = Date.now();
      const res = await gateway.request('POST', '/api/v1/routes/validate', {
        ...yaml(viewerToken),
        body,
      });
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expect(Date.now() - started).toBeLessThan(QUICKLY_MS);
    }
  });

  it('YAML is refused (415) where a route document is not the body', async () => {
    const res = await gateway.request('POST', '/api/v1/users', {
      ...yaml(adminToken),
      body: `username: x${randomBytes(2).toString('hex')}\npassword: 0123456789abcdef\nroles: [admin]\n`,
    });
    expect(res.status).toBe(415);
  });
});

/** Luhn-valid card numbers of several lengths and brands, written in several ways. */
function cardNumbers(): string[] {
  const luhn = (partial: string) => {
    for (let d = 0; d <= 9; d++) {
      const n = partial + d;
      let sum = 0;
      for (let i = 0; i < n.length; i++) {
        let v = Number(n[n.length - 1 - i]);
        if (i % 2 === 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
      }
      if (sum % 10 === 0) return n;
    }
    throw new Error('unreachable');
  };
  const random = (prefix: string, length: number) => {
    let s = prefix;
    while (s.length < length - 1) s += String(randomBytes(1)[0] % 10);
    return luhn(s);
  };
  const visa = random('4', 16);
  const mc = random('51', 16);
  const amex = random('37', 15);
  const long = random('6011', 19);
  return [
    visa,
    mc,
    amex,
    long,
    visa.replace(/(\d{4})(?=\d)/g, '$1 '),
    mc.replace(/(\d{4})(?=\d)/g, '$1-'),
  ];
}

const maskRoute = (id: string) => ({
  id,
  description: 'mask some, not all',
  source: { type: 'http', path: `mask/${id}`, mode: 'async', auth: 'apiKey' },
  pipeline: [
    {
      mask: [
        { path: 'card', with: 'pan' },
        { path: 'email', with: 'hash' },
      ],
    },
  ],
  destinations: [{ type: 'log' }],
});

describe('POST /routes/test: dry run of an unsaved document', () => {
  it('runs a document that is not saved: stages, mask changes, deliveries, and where a card number would leak', async () => {
    for (const pan of cardNumbers()) {
      const message = {
        body: { id: 'o-1', card: pan, email: 'a@b.example', note: `paid with ${pan}`, ok: 'fine' },
        headers: { 'x-channel': 'web' },
      };
      const res = await gateway.request('POST', '/api/v1/routes/test', {
        token: viewerToken,
        body: { document: maskRoute('unsaved-mask'), message },
      });
      expect({ pan, status: res.status }).toEqual({ pan, status: 200 });
      const body = res.body as {
        outcome: string;
        stages: Array<{ kind: string; changed?: string[] }>;
        deliveries: Array<{ body: Record<string, unknown> }>;
        panWarnings: string[];
      };
      expect(body.outcome).toBe('deliver');
      expect(body.stages[0]).toMatchObject({ kind: 'mask', changed: ['/card', '/email'] });
      expect(body.panWarnings).toEqual(['/deliveries/0/body/note']);
      // The answer itself never shows the card number.
      expect(res.text).not.toContain(pan);
      expect(res.text).not.toContain(pan.replace(/\D/g, ''));
      expect(body.deliveries[0].body.ok).toBe('fine');
    }
    // Not saved.
    expect(
      (await gateway.request('GET', '/api/v1/routes/unsaved-mask', { token: viewerToken })).status,
    ).toBe(404);
  });

  it('no warning when the mask covers every card number, also as YAML source', async () => {
    const [pan] = cardNumbers();
    const source = [
      '# the editor buffer',
      'id: unsaved-yaml',
      'source: { type: http, path: mask/yaml, mode: async, auth: apiKey }',
      'pipeline:',
      '  - mask:',
      '      - { path: card, with: last4 }',
      '      - { path: "items[*].pan", with: redact }',
      'destinations:',
      '  - type: log',
      '',
    ].join('\n');
    const res = await gateway.request('POST', '/api/v1/routes/test', {
      token: viewerToken,
      body: {
        source,
        message: { body: { card: pan, items: [{ pan }, { pan, n: 1 }] } },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      outcome: 'deliver',
      panWarnings: [],
      stages: [{ kind: 'mask', changed: ['/card', '/items/0/pan', '/items/1/pan'] }],
    });
  });

  it('a card number written with punctuation between its printed groups is found and not shown', async () => {
    const [visa] = cardNumbers();
    const groups = visa.match(/\d{4}/g)!;
    for (const separator of ['|', ':', ' | ', '*', '\uff5c']) {
      const written = groups.join(separator);
      const res = await gateway.request('POST', '/api/v1/routes/test', {
        token: viewerToken,
        body: {
          document: { ...maskRoute('unsaved-punct'), pipeline: [] },
          message: { body: { note: `paid with ${written}` } },
        },
      });
      expect({ separator, warnings: (res.body as { panWarnings: string[] }).panWarnings }).toEqual({
        separator,
        warnings: ['/deliveries/0/body/note'],
      });
      expect(res.text).not.toContain(written);
      expect(res.text).not.toContain(JSON.stringify(written).slice(1, -1));
    }
  });

  it('a card number in a header or a number is found too', async () => {
    const [visa] = cardNumbers();
    const res = await gateway.request('POST', '/api/v1/routes/test', {
      token: viewerToken,
      body: {
        document: { ...maskRoute('unsaved-hdr'), pipeline: [] },
        message: { body: { n: Number(visa), list: [1, visa] }, headers: { 'x-card': visa } },
      },
    });
    expect((res.body as { panWarnings: string[] }).panWarnings).toEqual([
      '/deliveries/0/body/list/1',
      '/deliveries/0/body/n',
      '/deliveries/0/headers/x-card',
    ]);
    expect(res.text).not.toContain(visa);
  });

  it('a number a double would change is 400 at its place, as the route would dead-letter it', async () => {
    const res = await gateway.request('POST', '/api/v1/routes/test', {
      token: viewerToken,
      headers: { 'content-type': 'application/json' },
      body: `{"document":${JSON.stringify(maskRoute('unsaved-big'))},"message":{"body":{"id":4111111111111111111}}}`,
    });
    expect(res.status).toBe(400);
    expect((res.body as { message: string }).message).toBe(
      'the request body holds a number JSON cannot carry here unchanged, at /message/body/id: the number has 19 digits and a double keeps about 16 of them: it would be sent on changed (send it as a string)',
    );
    expect(res.text).not.toContain('4111');
  });

  it('a body that is not UTF-8 is 400 at its byte, JSON or YAML, not stored with U+FFFD', async () => {
    const latin1 = Buffer.concat([
      Buffer.from('{"id":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    for (const type of ['application/json', 'application/yaml']) {
      const res = await gateway.app.inject({
        method: 'POST',
        url: '/api/v1/routes/validate',
        headers: { authorization: `Bearer ${viewerToken}`, 'content-type': type },
        payload: latin1,
      });
      expect({ type, status: res.statusCode }).toEqual({ type, status: 400 });
      expect(res.json()).toMatchObject({
        message: 'the request body is not valid UTF-8 (byte 10); send it as UTF-8',
      });
    }
  });

  it('an invalid document or text is 400 with every problem; neither or both is 400', async () => {
    const bad = await gateway.request('POST', '/api/v1/routes/test', {
      token: viewerToken,
      body: { document: { id: 'x', pipeline: [{ nope: 1 }] }, message: { body: {} } },
    });
    expect(bad.status).toBe(400);
    expect(
      (bad.body as { details: { problems: unknown[] } }).details.problems.length,
    ).toBeGreaterThan(1);
    const text = await gateway.request('POST', '/api/v1/routes/test', {
      token: viewerToken,
      body: { source: 'id: x\nsource: [\n', message: { body: {} } },
    });
    expect(text.status).toBe(400);
    expect(text.body).toMatchObject({ details: { problems: [{ line: expect.any(Number) }] } });
    for (const body of [
      { message: { body: {} } },
      { document: maskRoute('both'), source: 'id: both', message: { body: {} } },
    ]) {
      const res = await gateway.request('POST', '/api/v1/routes/test', {
        token: viewerToken,
        body,
      });
      expect(res.status).toBe(400);
    }
  });

  it("a dry run's hash pseudonyms are not the route's: no reader of routes can hash what it likes", async () => {
    await gateway.create(editorToken, '/api/v1/routes', {
      id: 'hash-oracle',
      source: { type: 'http', path: 'mask/hash-oracle', mode: 'sync', auth: 'none' },
      pipeline: [{ mask: [{ path: 'email', with: 'hash' }] }],
      destinations: [{ type: 'log' }],
    });
    const email = 'jane.doe@private.example';
    const delivered = await gateway.request('POST', '/ingest/mask/hash-oracle', {
      body: { email },
    });
    expect(delivered.status).toBe(200);
    const real = (delivered.body as { email: string }).email;
    expect(real).toMatch(/^[0-9a-f]{64}$/);
    const dry = async (url: string, body: Record<string, unknown>) => {
      const res = await gateway.request('POST', url, { token: viewerToken, body });
      return (ok(res) as { deliveries: Array<{ body: { email: string } }> }).deliveries[0].body
        .email;
    };
    const message = { body: { email } };
    const saved = await dry('/api/v1/routes/hash-oracle/test', { message });
    const unsaved = await dry('/api/v1/routes/test', {
      document: {
        ...maskRoute('hash-oracle-draft'),
        pipeline: [{ mask: [{ path: 'email', with: 'hash' }] }],
      },
      message,
    });
    // The shape of a real pseudonym, the same in every dry run, and not the one delivered.
    expect(saved).toMatch(/^[0-9a-f]{64}$/);
    expect(unsaved).toBe(saved);
    expect(await dry('/api/v1/routes/hash-oracle/test', { message })).toBe(saved);
    expect(saved).not.toBe(real);
  });

  it('the saved-route dry run lists mask changes and PAN warnings too', async () => {
    await gateway.create(editorToken, '/api/v1/routes', maskRoute('saved-mask'));
    const [pan] = cardNumbers();
    const res = await gateway.request('POST', '/api/v1/routes/saved-mask/test', {
      token: viewerToken,
      body: { message: { body: { card: pan, other: pan } } },
    });
    expect(res.body).toMatchObject({
      stages: [{ kind: 'mask', changed: ['/card'] }],
      panWarnings: ['/deliveries/0/body/other'],
    });
  });
});

describe('POST /expressions/evaluate: one expression, as a route evaluates it', () => {
  const evaluate = (body: Record<string, unknown>, token = viewerToken) =>
    gateway.request('POST', '/api/v1/expressions/evaluate', { token, body });

  it('the fast path and jsonata-js give their result and say which ran', async () => {
    const input = {
      total: 150,
      items: [{ p: 3 }, { p: 1 }, { p: 2 }],
      customer: { country: 'DE' },
    };
    const cases: Array<[string, unknown, 'fast' | 'jsonata']> = [
      ['total > 100', true, 'fast'],
      [
        '{ "orderId": "o-" & $string(total), "c": customer.country }',
        { orderId: 'o-150', c: 'DE' },
        'fast',
      ],
      ['customer.country in ["DE","FR"] and total > 0', true, 'fast'],
      ['$sum(items.p)', 6, 'fast'],
      ['$sort(items, function($a, $b){ $a.p > $b.p }).p', [1, 2, 3], 'jsonata'],
      ['$uppercase($headers."x-channel") & "/" & $meta.routeId', 'WEB/r-1', 'fast'],
      ['$join([$uppercase($headers."x-channel"), $meta.routeId], "/")', 'WEB/r-1', 'jsonata'],
    ];
    for (const [expression, result, engine] of cases) {
      const res = await evaluate({
        expression,
        input,
        headers: { 'X-Channel': 'web' },
        meta: { routeId: 'r-1' },
      });
      expect({ expression, status: res.status, body: res.body }).toEqual({
        expression,
        status: 200,
        body: { result, engine, elapsedMs: expect.any(Number), budgetMs: 50 },
      });
    }
    // Nothing: no result field, no error.
    const none = await evaluate({ expression: 'missing.field', input });
    expect(none.body).toEqual({ engine: 'fast', elapsedMs: expect.any(Number), budgetMs: 50 });
  });

  it('a syntax error comes back with its code and position', async () => {
    const cases: Array<[string, number]> = [
      ['total >', 7],
      ['{ "a": 1 ', 9],
      ['items[p = ]', 10],
    ];
    for (const [expression, position] of cases) {
      const res = await evaluate({ expression, input: {} });
      expect(res.status).toBe(200);
      const body = res.body as { error: { code: string; position: number; message: string } };
      expect({ expression, error: body.error }).toEqual({
        expression,
        error: expect.objectContaining({
          code: expect.stringMatching(/^S0\d{3}$/),
          message: expect.stringMatching(/syntax error/),
        }),
      });
      expect(Math.abs(body.error.position - position)).toBeLessThanOrEqual(2);
    }
  });

  it('limits and guards as in production: time, depth, unsafe regex', async () => {
    const cases: Array<[string, RegExp, RegExp]> = [
      ['$sort([1..99999], function($a, $b){ $a < $b })', /^D1012$/, /ran longer than 50 ms/],
      [
        '($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))',
        /^(D1011|EXPRESSION_LIMIT)$/,
        /deeper|limit/,
      ],
      ['$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)', /./, /regular expression.*ReDoS/],
    ];
    for (const [expression, code, message] of cases) {
      const started = Date.now();
      const res = await evaluate({ expression, input: {} });
      expect({ expression, status: res.status }).toEqual({ expression, status: 200 });
      const body = res.body as { error: { code: string; message: string }; result?: unknown };
      expect({ expression, code: body.error?.code }).toEqual({
        expression,
        code: expect.stringMatching(code),
      });
      expect(body.error.message).toMatch(message);
      expect(body.result).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(QUICKLY_MS);
    }
  });

  it('one builtin call on a huge array is refused at a limit, not run to its end', async () => {
    // Each held the event loop for 0.3 s to 77 s in one call, beyond any time limit's reach.
    const S = '$split($pad("", 999999, "a"), "")';
    const cases = [
      `$count($zip(${S}, ${S}))`,
      `$count($sort(${S}))`,
      `$count($shuffle(${S}))`,
      '$count($spread([1..99999]))',
      '$count($map($split($pad("", 99999, "a"), ""), $uppercase))',
      '$length($replace($pad("", 999999, "a"), /a/, "b"))',
    ];
    for (const expression of cases) {
      const started = Date.now();
      const res = await evaluate({ expression, input: {} });
      const body = res.body as { error?: { code: string; message: string }; result?: unknown };
      // (The endpoint answers an evaluation's own failure with 200 and the error, as a tester.)
      expect({ expression, status: res.status }).toEqual({ expression, status: 200 });
      if (body.result !== undefined) {
        // Within the limit on a fast machine: the answer jsonata gives.
        expect({ expression, result: body.result }).toEqual({ expression, result: 99_999 });
        continue;
      }
      expect({ expression, code: body.error?.code }).toEqual({
        expression,
        code: expect.stringMatching(/^(EXPRESSION_LIMIT|D1012)$/),
      });
      expect(body.error?.message).toMatch(/sequence limit|ran longer than 50 ms/);
      expect(Date.now() - started).toBeLessThan(QUICKLY_MS);
    }
  });

  it('card numbers in a result or an error are redacted', async () => {
    for (const pan of cardNumbers()) {
      const res = await evaluate({
        expression: '{ "c": card, "s": "x " & card }',
        input: { card: pan },
      });
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(pan);
      expect(res.body).toMatchObject({ result: { c: '[PAN REDACTED]', s: 'x [PAN REDACTED]' } });
      const failed = await evaluate({ expression: `$number("x${pan}")`, input: {} });
      expect(failed.text).not.toContain(pan);
    }
  });

  it('a request without an expression is 400; anyone with routes.read may evaluate', async () => {
    const res = await evaluate({ input: {} });
    expect(res.status).toBe(400);
    expect((await evaluate({ expression: '1', input: {} }, editorToken)).status).toBe(200);
  });
});

describe('GET /routes: the list in one call', () => {
  const httpRoute = (id: string, description: string) => ({
    id,
    description,
    source: { type: 'http', path: `list/${id}`, mode: 'async', auth: 'none' },
    pipeline: [{ transform: '{ "orderId": id }' }],
    destinations: [{ type: 'log' }],
  });

  it('each route with its state as this process sees it, counts and the last error (redacted)', async () => {
    await gateway.create(editorToken, '/api/v1/routes', httpRoute('list-busy', 'Busy shop ORDERS'));
    await gateway.create(editorToken, '/api/v1/routes', httpRoute('list-idle', 'idle one'));
    ok(await gateway.request('POST', '/api/v1/routes/list-idle/stop', { token: adminToken }));
    const [pan] = cardNumbers();
    for (let i = 0; i < 3; i++)
      expect(
        (await gateway.request('POST', '/ingest/list/list-busy', { body: { id: `o-${i}` } }))
          .status,
      ).toBe(202);
    const bad = await gateway.request('POST', '/ingest/list/list-busy', {
      body: `not json ${pan}`,
      headers: { 'content-type': 'text/plain' },
    });
    expect(bad.status).toBe(422);
    const res = await gateway.request('GET', '/api/v1/routes', { token: viewerToken });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(pan);
    const list = res.body as Array<Record<string, unknown>>;
    const busy = list.find((r) => r.id === 'list-busy');
    expect(busy).toEqual({
      id: 'list-busy',
      incarnation: 1,
      description: 'Busy shop ORDERS',
      sourceType: 'http',
      activeVersion: 1,
      latestVersion: 1,
      desiredState: 'running',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      processes: [
        expect.objectContaining({
          process: expect.stringMatching(/^.+:\d+$/),
          state: 'running',
          lastError: expect.any(String),
        }),
      ],
      lastError: expect.any(String),
      counts: { processed: 3, failed: 1, inFlight: 0 },
      runtime: expect.objectContaining({
        state: 'running',
        reason: null,
        process: expect.stringMatching(/^.+:\d+$/),
      }),
    });
    expect(list.find((r) => r.id === 'list-idle')).toMatchObject({
      desiredState: 'stopped',
      processes: [{ state: 'stopped', lastError: null }],
      lastError: null,
      counts: { processed: 0, failed: 0, inFlight: 0 },
    });
  });

  it('?q= filters on id and description, case-insensitively', async () => {
    const ids = async (q: string) =>
      (
        (
          await gateway.request('GET', `/api/v1/routes?q=${encodeURIComponent(q)}`, {
            token: viewerToken,
          })
        ).body as Array<{ id: string }>
      )
        .map((r) => r.id)
        .filter((id) => id.startsWith('list-'));
    expect(await ids('orders')).toEqual(['list-busy']);
    expect(await ids('LIST-')).toEqual(['list-busy', 'list-idle']);
    expect(await ids('IDLE ONE')).toEqual(['list-idle']);
    expect(await ids('nothing-like-this')).toEqual([]);
    expect(await ids('')).toEqual(['list-busy', 'list-idle']);
  });

  it("a message's failure text, which may quote the message, only for those who may read messages", async () => {
    await gateway.create(editorToken, '/api/v1/routes', {
      ...httpRoute('list-quotes', 'fails quoting the message'),
      source: { type: 'http', path: 'list/list-quotes', mode: 'async', auth: 'none' },
      pipeline: [{ transform: '{ "n": $number(email) }' }],
    });
    const email = 'jane.doe@private.example';
    expect(
      (await gateway.request('POST', '/ingest/list/list-quotes', { body: { email } })).status,
    ).toBe(422);
    const operator = await gateway.create(adminToken, '/api/v1/api-keys', {
      name: 'list-quotes-operator',
      roles: ['operator'],
    });
    const lastErrors = async (auth: { token?: string; apiKey?: string }) => {
      const status = ok(
        await gateway.request('GET', '/api/v1/routes/list-quotes/status', auth),
      ) as { lastError: string; lastErrorSummary?: unknown };
      expect(status).not.toHaveProperty('lastErrorSummary');
      const listed = (
        ok(await gateway.request('GET', '/api/v1/routes?q=list-quotes', auth)) as Array<{
          lastError: string;
          processes: Array<{ lastError: string }>;
        }>
      )[0];
      return [status.lastError, listed.lastError, listed.processes[0].lastError];
    };
    // Readers of routes (a viewer, an editor) see where and why, not the message's words.
    for (const token of [viewerToken, editorToken])
      for (const lastError of await lastErrors({ token })) {
        expect(lastError).not.toContain('jane');
        expect(lastError).toMatch(/^EXPRESSION_FAILED at \/pipeline\/0 \(transform\) /);
      }
    // Who may read the dead letter (operator, admin) reads the whole text, as in the dead letter.
    for (const auth of [{ token: adminToken }, { apiKey: (operator.body as { key: string }).key }])
      for (const lastError of await lastErrors(auth)) expect(lastError).toContain(email);
  });
  it("a delivery failure's kind (connector code and status) for those who may not read messages", async () => {
    const target = await startHttpTarget((_body, res) =>
      res.writeHead(401, { 'content-type': 'text/plain' }).end('no such token, jane.doe'),
    );
    try {
      await gateway.create(adminToken, '/api/v1/connections', {
        name: 'list-partner',
        type: 'http',
        config: { baseUrl: target.baseUrl },
        secrets: {},
      });
      await gateway.create(editorToken, '/api/v1/routes', {
        ...httpRoute('list-refused', 'a partner that refuses'),
        source: { type: 'http', path: 'list/list-refused', mode: 'sync', auth: 'none' },
        pipeline: [],
        destinations: [{ type: 'http', connection: 'list-partner', path: '/orders/jane.doe' }],
        errors: { retry: { attempts: 1, backoffMs: 1, maxBackoffMs: 1 } },
      });
      const res = await gateway.request('POST', '/ingest/list/list-refused', { body: { id: 1 } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      const status = async (token: string) =>
        (
          ok(await gateway.request('GET', '/api/v1/routes/list-refused/status', { token })) as {
            lastError: string;
          }
        ).lastError;
      for (const token of [viewerToken, editorToken]) {
        const lastError = await status(token);
        expect(lastError).toMatch(/^DELIVERY_FAILED at destinations\/0 \(REJECTED 401\) /);
        expect(lastError).not.toContain('jane');
      }
      expect(await status(adminToken)).toContain('answered 401');
    } finally {
      await target.close();
    }
  });
});

describe('samples that guard deploys', () => {
  const guarded = (id: string, masked: boolean) => ({
    id,
    description: 'guarded by samples',
    source: { type: 'http', path: `guard/${id}`, mode: 'async', auth: 'none' },
    pipeline: masked
      ? [
          {
            mask: [
              { path: 'card', with: 'last4' },
              { path: 'note', with: 'redact' },
            ],
          },
        ]
      : [],
    destinations: [{ type: 'log' }],
  });

  it('samples are stored sealed, listed redacted, replaced and deleted by an editor only', async () => {
    await gateway.create(editorToken, '/api/v1/routes', guarded('guard-crud', true));
    const [pan] = cardNumbers();
    const url = '/api/v1/routes/guard-crud/samples/with-card';
    const put = await gateway.request('PUT', url, {
      token: editorToken,
      body: { body: { card: pan, id: 'o-1' }, headers: { 'x-k': 'v' } },
    });
    expect(put.status).toBe(200);
    expect(put.text).not.toContain(pan);
    expect(put.body).toMatchObject({ name: 'with-card', updatedBy: 'cr-editor' });
    const list = await gateway.request('GET', '/api/v1/routes/guard-crud/samples', {
      token: viewerToken,
    });
    expect(list.body).toEqual([
      {
        name: 'with-card',
        body: { card: '[PAN REDACTED]', id: 'o-1' },
        headers: { 'x-k': 'v' },
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        updatedBy: 'cr-editor',
      },
    ]);
    // Sealed at rest: the database holds no card number.
    const { DataSource } = await import('typeorm');
    const db = new DataSource({ type: 'postgres', url: gateway.databaseUrl });
    await db.initialize();
    try {
      const rows = (await db.query(`SELECT * FROM route_samples`)) as unknown[];
      expect(rows.length).toBeGreaterThan(0);
      expect(JSON.stringify(rows)).not.toContain(pan);
      expect(JSON.stringify(rows)).not.toContain('o-1');
    } finally {
      await db.destroy();
    }
    expect(
      (await gateway.request('PUT', url, { token: viewerToken, body: { body: {} } })).status,
    ).toBe(403);
    expect(
      (
        await gateway.request('PUT', '/api/v1/routes/guard-crud/samples/bad%20name', {
          token: editorToken,
          body: { body: {} },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await gateway.request('PUT', '/api/v1/routes/no-such-route/samples/x', {
          token: editorToken,
          body: { body: {} },
        })
      ).status,
    ).toBe(404);
    expect((await gateway.request('DELETE', url, { token: editorToken })).status).toBe(204);
    expect((await gateway.request('DELETE', url, { token: editorToken })).status).toBe(404);
  });

  it('activating a version that lets a sample card number out is refused (409); masked versions pass', async () => {
    await gateway.create(editorToken, '/api/v1/routes', guarded('guard-act', true));
    for (const [i, pan] of cardNumbers().entries())
      ok(
        await gateway.request('PUT', `/api/v1/routes/guard-act/samples/s${i}`, {
          token: editorToken,
          body: { body: { card: pan, note: i % 2 ? `card ${pan}` : 'none' } },
        }),
      );
    ok(
      await gateway.request('PUT', '/api/v1/routes/guard-act/samples/clean', {
        token: editorToken,
        body: { body: { id: 'no card here', total: 12 } },
      }),
    );
    // v2: no mask. Stored (not active).
    ok(
      await gateway.request('PUT', '/api/v1/routes/guard-act', {
        token: editorToken,
        body: guarded('guard-act', false),
      }),
    );
    const refused = await gateway.request('POST', '/api/v1/routes/guard-act/versions/2/activate', {
      token: editorToken,
    });
    expect(refused.status).toBe(409);
    expect(refused.text).not.toMatch(/\d{13}/);
    const details = (
      refused.body as {
        details: { code: string; samples: Array<{ name: string; pointers: string[] }> };
      }
    ).details;
    expect(details.code).toBe('SAMPLE_LEAKS_PAN');
    expect(details.samples.map((s) => s.name).sort()).toEqual(['s0', 's1', 's2', 's3', 's4', 's5']);
    expect(details.samples.find((s) => s.name === 's0')!.pointers).toEqual([
      '/deliveries/0/body/card',
    ]);
    expect(details.samples.find((s) => s.name === 's1')!.pointers).toEqual([
      '/deliveries/0/body/card',
      '/deliveries/0/body/note',
    ]);
    const status = ok(
      await gateway.request('GET', '/api/v1/routes/guard-act/status', { token: viewerToken }),
    ) as { activeVersion: number };
    expect(status.activeVersion).toBe(1);
    // PUT ?activate=true is guarded alike.
    const viaPut = await gateway.request('PUT', '/api/v1/routes/guard-act?activate=true', {
      token: editorToken,
      body: { ...guarded('guard-act', false), description: 'still leaking' },
    });
    expect(viaPut.status).toBe(409);
    // Rolling back to the masked version 1 passes.
    ok(
      await gateway.request('POST', '/api/v1/routes/guard-act/versions/1/activate', {
        token: editorToken,
      }),
    );
  });

  it('an admin may override with a reason, which the audit trail records; an editor may not', async () => {
    const body = { override: { reason: 'test numbers only, ticket SEC-42' } };
    const editor = await gateway.request('POST', '/api/v1/routes/guard-act/versions/2/activate', {
      token: editorToken,
      body,
    });
    expect(editor.status).toBe(403);
    for (const bad of [{ override: {} }, { override: { reason: '  ' } }, { other: 1 }]) {
      const res = await gateway.request('POST', '/api/v1/routes/guard-act/versions/2/activate', {
        token: adminToken,
        body: bad,
      });
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
    }
    const admin = await gateway.request('POST', '/api/v1/routes/guard-act/versions/2/activate', {
      token: adminToken,
      body,
    });
    expect(admin.status).toBe(200);
    expect(admin.body).toMatchObject({ activeVersion: 2 });
    const events = ok(
      await gateway.request('GET', '/api/v1/audit/events?type=route.activated&targetId=guard-act', {
        token: adminToken,
      }),
    ) as { items: Array<{ actor: string; outcome: string; details: Record<string, unknown> }> };
    expect(events.items).toContainEqual(
      expect.objectContaining({
        actor: 'admin',
        outcome: 'success',
        details: expect.objectContaining({
          version: 2,
          override: { reason: 'test numbers only, ticket SEC-42' },
        }),
      }),
    );
    // The refusals are in the trail too.
    expect(events.items).toContainEqual(
      expect.objectContaining({ actor: 'cr-editor', outcome: 'failure' }),
    );
    // PUT ?activate=true&override=... for an admin.
    const put = await gateway.request(
      'PUT',
      `/api/v1/routes/guard-act?activate=true&override=${encodeURIComponent('hotfix, approved')}`,
      { token: adminToken, body: { ...guarded('guard-act', false), description: 'v3' } },
    );
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ activeVersion: 3 });
  });

  it('keeps at most 100 samples of 4 MiB together per route (413 beyond)', async () => {
    // Unbounded, an editor's 60 samples of 880 KB made every GET of them (any viewer) hold the
    // event loop 2.1 s, and every PUT open them all to answer.
    await gateway.create(editorToken, '/api/v1/routes', guarded('guard-many', true));
    const put = (name: string, body: unknown) =>
      gateway.request('PUT', `/api/v1/routes/guard-many/samples/${name}`, {
        token: editorToken,
        body: { body },
      });
    const big = { note: 'x'.repeat(900_000) };
    for (const name of ['big-1', 'big-2', 'big-3']) ok(await put(name, big));
    const refused = await put('big-4', big);
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ details: { code: 'SAMPLES_LIMIT', samples: 3 } });
    ok(await put('big-3', big)); // replacing one counts it once
    for (const name of ['big-1', 'big-2', 'big-3'])
      expect(
        (
          await gateway.request('DELETE', `/api/v1/routes/guard-many/samples/${name}`, {
            token: editorToken,
          })
        ).status,
      ).toBe(204);
    for (let i = 0; i < 100; i++) ok(await put(`s${i}`, { i }));
    expect((await put('s100', { i: 100 })).status).toBe(413);
    expect(
      (await gateway.request('GET', '/api/v1/routes/guard-many/samples', { token: viewerToken }))
        .body,
    ).toHaveLength(100);
  });

  it('lets the event loop run between the samples it runs', async () => {
    // A run awaits only promises: a guard of many samples (or a dead-letter preview of many
    // letters) never gave the event loop back, and froze the gateway for as long as it ran (an
    // editor's 200 samples of a 50 ms transform: 10 s). Here: does a callback queued on the
    // event loop when the first sample starts run before the last one does?
    await gateway.create(editorToken, '/api/v1/routes', guarded('guard-turns', true));
    const samples = 6;
    for (let i = 0; i < samples; i++)
      ok(
        await gateway.request('PUT', `/api/v1/routes/guard-turns/samples/s${i}`, {
          token: editorToken,
          body: { body: { id: `o-${i}` } },
        }),
      );
    ok(
      await gateway.request('PUT', '/api/v1/routes/guard-turns', {
        token: editorToken,
        body: { ...guarded('guard-turns', true), description: 'v2' },
      }),
    );
    const runDry = RoutesService.prototype.runDry;
    let runs = 0;
    let runsAtFirstTurn: number | undefined;
    const spy = jest.spyOn(RoutesService.prototype, 'runDry').mockImplementation(function (
      this: RoutesService,
      ...args
    ) {
      runs += 1;
      if (runs === 1) setImmediate(() => (runsAtFirstTurn = runs));
      return runDry.apply(this, args);
    });
    try {
      ok(
        await gateway.request('POST', '/api/v1/routes/guard-turns/versions/2/activate', {
          token: editorToken,
        }),
      );
    } finally {
      spy.mockRestore();
    }
    expect(runs).toBe(samples);
    expect(runsAtFirstTurn).toBeLessThan(samples);
  });
});

describe('connections: test and impact', () => {
  const connection = (name: string, type: string, config: object, secrets?: object) =>
    gateway.create(editorToken, '/api/v1/connections', { name, type, config, secrets });
  const test = (name: string, token = editorToken) =>
    gateway.request('POST', `/api/v1/connections/${name}/test`, { token });

  it('a reachable broker or service answers ok; a wrong password, a closed port or a silent host do not, never echoing a secret', async () => {
    const target = await startHttpTarget((_body, res) => res.writeHead(404).end());
    // Accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    try {
      const password = `pw-${randomBytes(6).toString('hex')}`;
      await connection(
        't-amqp-ok',
        'amqp',
        { url: 'amqp://127.0.0.1:5672', username: 'guest' },
        { password: 'guest' },
      );
      await connection(
        't-amqp-badpw',
        'amqp',
        { url: 'amqp://127.0.0.1:5672', username: 'guest' },
        { password },
      );
      await connection('t-amqp-closed', 'amqp', { url: 'amqp://127.0.0.1:9' }, { password });
      await connection('t-kafka-ok', 'kafka', { brokers: ['127.0.0.1:19092'] });
      await connection('t-kafka-closed', 'kafka', { brokers: ['127.0.0.1:9'] });
      await connection('t-http-ok', 'http', { baseUrl: target.baseUrl }, { bearerToken: password });
      await connection(
        't-http-closed',
        'http',
        { baseUrl: 'http://127.0.0.1:9/' },
        { bearerToken: password },
      );
      await connection('t-http-silent', 'http', { baseUrl: `http://127.0.0.1:${silentPort}/` });
      for (const [name, expected] of [
        ['t-amqp-ok', true],
        ['t-kafka-ok', true],
        ['t-http-ok', true],
        ['t-amqp-badpw', false],
        ['t-amqp-closed', false],
        ['t-kafka-closed', false],
        ['t-http-closed', false],
        ['t-http-silent', false],
      ] as const) {
        const started = Date.now();
        const res = await test(name);
        expect({ name, status: res.status }).toEqual({ name, status: 200 });
        const body = res.body as { ok: boolean; error?: string; elapsedMs: number };
        expect({ name, ok: body.ok, hasError: typeof body.error === 'string' }).toEqual({
          name,
          ok: expected,
          hasError: !expected,
        });
        expect(body.elapsedMs).toBeGreaterThanOrEqual(0);
        expect(res.text).not.toContain(password);
        expect(Date.now() - started).toBeLessThan(15_000);
      }
      const timedOut = (await test('t-http-silent')).body as { error: string; elapsedMs: number };
      expect(timedOut.error).toMatch(/timeout|within 5000 ms/i);
      expect(timedOut.elapsedMs).toBeLessThan(7_000);
    } finally {
      await target.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('editors may test, viewers may not; an unknown connection is 404; each test is audited', async () => {
    expect((await test('t-http-closed', viewerToken)).status).toBe(403);
    expect((await test('no-such-connection')).status).toBe(404);
    const events = ok(
      await gateway.request(
        'GET',
        '/api/v1/audit/events?type=connection.tested&targetId=t-amqp-badpw',
        {
          token: adminToken,
        },
      ),
    ) as { items: Array<{ actor: string; after: { ok: boolean } }> };
    expect(events.items[0]).toMatchObject({ actor: 'cr-editor', after: { ok: false } });
  });

  it('impact: the routes whose active version uses it, and whether each runs', async () => {
    await connection('t-impact', 'http', { baseUrl: 'http://127.0.0.1:9/' });
    const using = (id: string, conn: string) => ({
      id,
      source: { type: 'http', path: `impact/${id}`, mode: 'async', auth: 'none' },
      pipeline: [],
      destinations: [{ type: 'http', connection: conn, path: '/orders' }],
    });
    await gateway.create(editorToken, '/api/v1/routes', using('imp-run', 't-impact'));
    await gateway.create(editorToken, '/api/v1/routes', using('imp-stopped', 't-impact'));
    ok(await gateway.request('POST', '/api/v1/routes/imp-stopped/stop', { token: adminToken }));
    await gateway.create(editorToken, '/api/v1/routes', using('imp-other', 't-http-closed'));
    // Uses it only in a version that is not active: a change would not restart it.
    ok(
      await gateway.request('PUT', '/api/v1/routes/imp-other', {
        token: editorToken,
        body: using('imp-other', 't-impact'),
      }),
    );
    const res = await gateway.request('GET', '/api/v1/connections/t-impact/impact', {
      token: viewerToken,
    });
    expect(res.status).toBe(403); // viewers do not read connections
    const impact = ok(
      await gateway.request('GET', '/api/v1/connections/t-impact/impact', { token: editorToken }),
    );
    expect(impact).toEqual({
      routes: [
        { id: 'imp-run', activeVersion: 1, running: true },
        { id: 'imp-stopped', activeVersion: 1, running: false },
      ],
    });
    expect(
      (await gateway.request('GET', '/api/v1/connections/none-such/impact', { token: editorToken }))
        .status,
    ).toBe(404);
  });
});

describe('connections: names to complete', () => {
  const names = (name: string, token = editorToken) =>
    gateway.request('GET', `/api/v1/connections/${name}/names`, { token });
  const route = (id: string, source: object, destinations: object[], deadLetter?: object) => ({
    id,
    source,
    pipeline: [],
    destinations,
    ...(deadLetter ? { errors: { deadLetter } } : {}),
  });
  const http = (id: string) => ({ type: 'http', path: `names/${id}`, mode: 'async', auth: 'none' });

  it('the queue, exchange and topic names stored routes use with it: sources, destinations, dead letters, active and latest versions', async () => {
    await gateway.create(editorToken, '/api/v1/connections', {
      name: 'n-rabbit',
      type: 'amqp',
      config: { url: 'amqp://127.0.0.1:5672', username: 'guest' },
      secrets: { password: 'guest' },
    });
    await gateway.create(editorToken, '/api/v1/connections', {
      name: 'n-other',
      type: 'amqp',
      config: { url: 'amqp://127.0.0.1:5672', username: 'guest' },
      secrets: { password: 'guest' },
    });
    // Generated names, so that no fixed list could pass: several per kind, out of order, repeated.
    const tag = randomBytes(3).toString('hex');
    const q = (i: number) => `q.${tag}.${i}`;
    const x = (i: number) => `x.${tag}.${i}`;
    await gateway.create(
      editorToken,
      '/api/v1/routes',
      route(
        'names-a',
        http('names-a'),
        [
          { type: 'amqp', connection: 'n-rabbit', exchange: x(2), routingKey: 'k' },
          { type: 'amqp', connection: 'n-rabbit', queue: q(3) },
          { type: 'amqp', connection: 'n-other', queue: 'other-only' },
        ],
        { type: 'amqp', connection: 'n-rabbit', queue: q(1) },
      ),
    );
    await gateway.create(
      editorToken,
      '/api/v1/routes',
      route('names-b', http('names-b'), [{ type: 'amqp', connection: 'n-rabbit', queue: q(3) }]),
    );
    // A later, not active version names another queue; it counts too (what is being written).
    ok(
      await gateway.request('PUT', '/api/v1/routes/names-b', {
        token: editorToken,
        body: route('names-b', http('names-b'), [
          { type: 'amqp', connection: 'n-rabbit', queue: q(0) },
        ]),
      }),
    );
    // A deleted route's names are gone.
    await gateway.create(
      editorToken,
      '/api/v1/routes',
      route('names-gone', http('names-gone'), [
        { type: 'amqp', connection: 'n-rabbit', queue: 'deleted-queue' },
      ]),
    );
    ok(await gateway.request('DELETE', '/api/v1/routes/names-gone', { token: editorToken }), 204);

    expect((await names('n-rabbit', viewerToken)).status).toBe(403);
    expect((await names('none-such')).status).toBe(404);
    expect(ok(await names('n-rabbit'))).toEqual({
      queues: [q(0), q(1), q(3)],
      exchanges: [x(2)],
      topics: [],
    });
    expect(ok(await names('n-other'))).toEqual({
      queues: ['other-only'],
      exchanges: [],
      topics: [],
    });
  });

  it('a Kafka connection adds the topics the cluster lists; a cluster that does not answer leaves the stored ones', async () => {
    const { Kafka } = await import('kafkajs');
    const topic = `names-live-${randomBytes(4).toString('hex')}`;
    const admin = new Kafka({ brokers: ['127.0.0.1:19092'], logLevel: 0 }).admin();
    await admin.connect();
    try {
      // A producer may create topics (auto-creation), named with a card number too.
      await admin.createTopics({
        topics: [topic, 'names-card-4111-1111-1111-1111'].map((t) => ({
          topic: t,
          numPartitions: 1,
        })),
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
    await gateway.create(editorToken, '/api/v1/connections', {
      name: 'n-kafka',
      type: 'kafka',
      config: { brokers: ['127.0.0.1:19092'] },
    });
    await gateway.create(editorToken, '/api/v1/connections', {
      name: 'n-kafka-down',
      type: 'kafka',
      config: { brokers: ['127.0.0.1:9'] },
    });
    await gateway.create(
      editorToken,
      '/api/v1/routes',
      route('names-k', http('names-k'), [
        { type: 'kafka', connection: 'n-kafka', topic: 'zz-stored-topic' },
        { type: 'kafka', connection: 'n-kafka-down', topic: 'down-stored-topic' },
      ]),
    );
    const live = ok(await names('n-kafka')) as { topics: string[]; queues: string[] };
    expect(live.topics).toEqual(expect.arrayContaining([topic, 'zz-stored-topic']));
    expect(live.topics).toEqual([...new Set(live.topics)].sort());
    expect(live.topics.some((t) => t.startsWith('__'))).toBe(false);
    expect(live.topics.filter((t) => /4111/.test(t))).toEqual([]);
    expect(live.queues).toEqual([]);
    expect(ok(await names('n-kafka-down'))).toEqual({
      queues: [],
      exchanges: [],
      topics: ['down-stored-topic'],
    });
  });
});
