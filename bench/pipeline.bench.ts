/**
 * npm run bench:pipeline — messages/s on one core for the example route, stage by stage, next
 * to baselines measured in the same run:
 *   - JSON.parse + JSON.stringify of the same message (what any gateway pays per message);
 *   - the route's JSONata evaluations run alone through plain jsonata-js (no guards, no engine),
 *     the floor for this route: the engine aims at <= 1.2x of it;
 *   - the same evaluations with jsonata's guardrails on (timeout, depth, sequence): aim < 10%;
 *   - the same evaluations through the engine with its fast path off: what the gateway runs in
 *     jsonata-js, all its guards included (the size checks on every step, the bounded builtins);
 *   - the renaming route of bench:amqp (validate + filter + renaming transform + mask), the shape
 *     orders-eu is to match in speed.
 * Candidates run in interleaved slices, so a candidate's garbage collections may fall in another's
 * slice: the jsonata rows are best read with a separate long run as well. `--json` prints one JSON
 * document (rows and ratios) instead, as every bench.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import jsonata from 'jsonata';
import {
  compileRoute,
  envelopeOf,
  JsonataEngine,
  parseRouteText,
  RouteDocument,
} from '@junction/pipeline';
import { CONNECTORS } from '@junction/connectors';
import { renamingPipeline } from './route-bench';
import { nodeFlags, nodeFlagsLine, rerunWithGatewayFlags } from './gateway-node';

const ROOT = join(__dirname, '..', '..');
const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);

interface Result {
  name: string;
  perSecond: number;
  usPerOp: number;
}

type Op = () => unknown | Promise<unknown>;

/**
 * Runs every candidate in turns of SLICE_MS, round after round, so that a slow spell of the
 * machine (a shared VM drifts by tens of percent) falls on all of them alike and the ratios hold.
 */
async function measureAll(candidates: Array<[string, Op]>): Promise<Result[]> {
  const SLICE_MS = 50;
  const rounds = Math.max(1, Math.round(DURATION_MS / SLICE_MS));
  const totals = candidates.map(() => ({ count: 0, ns: 0n }));
  for (const [, op] of candidates) for (let i = 0; i < 1000; i++) await op(); // warm up
  for (let round = 0; round < rounds; round++) {
    for (let c = 0; c < candidates.length; c++) {
      const op = candidates[c][1];
      const started = process.hrtime.bigint();
      const deadline = started + BigInt(SLICE_MS) * 1_000_000n;
      let now = started;
      let count = 0;
      while (now < deadline) {
        for (let i = 0; i < 20; i++) {
          const r = op();
          if (r instanceof Promise) await r;
        }
        count += 20;
        now = process.hrtime.bigint();
      }
      totals[c].count += count;
      totals[c].ns += now - started;
    }
  }
  return candidates.map(([name], c) => {
    const seconds = Number(totals[c].ns) / 1e9;
    return {
      name,
      perSecond: totals[c].count / seconds,
      usPerOp: (seconds * 1e6) / totals[c].count,
    };
  });
}

function row(r: Result, baseline?: Result): string {
  const ratio = baseline ? `  ${(r.usPerOp / baseline.usPerOp).toFixed(2)}x` : '';
  return `${r.name.padEnd(48)} ${r.perSecond.toFixed(0).padStart(9)} msg/s ${r.usPerOp.toFixed(2).padStart(9)} us${ratio}`;
}

