import {
  compileRoute,
  decodeBody,
  envelopeOf,
  JsonataEngine,
  PipelineError,
  redactPans,
  RouteProblem,
  RouteResources,
  RouteValidationError,
  RunResult,
  validateRoute,
  parseRouteText,
} from '@junction/pipeline';
import { CONNECTORS, connectorOf } from '@junction/connectors';
import { readBoundedText, UnreadableFile } from './bounded-read';
import { EXIT } from './exit-codes';
import { printable } from './terminal-text';
import { MAX_ROUTE_FILE_BYTES } from './route-files';

class UsageError extends Error {}

/** A message file: the gateway takes 1 MiB; four times that still says so from decodeBody. */
const MESSAGE_FILE_BYTES = 4 * 1024 * 1024;

/** A route file, or a message file (a message past the gateway's limit fails there anyway). */
function readText(file: string, maxBytes: number, what: string): string {
  try {
    return readBoundedText(file, maxBytes, what);
  } catch (err) {
    if (err instanceof UnreadableFile) throw new UsageError(err.message);
    throw err;
  }
}

function resources(): RouteResources {
  // Dry runs need a key for the `hash` strategy; the gateway's real key never leaves the server.
  return {
    expressions: new JsonataEngine(),
    hmacKey: Buffer.from(process.env.JUNCTION_HMAC_KEY ?? 'junction-dry-run'),
    protocols: CONNECTORS,
  };
}

async function loadProblems(
  file: string,
  res: RouteResources,
): Promise<{ doc?: unknown; problems: RouteProblem[] }> {
  let doc: unknown;
  try {
    doc = parseRouteText(readText(file, MAX_ROUTE_FILE_BYTES, 'route file'));
  } catch (err) {
    if (err instanceof RouteValidationError) return { problems: err.problems };
    throw err;
  }
  return { doc, problems: await validateRoute(doc, res) };
}

function printProblems(file: string, problems: RouteProblem[]): void {
  process.stderr.write(
    printable(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`),
  );
  for (const p of problems)
    process.stderr.write(printable(`  ${p.pointer || '/'}: ${p.message}\n`));
}

function guard(work: () => number | Promise<number>): Promise<number> {
  return Promise.resolve()
    .then(work)
    .catch((err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(printable(`junction: ${err.message}\n`));
        return EXIT.USAGE;
      }
      throw err;
    });
}

export function routeValidateCommand(file: string, options: { json?: boolean }): Promise<number> {
  return guard(async () => {
    const { doc, problems } = await loadProblems(file, resources());
    if (options.json) {
      process.stdout.write(
        printable(`${JSON.stringify({ valid: problems.length === 0, problems }, null, 2)}\n`),
      );
    } else if (problems.length > 0) {
      printProblems(file, problems);
    } else {
      process.stdout.write(printable(`${file}: valid route '${(doc as { id: string }).id}'\n`));
    }
    return problems.length === 0 ? EXIT.DELIVER : EXIT.ROUTE_INVALID;
  });
}

export function routeTestCommand(
  routeFile: string,
  messageFile: string,
  options: { header: Record<string, string>; json?: boolean; showPans?: boolean },
): Promise<number> {
  return guard(async () => {
    const res = resources();
    const { doc, problems } = await loadProblems(routeFile, res);
    if (problems.length > 0) {
      printProblems(routeFile, problems);
      return EXIT.ROUTE_INVALID;
    }
    const route = await compileRoute(doc, res);
    const show = <T>(value: T): T => (options.showPans ? value : redactPans(value));
    const envelope = envelopeOf(undefined, options.header);
    envelope.meta.routeId = route.document.id;
    envelope.meta.source = { type: 'test', name: messageFile };
    let result: RunResult;
    try {
      envelope.body = decodeBody(readText(messageFile, MESSAGE_FILE_BYTES, 'message file'));
      result = await route.run(envelope, { trace: true });
    } catch (err) {
      if (!(err instanceof PipelineError)) throw err;
      result = { outcome: 'error', deliveries: [], error: err, trace: [] };
    }
    if (options.json) {
      process.stdout.write(printable(`${JSON.stringify(show(toJson(result)), null, 2)}\n`));
    } else {
      printResult(result, show);
    }
    return result.outcome === 'deliver'
      ? EXIT.DELIVER
      : result.outcome === 'drop'
        ? EXIT.DROPPED
        : EXIT.MESSAGE_FAILED;
  });
}

function toJson(result: RunResult): unknown {
  const base = {
    outcome: result.outcome,
    stages: result.trace,
    deliveries: result.deliveries.map((d) => ({
      destination: d.index,
      type: d.destination.type,
      ...(d.routingKey !== undefined ? { routingKey: d.routingKey } : {}),
      ...(d.key !== undefined ? { key: d.key } : {}),
      ...(d.priority !== undefined ? { priority: d.priority } : {}),
      body: d.envelope.body,
    })),
  };
  if (result.outcome === 'drop') return { ...base, reason: result.reason };
  if (result.outcome === 'error')
    return {
      ...base,
      error: { code: result.error.code, message: result.error.message, where: result.error.where },
    };
  return base;
}

/** A would-be delivery, as its protocol describes it. */
function describeTarget(d: RunResult['deliveries'][number]): string {
  const spec = d.destination;
  return connectorOf(spec.type)?.describeDelivery?.(spec, d) ?? spec.type;
}

function printResult(result: RunResult, show: <T>(value: T) => T): void {
  const out = (line = '') => process.stdout.write(`${printable(line)}\n`);
  const first = result.trace?.[0];
  if (first) out(`input\n${indent(JSON.stringify(show(first.input), null, 2))}`);
  for (const t of result.trace ?? []) {
    const status = t.error ? `FAILED ${t.error.code}` : t.dropped ? 'DROPPED' : 'ok';
    out(`stage ${t.index} ${t.kind}  ${t.durationMs.toFixed(2)} ms  ${status}`);
    if (t.error) out(`  ${t.error.message}`);
    else if (t.output === t.input) out('    (body unchanged)');
    else if (!t.dropped) out(indent(JSON.stringify(show(t.output), null, 2)));
  }
  out();
  if (result.outcome === 'error') {
    out(
      `message FAILED at ${result.error.where ?? 'input'}: ${result.error.code}: ${result.error.message}`,
    );
    out('(the gateway would dead-letter it)');
    return;
  }
  if (result.outcome === 'drop') {
    out(
      result.reason === 'filtered'
        ? `message DROPPED by stage ${result.stage}`
        : 'message DROPPED: no destination matched',
    );
    return;
  }
  out(`${result.deliveries.length} deliver${result.deliveries.length === 1 ? 'y' : 'ies'}:`);
  for (const d of result.deliveries) {
    out(`-> destinations/${d.index}: ${describeTarget(d)}`);
    out(indent(JSON.stringify(show(d.envelope.body), null, 2)));
  }
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}
