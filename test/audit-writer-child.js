/**
 * A process that only writes audit records (the compiled audit trail, as the gateway runs it),
 * for test/audit-pipeline-kill.e2e-spec.ts to kill -9. It prints `acked <id>...` for every record
 * whose record() resolved (what the gateway would acknowledge), `settled` once the first records
 * are all durable; on SIGUSR2 it keeps recording and prints `pipelined` once a batch was sent
 * while the one before was still committing. DATABASE_URL names the database.
 */
'use strict';
const { randomUUID } = require('node:crypto');
const { setInterval, clearInterval } = require('node:timers');
const { createAuditTrail } = require('../dist/libs/audit/src/audit-trail');

const trail = createAuditTrail({
  databaseUrl: process.env.DATABASE_URL,
  applicationName: 'junction-audit-kill-child',
  pipelineDepth: 2,
  log: { log: () => undefined, warn: () => undefined, error: () => undefined },
});

function record() {
  const id = randomUUID();
  const now = new Date().toISOString();
  const done = trail.recordMessage({
    messageId: id,
    routeId: 'orders',
    routeVersion: 1,
    source: { type: 'amqp', name: 'orders.in' },
    outcome: 'delivered',
    receipts: [{ destination: 0, receipt: { kind: 'log' } }],
    attempts: 1,
    receivedAt: now,
    doneAt: now,
    body: { id, total: 12.5 },
    payload: Buffer.from(JSON.stringify({ id })),
    auditPayload: 'masked',
  });
  return done.then(() => process.stdout.write(`acked ${id}\n`));
}

async function main() {
  await Promise.all(Array.from({ length: 200 }, record));
  process.stdout.write('settled\n');
  const pipelinedBefore = trail.stats().messages.pipelined;
  process.on('SIGUSR2', () => {
    // Records keep coming, a few at a time, as finished messages do.
    const more = setInterval(() => {
      for (let i = 0; i < 10; i++) void record();
      if (trail.stats().messages.pipelined > pipelinedBefore) {
        clearInterval(more);
        process.stdout.write('pipelined\n');
      }
    }, 5);
  });
  process.stdout.write('ready\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
