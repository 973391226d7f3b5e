import { createHash } from 'node:crypto';
import type { MessageRecord } from '@junction/runtime';
import { canonicalJson, safeJson, safeText, scrubSecrets, SECRET_REMOVED } from './audit-json';
import { authEventInput, eventRow, messageRow, messageRowText } from './audit-rows';
import {
  chainHash,
  chainHashOf,
  GENESIS_HASH,
  MESSAGE_APPENDER,
  MESSAGE_BODY,
  MESSAGES,
} from './audit-tables';
import { spreadsheetSafe } from './audit-export';
import { decodeCursor, encodeCursor } from './audit-views';

const PAN = '4111111111111111';

function record(extra: Partial<MessageRecord> = {}): MessageRecord {
  return {
    messageId: 'm-1',
    routeId: 'orders',
    routeVersion: 3,
    source: { type: 'kafka', name: 'orders', partition: 2, offset: '41' },
    outcome: 'delivered',
    receipts: [
      { destination: 0, receipt: { kind: 'kafka', topic: 'orders.eu', partition: 1, offset: '7' } },
      { destination: 1, receipt: { kind: 'amqp', exchange: 'orders', routingKey: 'eu.de' } },
      {
        destination: 2,
        receipt: { kind: 'http', status: 201, url: 'https://erp.example.com/orders' },
      },
    ],
    attempts: 2,
    receivedAt: '2025-01-02T03:04:05.678Z',
    doneAt: '2025-01-02T03:04:06.000+00:00',
    body: { card: PAN, total: 12.5 },
    payload: Buffer.from(`{"card":"${PAN}"}`),
    auditPayload: 'masked',
    ...extra,
  };
}

