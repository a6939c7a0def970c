/**
 * The nightly run, started by the environment's nightly schedule: resolves
 * the configured tag (schedules.nightly.candidate.tag) to the digest it
 * points to now, then runs the matrix on that digest as a child, through
 * the environment's lane like any other run. What was resolved, from which
 * tag, travels into the evidence as run.candidateSource.
 */
import { executeChild, ParentClosePolicy, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { setWorkflowOptions } from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import type { MatrixRunResult } from '../domain/run';
import { runWorkflowId, scheduleId } from '../temporal/definitions';
import { gpuMatrixWorkflow } from './matrix';

export interface NightlyInput {
  environment: string;
}

/** One registry lookup (plus the image's config, for its revision label); retried while the registry is unreachable. */
const { resolveNightlyCandidate } = proxyActivities<Pick<SentinelActivities, 'resolveNightlyCandidate'>>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '10m',
  retry: {
    initialInterval: '5s',
    maximumInterval: '1m',
    nonRetryableErrorTypes: ['CONFIG_INVALID', 'CANDIDATE_TAG_NOT_FOUND', 'REGISTRY_AUTH_REFUSED'],
  },
});

// The nightly starter waits hours for its run and moves to the current build meanwhile; its run is pinned (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, nightlyMatrixWorkflow);

export async function nightlyMatrixWorkflow(input: NightlyInput): Promise<MatrixRunResult> {
  const info = workflowInfo();
  // A schedule names its runs after itself, plus the scheduled time.
  const schedule = scheduleId('nightly', input.environment);
  const resolved = await resolveNightlyCandidate({
    environment: input.environment,
    ...(info.workflowId.startsWith(`${schedule}-`) ? { scheduleId: schedule } : {}),
  });
  // nightly-20261125-100000-ab12: when it started, and which start, readable in lists.
  const stamp = info.runStartTime.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const ciRunId = `nightly-${stamp}-${info.runId.slice(0, 4)}`;
  return executeChild(gpuMatrixWorkflow, {
    workflowId: runWorkflowId(input.environment, ciRunId),
    args: [
      {
        environment: input.environment,
        candidate: resolved.candidate,
        ...(resolved.candidateImage ? { candidateImage: resolved.candidateImage } : {}),
        gitSha: resolved.gitSha ?? 'unknown',
        ciRunId,
        dryRun: false,
        // A nightly run waits its turn behind a CI run rather than giving up.
        queue: 'wait',
        trigger: 'schedule',
        candidateSource: resolved.source,
      },
    ],
    // Ending the nightly run asks the matrix to cancel, so its legs still clean up.
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  });
}
