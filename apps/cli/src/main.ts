import { packageInfo } from '@junction/common';
import { Command, InvalidArgumentError } from 'commander';
import { routeTestCommand, routeValidateCommand } from './route.commands';
import { EXIT } from './exit-codes';
import { auditVerifyCommand, AuditVerifyOptions } from './audit.commands';

function headerOption(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError(`expected name=value, got '${value}'`);
  return { ...previous, [value.slice(0, eq).toLowerCase()]: value.slice(eq + 1) };
}

export function buildProgram(): Command {
  const { version } = packageInfo();
  const program = new Command('junction')
    .description('Junction integration gateway: work with routes from the command line.')
    .version(version)
    .showHelpAfterError()
    .exitOverride();
  program.configureOutput({ outputError: (text, write) => write(text) });

  const route = program
    .command('route')
    .description('validate and dry-run route documents (JSON or YAML)');
  route
    .command('validate')
    .argument('<file>', 'route document')
    .option('--json', 'print the result as JSON')
    .description(
      'check a route document; exit 0 if valid, 1 with every problem (by JSON pointer) if not',
    )
    .action(async (file: string, options: { json?: boolean }) => {
      process.exitCode = await routeValidateCommand(file, options);
    });
  route
    .command('test')
    .argument('<route-file>', 'route document')
    .argument('<message-file>', 'message body (JSON)')
    .option('-H, --header <name=value>', 'message header (repeatable)', headerOption, {})
    .option('--json', 'print the result as JSON')
    .option('--show-pans', 'do not redact card numbers in the printed payloads')
    .description(
      [
        'run a message through a route without any broker: prints each stage and the deliveries that would happen.',
        `exit codes: ${EXIT.DELIVER} delivered, ${EXIT.ROUTE_INVALID} route invalid, ${EXIT.USAGE} bad usage or unreadable file,`,
        `${EXIT.MESSAGE_FAILED} message failed (would be dead-lettered), ${EXIT.DROPPED} message dropped (filtered or unroutable)`,
      ].join('\n'),
    )
    .action(
      async (
        routeFile: string,
        messageFile: string,
        options: { header: Record<string, string>; json?: boolean; showPans?: boolean },
      ) => {
        process.exitCode = await routeTestCommand(routeFile, messageFile, options);
      },
    );
  program
    .command('audit')
    .description('check the audit trail')
    .command('verify')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL); read access is enough')
    .option(
      '--anchors <dir>',
      'folder of the published anchors (default: JUNCTION_AUDIT_ANCHOR_DIR)',
    )
    .option(
      '--public-key <file>',
      'Ed25519 public key (PEM file or text) that signed them (default: JUNCTION_AUDIT_PUBLIC_KEY)',
    )
    .option('--json', 'print the result as JSON')
    .description(
      [
        'check the database against the signed anchors: no record changed or removed since an anchor, the chain consistent.',
        `exit codes: 0 ok, ${EXIT.AUDIT_BROKEN} broken (names the first broken record; also when no anchor is found),`,
        `${EXIT.USAGE} bad usage or unreadable key, ${EXIT.UNAVAILABLE} the database or the anchors could not be read`,
      ].join('\n'),
    )
    .action(async (options: AuditVerifyOptions) => {
      process.exitCode = await auditVerifyCommand(options);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const code = (err as { exitCode?: number; code?: string }).exitCode;
    const kind = (err as { code?: string }).code;
    if (kind === 'commander.helpDisplayed' || kind === 'commander.version') process.exitCode = 0;
    else process.exitCode = EXIT.USAGE;
    // Commander has already printed its own usage errors; anything else is unexpected.
    if (code === undefined)
      process.stderr.write(`junction: ${(err as Error).stack ?? String(err)}\n`);
  }
}

if (require.main === module) void main(process.argv);