describe('audit rows', () => {
  it('redacts card numbers everywhere in a message row, keeps whole UUIDs, hashes the original payload', () => {
    const uuid = '01937c5e-1234-7111-8111-111111111111';
    const row = messageRow(
      record({
        messageId: uuid,
        error: { code: 'EXPRESSION_FAILED', message: `bad card ${PAN}`, where: 'pipeline/1' },
      }),
    );
    expect(row.messageId).toBe(uuid);
    expect(JSON.stringify(row)).not.toContain(PAN);
    expect(row.body).toEqual({ card: '[PAN REDACTED]', total: 12.5 });
    expect(row.errorMessage).toBe('bad card [PAN REDACTED]');
    expect(row.payloadSha256).toBe(createHash('sha256').update(`{"card":"${PAN}"}`).digest('hex'));
    expect(row.targets).toEqual([
      'kafka:orders.eu',
      'amqp:orders/eu.de',
      'http:https://erp.example.com/orders',
    ]);
    expect(row.doneAt).toBe('2025-01-02T03:04:06.000Z');
  });

  it("takes the runtime's SHA-256 of a payload it hashed already, and hashes it itself when that is no SHA-256", () => {
    const given = 'ab'.repeat(32);
    expect(messageRow(record({ payloadSha256: given })).payloadSha256).toBe(given);
    expect(messageRowText(record({ payloadSha256: given })).content).toContain(`"${given}"`);
    const own = createHash('sha256').update(`{"card":"${PAN}"}`).digest('hex');
    expect(messageRow(record({ payloadSha256: `${PAN} not a digest` })).payloadSha256).toBe(own);
  });

  it("keeps no body with auditPayload 'none', and survives what Postgres cannot store", () => {
    expect(messageRow(record({ auditPayload: 'none' })).body).toBeNull();
    const odd = messageRow(
      record({
        body: { nul: 'a\u0000b', lone: 'x\uD800y', big: 10n as unknown as number },
        receivedAt: 'nonsense',
      }),
    );
    expect(odd.body).toEqual({ nul: 'a\uFFFDb', lone: 'x\uFFFDy', big: '10' });
    expect(Date.parse(odd.receivedAt)).not.toBeNaN();
  });

  it('redacts card numbers next to UUIDs, and never takes a UUID-looking tail off a card number', () => {
    const uuid = '01937c5e-1234-7111-8111-111111111111';
    expect(safeText(`card ${PAN} for ${uuid}`)).toBe(`card [PAN REDACTED] for ${uuid}`);
    // Glued to more digits the run is no card number to the detector; the UUID rule must not
    // split off its first digits as a UUID either.
    expect(safeText(`x${PAN.slice(0, 8)}-1234-1234-1234-123456789012`)).toBe(
      `x${PAN.slice(0, 8)}-1234-1234-1234-123456789012`,
    );
    expect(safeText(`5105105105105100-${uuid}`)).not.toContain('5105105105105100');
  });

  it('cleans every value that needs it, and leaves the rest as they are', () => {
    const deep: unknown = JSON.parse('['.repeat(300) + ']'.repeat(300));
    const cases: Array<[unknown, unknown]> = [
      [{ pan: 4111111111111111 }, { pan: '[PAN REDACTED]' }],
      [{ list: [-4111111111111111] }, { list: ['[PAN REDACTED]'] }],
      [{ '4111 1111 1111 1111': 1 }, { '[PAN REDACTED]': 1 }],
      [{ text: 'card 4111-1111-1111-1111 ok' }, { text: 'card [PAN REDACTED] ok' }],
      [{ nul: 'a\u0000b' }, { nul: 'a\uFFFDb' }],
      [{ lone: 'x\uD800y' }, { lone: 'x\uFFFDy' }],
      [
        { pair: '\uD83D\uDE00', id: 'b7f9d1c4-3c2e-4a6b-9f0e-2d8c4b1a7e65' },
        { pair: '\uD83D\uDE00', id: 'b7f9d1c4-3c2e-4a6b-9f0e-2d8c4b1a7e65' },
      ],
      [
        { when: '2026-11-26T10:00:00Z', phone: '+49 30 1234567', qty: [1, 2, 3] },
        { when: '2026-11-26T10:00:00Z', phone: '+49 30 1234567', qty: [1, 2, 3] },
      ],
      [
        { masked: '411111******1111', amount: 1234567890.5 },
        { masked: '411111******1111', amount: 1234567890.5 },
      ],
    ];
    for (const [value, expected] of cases) expect(safeJson(value)).toEqual(expected);
    expect(JSON.stringify(safeJson(deep))).toContain('[REDACTED: nested too deep to inspect]');
  });

  it('removes secrets from states before diffing them', () => {
    const row = eventRow({
      type: 'connection.updated',
      outcome: 'success',
      actor: 'alice',
      before: {
        name: 'erp',
        secrets: ['bearerToken'],
        config: { url: 'amqp://u:hunter2@h', password: 'p' },
      },
      after: {
        name: 'erp',
        secrets: ['bearerToken', 'password'],
        config: { url: 'amqp://u:hunter3@h', password: 'q' },
      },
    });
    const text = JSON.stringify(row);
    expect(text).not.toMatch(/hunter|"p"|"q"/);
    expect(row.after).toEqual({
      name: 'erp',
      secrets: ['bearerToken', 'password'],
      config: { url: `amqp://u:${SECRET_REMOVED}@h`, password: SECRET_REMOVED },
    });
    expect(row.diff).toEqual([{ op: 'add', path: '/secrets/1', value: 'password' }]);
    expect(scrubSecrets({ apiKey: 'k', headers: { authorization: 'Bearer x' } })).toEqual({
      apiKey: SECRET_REMOVED,
      headers: { authorization: SECRET_REMOVED },
    });
  });

  it('maps auth events, including kinds added later', () => {
    expect(
      authEventInput({
        type: 'login.failed',
        actor: 'bob',
        provider: 'ldap',
        reason: 'wrong password',
      }),
    ).toMatchObject({
      outcome: 'failure',
      provider: 'ldap',
      details: { reason: 'wrong password' },
    });
    expect(
      authEventInput({
        type: 'request.denied',
        actor: '(anonymous)',
        method: 'GET',
        path: '/x',
        status: 401,
      }),
    ).toMatchObject({ outcome: 'denied', actorKind: 'anonymous', details: { status: 401 } });
    const future = { type: 'session.revoked', actor: 'eve', ip: '::1', sessionId: 's' } as never;
    expect(authEventInput(future)).toMatchObject({
      type: 'session.revoked',
      outcome: 'success',
      details: { sessionId: 's' },
    });
  });
});

