/**
 * DNS rebinding, on the gateway as a process: a web page on another site whose name is re-pointed
 * at the gateway's address is, to the browser, the same origin as the gateway. It may then read
 * the metrics and the API's description, post to routes without auth and guess passwords from the
 * victim's own address. Such requests name the page's host, so the gateway answers only to its
 * own names: on a loopback address by default, and to JUNCTION_ALLOWED_HOSTS when it is set.
 */
import { request } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '@junction/database';
import { freePort, GatewayProcess } from '../gateway-process';
import { CHROMIUM } from '../console/browser';

jest.setTimeout(120_000);

const REBOUND = 'rebind.attacker.test';

/** A request with a Host header of our choosing (fetch does not let one set it). */
function call(
  port: number,
  host: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          host,
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const REQUESTS: [string, string, string?][] = [
  ['GET', '/metrics'],
  ['GET', '/openapi.json'],
  ['GET', '/health/ready'],
  ['GET', '/console/'],
  ['GET', '/api/v1/auth/providers'],
  ['POST', '/api/v1/auth/login', JSON.stringify({ username: 'admin', password: 'a-guess-1234' })],
  ['POST', '/ingest/demo/orders', '{"id":"o-1"}'],
];

describe('the Host header', () => {
  let db: TestDatabase;
  let gw: GatewayProcess;
  let named: GatewayProcess;
  let browser: Browser | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('security_hosts');
    gw = new GatewayProcess(await freePort(), db.url);
    named = new GatewayProcess(await freePort(), db.url, {
      JUNCTION_ALLOWED_HOSTS: 'gateway.test, *.corp.test',
    });
    await gw.start();
    await named.start();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await named?.stop();
    await db?.drop();
  });

  const statuses = async (port: number, host: string) => {
    const seen: Record<string, number> = {};
    for (const [method, path, body] of REQUESTS)
      seen[`${method} ${path}`] = (await call(port, host, method, path, body)).status;
    return seen;
  };

  it('of a rebound name is refused on every path of a gateway on a loopback address', async () => {
    for (const host of [REBOUND, `${REBOUND}:${gw.port}`, `127.0.0.1.${REBOUND}`]) {
      const seen = await statuses(gw.port, host);
      expect({ host, seen }).toEqual({
        host,
        seen: Object.fromEntries(REQUESTS.map(([m, p]) => [`${m} ${p}`, 403])),
      });
    }
    const refusal = await call(gw.port, REBOUND, 'GET', '/metrics');
    expect(JSON.parse(refusal.body)).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: expect.stringContaining('JUNCTION_ALLOWED_HOSTS'),
    });
    expect(refusal.body).not.toContain(REBOUND);
  });

  it("of the machine's names and addresses is answered as before", async () => {
    for (const host of [`127.0.0.1:${gw.port}`, `localhost:${gw.port}`, `[::1]:${gw.port}`]) {
      const seen = await statuses(gw.port, host);
      expect({ host, refused: Object.values(seen).filter((s) => s === 403).length }).toEqual({
        host,
        refused: 0,
      });
      expect(seen['GET /metrics']).toBe(200);
    }
  });

  it('is held to JUNCTION_ALLOWED_HOSTS when it is set', async () => {
    const answered = async (host: string) =>
      (await call(named.port, host, 'GET', '/metrics')).status;
    expect({
      named: await answered(`gateway.test:${named.port}`),
      sub: await answered('a.corp.test'),
      address: await answered(`127.0.0.1:${named.port}`),
      localhost: await answered('localhost'),
      rebound: await answered(REBOUND),
    }).toEqual({ named: 200, sub: 200, address: 200, localhost: 403, rebound: 403 });
  });

  it('keeps a page of a rebound name from reading the gateway in a browser', async () => {
    // The attacker's DNS, as the browser sees it after the rebind: its name, this address.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        `--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`,
        // Chromium itself refuses a public page's requests to a loopback address (Private
        // Network Access); Firefox and Safari do not, and neither does a Chromium that a policy
        // or an older version leaves without it. Those are the browsers this stands for.
        '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults',
      ],
    });
    const page = await (await browser.newContext()).newPage();
    // The attacker's page came from the attacker's server, before the name was re-pointed.
    const attack = `http://${REBOUND}:${gw.port}/attack.html`;
    await page.route(attack, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>a page</title>' }),
    );
    await page.goto(attack);
    // Now its own origin's requests reach the gateway.
    const read = await page.evaluate(async () => {
      const r = await fetch('/metrics');
      return { status: r.status, metrics: (await r.text()).includes('junction_') };
    });
    expect(read).toEqual({ status: 403, metrics: false });
  });
});
