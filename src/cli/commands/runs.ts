/**
 * `sentinel runs list|show|watch|cancel`: the runs of the gate, whoever
 * started them (CI, a schedule, `sentinel run --no-wait`), without learning
 * the `temporal` CLI or the search-attribute names.
 */
import { Command, Option } from 'commander';
import type { ExitCode } from '../exit-codes';
import type { Printer } from '../output';
import { cancelRun } from './runs-cancel';
import { listRuns } from './runs-list';
import { showRun } from './runs-show';
import { watchRun } from './runs-watch';
import { VERDICT_CHOICES, type RunsOptions } from './runs-context';

export function runsCommand(printer: Printer): Command {
  const runs = new Command('runs').description(
    'list, show, follow and cancel matrix runs, wherever they were started',
  );
  const env = '--env <env>';
  const action =
    (body: (options: RunsOptions, printer: Printer, run?: string) => Promise<ExitCode>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const run = typeof args[0] === 'string' ? args[0] : undefined;
      process.exitCode = await body(command.optsWithGlobals<RunsOptions>(), printer, run);
    };
  runs
    .command('list')
    .description(
      "the runs, newest first: environment, candidate, trigger, verdict, duration and each target's outcome",
    )
    .option(env, 'only the runs of this environment')
    .addOption(
      new Option('--verdict <verdict>', 'only the runs with this verdict').choices([...VERDICT_CHOICES]),
    )
    .option('--since <age>', 'only the runs started within this age: 30m, 12h, 7d')
    .option('--limit <n>', 'at most this many runs (default 20)')
    .action(action((o, p) => listRuns(o, p)));
  runs
    .command('show <run>')
    .description(
      "a run's evidence summary (legs, phases, failures and their remediation), or its live progress while it runs",
    )
    .option(env, 'environment, to name the run by its run id instead of its workflow id')
    .action(action((o, p, r) => showRun(o, p, r!)));
  runs
    .command('watch <run>')
    .description("follow a running run live, as sentinel run does, and exit with its verdict's code")
    .option(env, 'environment, to name the run by its run id instead of its workflow id')
    .action(action((o, p, r) => watchRun(o, p, r!)));
  runs
    .command('cancel <run>')
    .description('cancel a run and wait until its legs have cleaned up, printing what was cleaned')
    .option(env, 'environment, to name the run by its run id instead of its workflow id')
    .option('--reason <text>', "why; kept in the run's history and shown by sentinel runs show")
    .action(action((o, p, r) => cancelRun(o, p, r!)));
  runs.commands.forEach((c) => c.exitOverride());
  return runs;
}