async function main(): Promise<void> {
  const raw = readFileSync(join(ROOT, 'examples/messages/order-de.json'), 'utf8');
  const doc = parseRouteText(
    readFileSync(join(ROOT, 'examples/orders-eu.route.yaml'), 'utf8'),
  ) as RouteDocument;
  const body = JSON.parse(raw) as Record<string, unknown>;
  const resources = {
    expressions: new JsonataEngine(),
    hmacKey: Buffer.from('bench-key'),
    protocols: CONNECTORS,
  };
  const route = await compileRoute(doc, resources);
  const envelope = envelopeOf(body);
  const bindings = { headers: envelope.headers, meta: envelope.meta };

  const stages = await Promise.all(
    (doc.pipeline ?? []).map((spec) =>
      compileRoute({ ...doc, pipeline: [spec], destinations: [{ type: 'log' }] }, resources),
    ),
  );
  // The input each stage sees in the full route.
  const traced = await route.run(envelope, { trace: true });
  const stageInputs = (traced.trace ?? []).map((t) => envelopeOf(t.input));
  const finalBody = traced.outcome === 'deliver' ? traced.deliveries[0].envelope.body : body;

  // The route's expressions, each with the input it sees, for the plain jsonata-js floor.
  const filterSrc = (doc.pipeline![1] as { filter: string }).filter;
  const transformSrc = (doc.pipeline![2] as { transform: string }).transform;
  const destinationExprs = doc.destinations.flatMap((d) =>
    [d.when, 'routingKey' in d ? d.routingKey : undefined, 'key' in d ? d.key : undefined].filter(
      (s): s is string => !!s,
    ),
  );
  const plain = (options?: jsonata.JsonataOptions) => {
    const filter = jsonata(filterSrc, options);
    const transform = jsonata(transformSrc, options);
    const dest = destinationExprs.map((s) => jsonata(s, options));
    const transformInput = stageInputs[2].body;
    return async () => {
      await filter.evaluate(stageInputs[1].body, bindings);
      await transform.evaluate(transformInput, bindings);
      for (const d of dest) await d.evaluate(finalBody, bindings);
    };
  };
  // The guards as JsonataEngine sets them (its clock reads are sampled; see guardrailOptions).
  const guards = () => {
    let steps = 0;
    const deadline = Infinity;
    return {
      get timeout() {
        if (++steps % 32 !== 0) return 0;
        return performance.now() > deadline ? 1 : 0;
      },
      stack: 250,
      sequence: 100_000,
    };
  };

  // The engine as the gateway has it, its fast path off: every guard it puts on jsonata-js.
  const viaEngine = () => {
    const engine = new JsonataEngine({}, { fastPath: false });
    const filter = engine.compile(filterSrc);
    const transform = engine.compile(transformSrc);
    const dest = destinationExprs.map((e) => engine.compile(e));
    const transformInput = stageInputs[2].body;
    return async () => {
      await filter.evaluate(stageInputs[1].body, bindings);
      await transform.evaluate(transformInput, bindings);
      for (const d of dest) await d.evaluate(finalBody, bindings);
    };
  };

  const renaming = await compileRoute(
    { ...doc, pipeline: renamingPipeline(), destinations: [{ type: 'log' }], errors: undefined },
    resources,
  );
  const inFlight = async () => {
    await Promise.all(Array.from({ length: 100 }, () => route.run(envelope)));
  };
  const candidates: Array<[string, Op]> = [
    ['baseline: JSON.parse + JSON.stringify', () => JSON.stringify(JSON.parse(raw))],
    ...stages.map((stage, i): [string, Op] => [
      `stage ${i} ${Object.keys(doc.pipeline![i])[0]} (alone, via the engine)`,
      () => stage.run(stageInputs[i]),
    ]),
    ['JSONata of this route alone, plain jsonata-js', plain()],
    ['JSONata of this route alone, with guardrails', plain(guards())],
    ['JSONata of this route alone, the engine in jsonata-js', viaEngine()],
    ['whole route: compiled pipeline + destinations', () => route.run(envelope)],
    ['the renaming route of bench:amqp, same message', () => renaming.run(envelope)],
    [
      'whole route incl. JSON.parse + stringify',
      async () => {
        const r = await route.run({ ...envelope, body: JSON.parse(raw) });
        if (r.outcome === 'deliver') JSON.stringify(r.deliveries[0].envelope.body);
      },
    ],
    ['whole route, 100 messages in flight (per 100)', inFlight],
  ];
  const results = await measureAll(candidates);
  const byName = (prefix: string) => results.find((r) => r.name.startsWith(prefix))!;
  const baseline = results[0];
  const jsonataAlone = byName('JSONata of this route alone, plain');
  const jsonataGuarded = byName('JSONata of this route alone, with');
  const jsonataEngine = byName('JSONata of this route alone, the engine');
  const full = byName('whole route: compiled');
  const renamed = byName('the renaming route');
  const batch = byName('whole route, 100');
  const inFlightPerMessage = {
    ...batch,
    name: 'whole route, 100 messages in flight',
    usPerOp: batch.usPerOp / 100,
    perSecond: batch.perSecond * 100,
  };
  results[results.length - 1] = inFlightPerMessage;
  const ratios = {
    routeOverBaseline: full.usPerOp / baseline.usPerOp,
    routeOverJsonataAlone: full.usPerOp / jsonataAlone.usPerOp,
    ordersEuOverRenaming: full.usPerOp / renamed.usPerOp,
    guardrailsCost: (jsonataGuarded.usPerOp - jsonataAlone.usPerOp) / jsonataAlone.usPerOp,
    engineGuardsCost: (jsonataEngine.usPerOp - jsonataAlone.usPerOp) / jsonataAlone.usPerOp,
    inFlightOverOneAtATime: inFlightPerMessage.usPerOp / full.usPerOp,
  };
  if (process.argv.includes('--json')) {
    const rows = results.map((r) => ({ ...r, ofBaseline: baseline.usPerOp / r.usPerOp }));
    console.log(
      JSON.stringify(
        { bench: 'pipeline', node: process.version, nodeFlags: nodeFlags(), rows, ratios },
        null,
        2,
      ),
    );
    return;
  }

  console.log(
    `Junction pipeline bench: examples/orders-eu.route.yaml on a ${raw.length}-byte order, one core, ${DURATION_MS} ms per row`,
  );
  console.log(`${nodeFlagsLine()}\n`);
  for (const r of results) console.log(row(r, baseline));
  console.log('\nratios');
  console.log(
    `  whole route / JSON parse+stringify baseline:    ${ratios.routeOverBaseline.toFixed(2)}x the time per message`,
  );
  console.log(
    `  whole route / its JSONata alone (aim <= 1.20):  ${ratios.routeOverJsonataAlone.toFixed(2)}x`,
  );
  console.log(
    `  orders-eu / the renaming route:                 ${ratios.ordersEuOverRenaming.toFixed(2)}x`,
  );
  console.log(
    `  guardrails cost on JSONata (aim < 10%):         ${(ratios.guardrailsCost * 100).toFixed(1)}%`,
  );
  console.log(
    `  the engine's guards in jsonata-js, all of them: ${(ratios.engineGuardsCost * 100).toFixed(1)}%`,
  );
  console.log(
    `  100 in flight / one at a time:                  ${ratios.inFlightOverOneAtATime.toFixed(2)}x`,
  );
}

// Under the gateway's node flags (see gateway-node.ts), or again as a child that has them.
if (!rerunWithGatewayFlags()) void main();
