/**
 * `sentinel runs watch <run>`: the live view of `sentinel run`, attached to a
 * run started elsewhere (CI, a schedule, --no-wait); exits with its verdict's code.
 */
import { workflowUrl } from '../context';
import { CliError, EXIT, exitCodeForRun, type ExitCode } from '../exit-codes';
import { printResult, type Printer } from '../output';
import { followRun } from '../progress';
import { waitForResult } from './run';
import { withRunsContext, type RunsOptions } from './runs-context';
import { closedResult, findRun } from './runs-lookup';

export async function watchRun(options: RunsOptions, printer: Printer, run: string): Promise<ExitCode> {
  return withRunsContext(options, async (temporal) => {
    const found = await findRun(temporal, run, options.env);
    const { workflowId, runId } = found.description;
    const url = workflowUrl(temporal, workflowId, runId);
    if (url) printer.info(`web ui: ${url}`);
    if (!found.running) {
      const closed = await closedResult(found);
      if (!closed.result) throw new CliError(EXIT.INTERNAL, `${workflowId} ${closed.problem}`);
      printer.info(`${workflowId} has already finished`);
      printResult(printer, closed.result, url);
      return exitCodeForRun(closed.result);
    }
    printer.info(`watching ${workflowId}`);
    const stop = new AbortController();
    const following = followRun(temporal.client, workflowId, printer, stop.signal);
    try {
      const result = await waitForResult(found.handle, temporal.settings.address, options.env ?? '<env>');
      stop.abort();
      await following;
      printResult(printer, result, url);
      return exitCodeForRun(result);
    } finally {
      stop.abort();
      await following;
    }
  });
}
