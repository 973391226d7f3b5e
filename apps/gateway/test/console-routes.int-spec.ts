/**
 * The route endpoints the console's editor uses, against the real gateway on a real Postgres:
 * YAML sources kept verbatim per version, dry runs of unsaved documents, one expression at a
 * time, the route list in one call, samples that guard deploys, connection checks.
 */
import { randomBytes } from 'node:crypto';
import { startTestGateway, TestGateway, TestResponse } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';
jest.setTimeout(60_000);

let gateway: TestGateway;
let adminToken: string;
let editorToken: string;
let viewerToken: string;
const PASSWORD = 'console-routes-0123456789';

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
      expect(Date.now() - started).toBeLessThan(5000);
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
