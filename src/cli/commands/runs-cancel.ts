/**
 * `sentinel runs cancel <run> [--reason]`: asks a run to cancel and waits
 * until it has closed, which is after its legs' cleanup (every instance
 * terminated, every test cluster deleted); then prints what was cleaned.
 *
 * The reason and who asked go to the run as a `cancelReason` signal, which
 * its evidence pack keeps (`cancellation`), and in the cancel request itself,
 * which Temporal keeps in the run's history (WorkflowExecutionCancelRequested);
 * `sentinel runs show` prints both.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { EvidenceRecord } from '../../domain/evidence';
import type { MatrixRunResult } from '../../domain/run';
import { cancelReasonSignal } from '../../temporal/definitions';
import { workflowUrl } from '../context';
import { CliError, EXIT, exitCodeForRun, type ExitCode } from '../exit-codes';
import { firstLine } from '../failure-cause';
import type { Printer } from '../output';
import { waitForResult } from './run';
import { withRunsContext, type RunsOptions } from './runs-context';
import { findRun, readEvidencePack } from './runs-lookup';

export interface Cleaned {
  target: string;
  instanceTerminated?: string;
  clusterDeleted?: string;
  cleanup: string;
  cleanupFailure?: string;
}

export async function cancelRun(options: RunsOptions, printer: Printer, run: string): Promise<ExitCode> {
  return withRunsContext(options, async (temporal, invariants) => {
    const found = await findRun(temporal, run, options.env);
    const { workflowId, runId } = found.description;
    if (!found.running) {
      throw new CliError(
        EXIT.REFUSED,
        `${workflowId} is not running (${found.description.status.name.toLowerCase()}): there is nothing to cancel; sentinel runs show ${workflowId} shows how it ended`,
      );
    }
    const identity = `sentinel runs cancel (${os.userInfo().username}@${os.hostname()})`;
    try {
      // The reason first, so the run's evidence keeps it; then the cancel request, which Temporal keeps in history.
      await found.handle.signal(cancelReasonSignal, { reason: options.reason ?? '', requestedBy: identity });
      await temporal.client.workflowService.requestCancelWorkflowExecution({
        namespace: temporal.settings.namespace,
        workflowExecution: { workflowId, runId },
        identity,
        requestId: randomUUID(),
        reason: options.reason ?? '',
      });
    } catch (err) {
      throw new CliError(
        EXIT.TEMPORAL_UNREACHABLE,
        `could not ask ${workflowId} to cancel: ${firstLine(err)}`,
      );
    }
    printer.info(
      `cancel requested for ${workflowId}${options.reason ? ` (${options.reason})` : ''}; waiting for its legs to clean up`,
    );
    const url = workflowUrl(temporal, workflowId, runId);
    const result = await waitForResult(found.handle, temporal.settings.address, options.env ?? '<env>');
    const { evidence, warning } = await readEvidencePack(result, invariants);
    if (warning) printer.info(`warning: ${warning}`);
    const cleaned = evidence ? cleanedOf(evidence) : cleanedFromResult(result);
    if (result.verdict !== 'cancelled')
      printer.info(`${workflowId} ended ${result.verdict} before the cancellation took effect`);
    else printer.info(`${workflowId} cancelled`);
    for (const c of cleaned) {
      const parts = [
        c.instanceTerminated ? `instance ${c.instanceTerminated} terminated` : 'no instance launched',
        ...(c.clusterDeleted ? [`cluster ${c.clusterDeleted} deleted`] : []),
      ];
      const said = c.cleanupFailure
        ? `CLEANUP FAILED (${c.cleanupFailure}); the janitor reaps what is left`
        : c.cleanup === 'unknown'
          ? 'cleanup not recorded (no evidence pack); sentinel janitor lists what is left'
          : parts.join(', ');
      printer.info(`  ${c.target}: ${said}`);
    }
    if (url) printer.info(`web ui: ${url}`);
    printer.json({
      workflowId,
      runId,
      verdict: result.verdict,
      reason: options.reason ?? null,
      identity,
      cleaned,
      ...(result.evidence ? { evidence: result.evidence } : {}),
      ...(url ? { url } : {}),
    });
    return exitCodeForRun(result);
  });
}

/** What each leg's cleanup removed: its instance, and its test cluster when the leg got as far as asking for one. */
export function cleanedOf(evidence: EvidenceRecord): Cleaned[] {
  return evidence.legs.map((leg) => {
    const cleanup = leg.phases.find((p) => p.name === 'cleanup');
    const installer = leg.phases.find((p) => p.name === 'installer');
    const ok = cleanup?.outcome === 'passed';
    return {
      target: leg.target,
      cleanup: cleanup?.outcome ?? 'unknown',
      ...(ok && leg.instance ? { instanceTerminated: leg.instance.instanceId } : {}),
      ...(ok && installer && installer.outcome !== 'skipped'
        ? { clusterDeleted: leg.onboarding?.clusterId ?? leg.workflowId }
        : {}),
      ...(leg.cleanupFailure
        ? {
            cleanupFailure: `${leg.cleanupFailure.code}: ${firstLine(leg.cleanupFailure.detail ?? leg.cleanupFailure.summary)}`,
          }
        : {}),
    };
  });
}

function cleanedFromResult(result: MatrixRunResult): Cleaned[] {
  return result.legs.map((leg) => ({ target: leg.target, cleanup: 'unknown' }));
}
