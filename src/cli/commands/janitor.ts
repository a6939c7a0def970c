/**
 * `sentinel janitor --env <env> [--dry-run]`: runs the janitor now (as a
 * workflow on the worker, like its schedule does) and prints its report.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Command } from 'commander';
import { formatDuration } from '../../domain/duration';
import { failureInfo, isFailureCode } from '../../domain/failures';
import type { ClusterAction, JanitorAction, JanitorInput, JanitorReport } from '../../domain/janitor';
import type { janitorWorkflow } from '../../workflows';
import { janitorWorkflowId } from '../../temporal/definitions';
import { connectTemporal, environmentFrom, loadConfig, workflowUrl, type GlobalOptions } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import type { Printer } from '../output';
import { warnWithoutWorker } from './run';

export interface JanitorOptions extends GlobalOptions {
  env: string;
  dryRun?: boolean;
}

/** Failures that mean AWS said no (credentials, permissions, EC2 errors). */
const AWS_CODES = new Set(['AWS_CREDENTIALS_REFUSED', 'JANITOR_SCAN_FAILED', 'CLEANUP_FAILED']);

export function janitorCommand(printer: Printer): Command {
  return new Command('janitor')
    .description(
      "terminate the environment's GPU-matrix instances that outlived their run (never one an open run uses)",
    )
    .requiredOption('--env <env>', 'environment of ops/invariants.yaml')
    .option('--dry-run', 'list what would be terminated; terminate nothing')
    .action(async (options: JanitorOptions, command: Command) => {
      process.exitCode = await runJanitor(
        { ...command.optsWithGlobals<JanitorOptions>(), ...options },
        printer,
      );
    });
}

export async function runJanitor(options: JanitorOptions, printer: Printer): Promise<ExitCode> {
  const invariants = loadConfig(options);
  environmentFrom(invariants, options.env);
  const temporal = await connectTemporal(invariants);
  try {
    await warnWithoutWorker(temporal, printer);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const workflowId = janitorWorkflowId(options.env, `${stamp}-${Math.random().toString(16).slice(2, 6)}`);
    const input: JanitorInput = { environment: options.env, dryRun: Boolean(options.dryRun) };
    const handle = await temporal.client.workflow.start<typeof janitorWorkflow>('janitorWorkflow', {
      workflowId,
      taskQueue: temporal.taskQueue,
      args: [input],
    });
    printer.info(`started ${workflowId}${input.dryRun ? ' (dry run: nothing is terminated)' : ''}`);
    const url = workflowUrl(temporal, workflowId, handle.firstExecutionRunId);
    if (url) printer.info(`web ui: ${url}`);
    let report: JanitorReport;
    try {
      report = await handle.result();
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      const coded = codedCause(err);
      if (coded) {
        const info = failureInfo(coded.code);
        throw new CliError(
          coded.code === 'CONFIG_INVALID'
            ? EXIT.CONFIG_INVALID
            : AWS_CODES.has(coded.code)
              ? EXIT.AWS_ERROR
              : EXIT.INTERNAL,
          `janitor ${workflowId} failed: ${coded.code}: ${coded.message}`,
          [`remediation: ${info.remediation}`],
        );
      }
      throw new CliError(EXIT.INTERNAL, `janitor ${workflowId} failed: ${err.cause?.message ?? err.message}`);
    }
    printJanitorReport(printer, report);
    printer.json({ workflowId, ...(url ? { url } : {}), report });
    return EXIT.PASSED;
  } finally {
    await temporal.close();
  }
}

export function printJanitorReport(printer: Printer, report: JanitorReport): void {
  const acted = report.dryRun ? report.wouldTerminate : report.terminated;
  printer.info('');
  printer.info(
    `janitor ${report.environment} (${report.region})${report.dryRun ? ', DRY RUN' : ''}: ${report.seen} instance(s) seen, ` +
      `${acted.length} ${report.dryRun ? 'would be terminated' : 'terminated'}, ${report.spared.length} spared; cleanupTtl ${formatDuration(report.cleanupTtlSeconds * 1000)}`,
  );
  const line = (verb: string, a: Pick<JanitorAction, 'instanceId' | 'ageSeconds' | 'runId' | 'detail'>) =>
    printer.info(
      `  ${verb.padEnd(15)} ${a.instanceId.padEnd(20)} age ${formatDuration(a.ageSeconds * 1000).padEnd(7)} run ${a.runId ?? '(none)'}: ${a.detail}`,
    );
  for (const a of acted) line(report.dryRun ? 'would terminate' : 'terminated', a);
  for (const s of report.spared) line(`spared`, s);
  const clusters = report.clusters;
  if (!clusters) return;
  if (clusters.failure) {
    printer.info(
      `test clusters: not swept (${clusters.failure.code}: ${clusters.failure.detail ?? clusters.failure.summary})`,
    );
    return;
  }
  const removed = report.dryRun ? clusters.wouldDelete : clusters.deleted;
  printer.info(
    `test clusters: ${clusters.seen} seen, ${removed.length} ${report.dryRun ? 'would be deleted' : 'deleted'}, ${clusters.spared.length} spared`,
  );
  const clusterLine = (verb: string, c: ClusterAction) =>
    printer.info(
      `  ${verb.padEnd(15)} ${c.clusterId} ${c.name} age ${formatDuration(c.ageSeconds * 1000)} run ${c.runId}: ${c.detail}`,
    );
  for (const c of removed) clusterLine(report.dryRun ? 'would delete' : 'deleted', c);
  for (const c of clusters.spared) clusterLine('spared', c);
}

function codedCause(
  err: WorkflowFailedError,
): { code: Parameters<typeof failureInfo>[0]; message: string } | undefined {
  for (let cause: unknown = err.cause; cause; cause = (cause as Error).cause) {
    if (cause instanceof ApplicationFailure && isFailureCode(cause.type))
      return { code: cause.type, message: cause.message };
  }
  return undefined;
}