describe('the hash chain', () => {
  it('hashes canonical JSON: the same row read back from jsonb (keys reordered) hashes the same', () => {
    const row = messageRow(record());
    const h1 = chainHash(
      'audit_messages',
      GENESIS_HASH,
      '1',
      '2025-01-02T03:04:05.678Z',
      MESSAGES.content(row),
    );
    const reordered = JSON.parse(
      JSON.stringify({ ...row, body: { total: 12.5, card: '[PAN REDACTED]' } }),
    );
    const h2 = chainHash(
      'audit_messages',
      GENESIS_HASH,
      '1',
      '2025-01-02T03:04:05.678Z',
      MESSAGES.content(reordered),
    );
    expect(h2.equals(h1)).toBe(true);
    const changed = chainHash(
      'audit_messages',
      GENESIS_HASH,
      '1',
      '2025-01-02T03:04:05.678Z',
      MESSAGES.content({ ...row, attempts: 3 }),
    );
    expect(changed.equals(h1)).toBe(false);
    const moved = chainHash(
      'audit_events',
      GENESIS_HASH,
      '1',
      '2025-01-02T03:04:05.678Z',
      MESSAGES.content(row),
    );
    expect(moved.equals(h1)).toBe(false);
  });

  it('keeps no trace id whose hex digits spell a card number', () => {
    const row = messageRow(record({ traceId: '4111111111111111aaaaaaaaaaaaaaaa' }));
    expect(row.traceId).toBeNull();
    expect(
      JSON.stringify(messageRowText(record({ traceId: '4111111111111111aaaaaaaaaaaaaaaa' }))),
    ).not.toContain('4111111111111111');
  });

  it('keeps a well-formed trace id, hashed; a row without one hashes as rows did before trace ids', () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const plain = messageRow(record());
    expect(plain.traceId).toBeNull();
    // The content of a row without a trace id is what it was before the column existed.
    expect(MESSAGES.content(plain)).toHaveLength(15);
    const traced = messageRow(record({ traceId }));
    expect(traced.traceId).toBe(traceId);
    expect(MESSAGES.content(traced)).toEqual([...MESSAGES.content(plain), traceId]);
    const at = '2025-01-02T03:04:05.678Z';
    const hash = (row: typeof plain) =>
      chainHash('audit_messages', GENESIS_HASH, '1', at, MESSAGES.content(row));
    expect(hash(traced).equals(hash(plain))).toBe(false);
    expect(hash({ ...traced, traceId: traceId.replace('4', '5') }).equals(hash(traced))).toBe(
      false,
    );
    for (const bad of ['', 'X'.repeat(32), '0'.repeat(32), `${traceId}0`, PAN])
      expect(messageRow(record({ traceId: bad })).traceId).toBeNull();
  });

  it("the writer's texts hash the same, and store the body's canonical text as its jsonb", () => {
    const row = messageRow(record());
    const text = messageRowText(record());
    const content = MESSAGES.content(row);
    expect(content[MESSAGE_BODY]).toBe(row.body);
    const canonical = content.map(canonicalJson);
    expect(text.content).toEqual(canonical);
    const at = '2025-01-02T03:04:05.678Z';
    expect(chainHashOf('audit_messages', GENESIS_HASH, '7', at, text.content)).toEqual(
      chainHash('audit_messages', GENESIS_HASH, '7', at, content),
    );
    const chained = { seq: '7', recordedAt: at, prevHash: GENESIS_HASH, hash: GENESIS_HASH };
    const [, batch] = MESSAGE_APPENDER.appendParams([{ ...chained, row: text }], {
      seq: '7',
      hash: GENESIS_HASH,
    });
    // One array per row, in the INSERT's order: the body is the 15th, as its canonical text.
    const BODY_COLUMN = 14;
    expect(batch).toContain(`,${canonical[MESSAGE_BODY]},`);
    const [batchRow] = JSON.parse(batch as string) as unknown[][];
    expect(batchRow[BODY_COLUMN]).toEqual(row.body);
    expect(batchRow).toEqual([
      '7',
      row.messageId,
      row.routeId,
      row.routeVersion,
      row.source,
      row.outcome,
      row.destinations,
      `{${row.targets.map((t) => `"${t}"`).join(',')}}`,
      row.attempts,
      row.receivedAt,
      row.doneAt,
      row.errorCode,
      row.errorMessage,
      row.errorWhere,
      row.body,
      row.payloadSha256,
      row.traceId,
      GENESIS_HASH.toString('hex'),
      GENESIS_HASH.toString('hex'),
    ]);
    const noBody = messageRowText(record({ auditPayload: 'none' }));
    const [, noBodyText] = MESSAGE_APPENDER.appendParams([{ ...chained, row: noBody }], {
      seq: '7',
      hash: GENESIS_HASH,
    });
    // JSON null, which the INSERT stores as SQL NULL (NULLIF).
    expect((JSON.parse(noBodyText as string) as unknown[][])[0][BODY_COLUMN]).toBeNull();
  });

  it('writes canonical JSON with sorted keys and keeps a __proto__ key as a key', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}',
    );
    const withProto = safeJson(JSON.parse('{"__proto__":{"x":1}}'));
    expect(canonicalJson(withProto)).toBe('{"__proto__":{"x":1}}');
  });
});

describe('exports and paging', () => {
  it('guards spreadsheet cells against formulas', () => {
    expect(spreadsheetSafe('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(spreadsheetSafe('@cmd')).toBe("'@cmd");
    expect(spreadsheetSafe('orders-eu')).toBe('orders-eu');
    expect(spreadsheetSafe('{"a":1}')).toBe('{"a":1}');
  });

  it('round-trips a cursor and refuses a forged one', () => {
    const position = { recordedAt: '2025-01-02T03:04:05.678Z', seq: '12345' };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
    expect(() => decodeCursor(Buffer.from('1; DROP TABLE x').toString('base64url'))).toThrow(
      /cursor/,
    );
  });
});
