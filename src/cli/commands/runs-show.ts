/**
 * `sentinel runs show <run>`: a finished run's evidence summary (legs,
 * phases with durations, failures with their remediation, the Web UI link),
 * or a running run's live progress (its and its legs' progress queries).
 */
import type { EvidenceRecord } from '../../domain/evidence';
import type { FailureRecord } from '../../domain/failures';
import { formatDuration } from '../../domain/duration';
import type { LegProgress, PhaseRecord, RunProgress } from '../../domain/run';
import { legProgressQuery, runProgressQuery } from '../../temporal/definitions';
import { workflowUrl, type TemporalContext } from '../context';
import { EXIT, type ExitCode } from '../exit-codes';
import { firstLine } from '../failure-cause';
import { printResult, type Printer } from '../output';
import { withRunsContext, type RunsOptions } from './runs-context';
import { cancelRequestOf, closedResult, findRun, readEvidencePack } from './runs-lookup';

export async function showRun(options: RunsOptions, printer: Printer, run: string): Promise<ExitCode> {
  return withRunsContext(options, async (temporal, invariants) => {
    const found = await findRun(temporal, run, options.env);
    const { workflowId, runId } = found.description;
    const url = workflowUrl(temporal, workflowId, runId);
    const cancelRequest = await cancelRequestOf(found);
    const status = found.description.status.name.toLowerCase();
    printer.info(`${workflowId} (${status})`);
    if (url) printer.info(`web ui: ${url}`);
    if (cancelRequest) {
      printer.info(
        `cancel requested ${cancelRequest.at}${cancelRequest.identity ? ` by ${cancelRequest.identity}` : ''}${cancelRequest.reason ? `: ${cancelRequest.reason}` : ''}`,
      );
    }
    const common = {
      workflowId,
      runId,
      status,
      ...(url ? { url } : {}),
      ...(cancelRequest ? { cancelRequest } : {}),
    };

    if (found.running) {
      const progress = await liveProgress(temporal, workflowId);
      printProgress(printer, progress);
      printer.json({ ...common, progress });
      return EXIT.PASSED;
    }
    const closed = await closedResult(found);
    if (!closed.result) {
      printer.info(`  ${closed.problem}`);
      printer.json({ ...common, problem: closed.problem });
      return EXIT.PASSED;
    }
    const { evidence, warning } = await readEvidencePack(closed.result, invariants);
    if (!evidence) {
      printer.info(`warning: ${warning}`);
      printResult({ ...printer, json: () => undefined }, closed.result, url);
      printer.json({ ...common, result: closed.result, warning });
      return EXIT.PASSED;
    }
    printEvidence(printer, evidence);
    printer.json({ ...common, result: closed.result, evidence });
    return EXIT.PASSED;
  });
}

interface LiveProgress {
  run?: RunProgress;
  legs: Array<{ target: string; workflowId: string; progress?: LegProgress; outcome?: string }>;
}

async function liveProgress(temporal: TemporalContext, workflowId: string): Promise<LiveProgress> {
  const ask = async <T>(query: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await temporal.client.withDeadline(Date.now() + 5_000, query);
    } catch {
      return undefined;
    }
  };
  const run = await ask(() => temporal.client.workflow.getHandle(workflowId).query(runProgressQuery));
  const legs = await Promise.all(
    (run?.legs ?? []).map(async (leg) => {
      const progress = leg.outcome
        ? undefined
        : await ask(() => temporal.client.workflow.getHandle(leg.workflowId).query(legProgressQuery));
      return {
        target: leg.target,
        workflowId: leg.workflowId,
        ...(progress ? { progress } : {}),
        ...(leg.outcome ? { outcome: leg.outcome } : {}),
      };
    }),
  );
  return { ...(run ? { run } : {}), legs };
}

function printProgress(printer: Printer, live: LiveProgress): void {
  if (!live.run) {
    printer.info('  running, but its progress did not answer (is a worker polling its task queue?)');
    return;
  }
  printer.info(
    `  stage: ${live.run.stage.replace(/_/g, ' ')}${live.run.lane?.holder ? ` (lane held by ${live.run.lane.holder})` : ''}`,
  );
  printer.info(`  candidate: ${live.run.candidate}${live.run.simulated ? ' [SIMULATED]' : ''}`);
  for (const leg of live.legs) {
    if (leg.outcome) {
      printer.info(`  ${leg.target}: done: ${leg.outcome}`);
      continue;
    }
    const p = leg.progress;
    printer.info(
      `  ${leg.target}: ${p ? p.phase : 'not answering'}${p?.instanceId ? ` (${p.instanceId})` : ''}`,
    );
    for (const phase of p?.phases ?? [])
      if (phase.outcome !== 'skipped' || phase.startedAt) printer.info(phaseLine(phase));
  }
}

function printEvidence(printer: Printer, e: EvidenceRecord): void {
  printer.info(
    `verdict: ${e.verdict.toUpperCase()}${e.run.dryRun ? ' (dry run)' : ''}${e.simulated ? ' [SIMULATED]' : ''} in ${formatDuration(e.run.durationSeconds * 1000)}`,
  );
  printer.info(
    `  environment ${e.run.environment}, trigger ${e.run.trigger}, candidate ${e.candidate.reference}`,
  );
  printer.info(`  started ${e.run.startedAt}, finished ${e.run.finishedAt}`);
  if (e.failure) printFailure(printer, '  ', e.failure);
  if (e.cancellation) {
    printer.info(
      `  cancelled by ${e.cancellation.requestedBy}: ${e.cancellation.reason || '(no reason given)'}`,
    );
  }
  for (const leg of e.legs) {
    printer.info(
      `  ${leg.outcome.toUpperCase().padEnd(9)} ${leg.target} (${leg.vendor})${leg.instance ? ` ${leg.instance.instanceId} ${leg.instance.instanceType}` : ''}`,
    );
    for (const phase of leg.phases) printer.info(phaseLine(phase));
    if (leg.failure) printFailure(printer, '      ', leg.failure);
    if (leg.cleanupFailure) printFailure(printer, '      cleanup: ', leg.cleanupFailure);
  }
  printer.info(`promotion: ${e.promotion.status}${e.promotion.detail ? ` (${e.promotion.detail})` : ''}`);
}

function phaseLine(phase: PhaseRecord): string {
  const took = phase.durationSeconds !== undefined ? formatDuration(phase.durationSeconds * 1000) : '';
  return `      ${phase.name.padEnd(18)} ${phase.outcome.padEnd(9)} ${took.padStart(7)}${phase.failure ? `  ${phase.failure.code}` : ''}`;
}

function printFailure(printer: Printer, indent: string, failure: FailureRecord): void {
  printer.info(`${indent}${failure.code}: ${firstLine(failure.detail ?? failure.summary)}`);
  printer.info(`${indent}remediation: ${failure.remediation}`);
}
