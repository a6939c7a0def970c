/**
 * `sentinel`: the command line of the release gate. Thin: each command lives
 * in ./commands; errors become one clear message and a documented exit code.
 */
import { Command, CommanderError } from 'commander';
import { bootstrapCommand } from './commands/bootstrap';
import { configCommand } from './commands/config';
import { promoteCommand } from './commands/promote';
import { janitorCommand } from './commands/janitor';
import { runCommand } from './commands/run';
import { scheduleCommand } from './commands/schedule';
import { verifyCommand } from './commands/verify';
import { runsCommand } from './commands/runs';
import { reportCommand } from './commands/report';
import { CliError, EXIT } from './exit-codes';
import { firstLine } from './failure-cause';
import { createPrinter } from './output';

export function buildProgram(jsonMode: boolean): Command {
  const printer = createPrinter(jsonMode);
  const program = new Command('sentinel')
    .description(
      'GPU-matrix release gate: proves a cluster-agent image on every GPU vendor before promoting its digest',
    )
    .option(
      '--invariants <path>',
      'configuration file (default: $SENTINEL_INVARIANTS, then ops/invariants.yaml)',
    )
    .option('--json', 'print one machine-readable JSON result on stdout (progress goes to stderr)')
    .exitOverride()
    .showHelpAfterError('(run sentinel --help for usage)');
  program.addCommand(runCommand(printer));
  program.addCommand(configCommand(printer));
  program.addCommand(bootstrapCommand(printer));
  program.addCommand(promoteCommand(printer));
  program.addCommand(janitorCommand(printer));
  program.addCommand(scheduleCommand(printer));
  program.addCommand(verifyCommand(printer));
  program.addCommand(runsCommand(printer));
  program.addCommand(reportCommand(printer));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // `sentinel … | head` closes the pipe early: that ends the output, not in a crash.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  // Whatever escapes the commands still ends in one line, never Node's default stack trace.
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    process.on(event, (err: unknown) => {
      process.stderr.write(`sentinel: unexpected error: ${firstLine(err)}\n`);
      process.exit(EXIT.INTERNAL);
    });
  }
  const jsonMode = argv.includes('--json');
  const printer = createPrinter(jsonMode);
  const program = buildProgram(jsonMode);
  program.commands.forEach((c) => c.exitOverride());
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.PASSED;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, successfully.
      return err.exitCode === 0 ? EXIT.PASSED : EXIT.REFUSED;
    }
    if (err instanceof CliError) {
      process.stderr.write(`sentinel: ${err.message}\n${err.problems.map((p) => `  - ${p}\n`).join('')}`);
      printer.json({ error: { message: err.message, problems: err.problems }, exitCode: err.exitCode });
      return err.exitCode;
    }
    // One line, never a stack trace: what failed is in the message.
    const message = `unexpected error: ${err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : ''}${firstLine(err)}`;
    process.stderr.write(`sentinel: ${message}\n`);
    printer.json({ error: { message }, exitCode: EXIT.INTERNAL });
    return EXIT.INTERNAL;
  }
}

if (require.main === module) {
  // Not awaited: main ends every failure in an exit code, and its unhandledRejection handler catches the rest.
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
