/**
 * Dead letters of large payloads, against a real Postgres. A dead letter keeps at most a little
 * over the message size limit of its payload: brokers hand over messages far larger than any
 * route runs (Mosquitto up to 256 MB), and sealing and storing one whole held the event loop for
 * seconds. A preview opens the letters it runs a page at a time, not all 1,000 first.
 */
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { DeadLettersRepository, MAX_KEPT_PAYLOAD_BYTES } from '@junction/runtime';
import { decodeBody } from '@junction/pipeline';
import { startTestGateway, TestGateway } from './test-gateway';

process.env.JUNCTION_LOG ??= 'silent';

describe('dead letters of oversized payloads', () => {
  let gw: TestGateway;
  let store: DeadLettersRepository;

  beforeAll(async () => {
    gw = await startTestGateway();
    store = gw.app.get(DeadLettersRepository, { strict: false });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
  });

  const park = (payload: Buffer) =>
    store.park({
      messageId: `m-${payload.length}`,
      routeId: 'telemetry',
      routeVersion: 1,
      source: { type: 'mqtt', name: 'devices/1' },
      reasonCode: 'INPUT_REJECTED',
      reason: `body is ${payload.length} bytes, over the 1048576-byte limit`,
      attempts: 0,
      payload,
      headers: { 'mqtt-topic': 'devices/1' },
    });

  it('keeps the first bytes of a payload over the limit, with the whole payload’s hash', async () => {
    const payload = Buffer.alloc(40 * 1024 * 1024, 'x');
    const id = await park(payload);
    const [{ stored }] = (await gw.app
      .get(DataSource)
      .query(`SELECT length(sealed) AS stored FROM dead_letters WHERE id = $1`, [id])) as Array<{
      stored: number;
    }>;
    // Whole, it was 74.6 million characters.
    expect(stored).toBeLessThan(2 * MAX_KEPT_PAYLOAD_BYTES);
    const opened = await store.open(id);
    expect(opened!.payload.equals(payload.subarray(0, MAX_KEPT_PAYLOAD_BYTES))).toBe(true);
    expect(opened!.headers).toEqual({ 'mqtt-topic': 'devices/1' });
    expect(opened!.row.payloadSha256).toBe(createHash('sha256').update(payload).digest('hex'));
    // What is kept is still refused by size if replayed: never run cut short.
    expect(() => decodeBody(opened!.payload)).toThrow(/over the 1048576-byte limit/);
  });

  it('keeps a payload within the limit whole', async () => {
    const payload = Buffer.from(JSON.stringify({ pad: 'y'.repeat(MAX_KEPT_PAYLOAD_BYTES - 20) }));
    expect(payload.length).toBeLessThanOrEqual(MAX_KEPT_PAYLOAD_BYTES);
    const opened = await store.open(await park(payload));
    expect(opened!.payload.equals(payload)).toBe(true);
  });

  it('opens letters for a preview a page at a time, newest first', async () => {
    const db = gw.app.get(DataSource);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await store.park({
        messageId: `page-${i}`,
        routeId: 'paged',
        routeVersion: 1,
        source: { type: 'http', name: 'paged' },
        reasonCode: 'INPUT_REJECTED',
        reason: 'not JSON',
        attempts: 0,
        payload: Buffer.from(`letter ${i}`),
        headers: {},
      });
      await db.query(`UPDATE dead_letters SET created_at = $2 WHERE id = $1`, [
        id,
        new Date(Date.UTC(2026, 10, 1, 0, i)),
      ]);
      ids.push(id);
    }
    const seen: string[] = [];
    for await (const letter of store.openMany({ routeId: 'paged' }, 40)) {
      seen.push(letter.payload.toString());
      // Read all at once, every letter was in memory already: now only the first page is.
      if (seen.length === 1) await db.query(`DELETE FROM dead_letters WHERE route_id = 'paged'`);
    }
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.length).toBeLessThan(40);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => `letter ${39 - i}`));
  });
});
