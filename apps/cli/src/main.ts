import { packageInfo } from '@junction/common';
import { Command, InvalidArgumentError } from 'commander';
import { routeTestCommand, routeValidateCommand } from './route.commands';
import { EXIT } from './exit-codes';
import {
  auditExportCommand,
  deadLetterReplayCommand,
  deadLettersListCommand,
  loginCommand,
  logoutCommand,
  routeApplyCommand,
  routeExportCommand,
} from './remote.commands';
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
    .description(
      'validate and dry-run route documents (JSON or YAML); apply, diff and export them on a gateway',
    );
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

  const applyHelp = [
    'exit codes: 0 applied or no changes, 1 a document is invalid (nothing applied), 2 bad usage or not logged in,',
    `${EXIT.UNAVAILABLE} gateway unreachable or unavailable, ${EXIT.REFUSED} refused by the gateway (e.g. 401, 403, 409)`,
  ].join('\n');
  const files = (value: string, previous: string[] = []) => [...previous, value];
  route
    .command('apply')
    .requiredOption(
      '-f, --file <file|dir>',
      'route file, or folder of .yaml/.yml/.json (repeatable)',
      files,
    )
    .option('--dry-run', 'show what would change; change nothing')
    .option('--activate', 'activate new versions (and unchanged ones that are not active)')
    .description(
      `make the gateway's routes match the files: per route unchanged / created / updated with a unified diff.\n${applyHelp}`,
    )
    .action(async (options: { file: string[]; dryRun?: boolean; activate?: boolean }) => {
      process.exitCode = await routeApplyCommand(options.file, options);
    });
  route
    .command('diff')
    .requiredOption('-f, --file <file|dir>', 'route file, or folder (repeatable)', files)
    .option('--exit-code', `exit ${EXIT.CHANGES} when the gateway differs from the files`)
    .description(`what route apply would change, as unified diffs of the source.\n${applyHelp}`)
    .action(async (options: { file: string[]; exitCode?: boolean }) => {
      process.exitCode = await routeApplyCommand(options.file, { ...options, diffOnly: true });
    });
  route
    .command('export')
    .argument('<id>', 'route id')
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .description("the route's YAML source (the active version's, else the latest)")
    .action(async (id: string, options: { output?: string }) => {
      process.exitCode = await routeExportCommand(id, options);
    });

  program
    .command('login')
    .argument('<url>', 'the gateway, e.g. http://127.0.0.1:8080')
    .option(
      '-u, --username <name>',
      'sign in as this user (password: --password-stdin or JUNCTION_PASSWORD)',
    )
    .option('--provider <provider>', 'local or ldap', 'local')
    .option('--password-stdin', 'read the password from standard input')
    .option('--api-key-stdin', 'use an API key read from standard input (or JUNCTION_API_KEY)')
    .description(
      'keep the gateway URL and a credential in $XDG_CONFIG_HOME/junction/config.json (mode 0600).\n' +
        'JUNCTION_URL with JUNCTION_API_KEY or JUNCTION_TOKEN override it (for CI).',
    )
    .action(
      async (
        url: string,
        options: {
          username?: string;
          provider?: string;
          passwordStdin?: boolean;
          apiKeyStdin?: boolean;
        },
      ) => {
        process.exitCode = await loginCommand(url, options);
      },
    );
  program
    .command('logout')
    .description('forget the stored URL and credential')
    .action(async () => {
      process.exitCode = await logoutCommand();
    });

  const deadLetters = program.command('dead-letters').description('list and replay dead letters');
  deadLetters
    .command('list')
    .option('--route <id>', 'only this route')
    .option('--limit <n>', '1-500 (default 50); with --all, the size of each page')
    .option('--all', 'every page, not only the first')
    .option('--json', 'print as JSON')
    .description('dead letters, newest first')
    .action(async (options: { route?: string; limit?: string; all?: boolean; json?: boolean }) => {
      process.exitCode = await deadLettersListCommand(options);
    });
  deadLetters
    .command('replay')
    .argument('<id>', 'dead letter id')
    .option('--json', 'print as JSON')
    .description(
      `run the message again through the running version; exit 0 replayed, ${EXIT.MESSAGE_FAILED} dead-lettered again, ${EXIT.DROPPED} dropped`,
    )
    .action(async (id: string, options: { json?: boolean }) => {
      process.exitCode = await deadLetterReplayCommand(id, options);
    });
  const audit = program.command('audit').description('check and export the audit trail');
  audit
    .command('export')
    .requiredOption('--format <format>', 'csv or ndjson')
    .option('--kind <kind>', 'messages (default) or events')
    .option('--route <id>', 'only this route')
    .option('--from <time>', 'recorded at or after (ISO 8601)')
    .option('--to <time>', 'recorded before (ISO 8601)')
    .option('-o, --output <file>', 'write to this file (mode 0600) instead of standard output')
    .description('stream the audit records the gateway keeps, as CSV or NDJSON')
    .action(async (options: Parameters<typeof auditExportCommand>[0]) => {
      process.exitCode = await auditExportCommand(options);
    });
  audit
    .command('verify')
    .option(
      '--report <file>',
      'check a downloaded verification report (its signature; with --public-key, that the gateway signed it) instead of the database',
    )
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
