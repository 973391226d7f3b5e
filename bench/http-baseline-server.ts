/**
 * The baselines of bench:http, run as their own process (so its CPU is theirs alone):
 *
 *   node dist/bench/http-baseline-server.js bare            Fastify parses the JSON body, answers 202
 *   node dist/bench/http-baseline-server.js insert <url>    ... after one INSERT of the body (pool of 10)
 *
 * Prints `listening <port>` once it takes requests.
 */
import Fastify from 'fastify';
import { Pool } from 'pg';

async function main(): Promise<void> {
  const [mode, databaseUrl] = process.argv.slice(2);
  if (mode !== 'bare' && mode !== 'insert') throw new Error('usage: bare | insert <database url>');
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  if (mode === 'bare') {
    app.post('/ingest', (request, reply) => {
      const body = request.body as { id?: unknown };
      void reply.status(202).send({ id: body.id, status: 'accepted' });
    });
  } else {
    const pool = new Pool({ connectionString: databaseUrl, max: 10 });
    await pool.query(
      `CREATE TABLE IF NOT EXISTS bench_ingest (id bigserial PRIMARY KEY, body jsonb NOT NULL)`,
    );
    app.post('/ingest', async (request, reply) => {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO bench_ingest (body) VALUES ($1) RETURNING id`,
        [JSON.stringify(request.body)],
      );
      void reply.status(202).send({ id: rows[0]!.id, status: 'stored' });
    });
    // Every connection open before the load starts: the bench reads their backends' CPU.
    await Promise.all(Array.from({ length: 10 }, async () => (await pool.connect()).release()));
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : ''}`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
