/**
 * The hardware legs of a matrix run: one child workflow per target, run
 * again on a fresh machine after an infrastructure failure, and a safety net
 * that terminates a leg's machines by its tag when the child ended without a
 * result. The order of commands is the run's: nothing here may be reordered
 * without a patch (docs/determinism.md).
 */
import {
  CancellationScope,
  ChildWorkflowCancellationType,
  isCancellation,
  ParentClosePolicy,
  patched,
  startChild,
} from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import { failureKind, failureRecord } from '../domain/failures';
import { legPlacement, type PlacementPlan } from '../domain/placement';
import type { CleanupIncomplete, LegResult, RunPlan, RunProgress } from '../domain/run';
import { legAttemptWorkflowId, legWorkflowId } from '../temporal/definitions';
import { runFailure } from './failure-mapping';
import { hardwareLegWorkflow } from './leg';
import { INFRA_RETRY_PATCH } from './matrix-patches';

export interface LegRunnerContext {
  plan: RunPlan;
  /** The matrix run's workflow id: the legs' ids derive from it. */
  runWorkflowId: string;
  /** The run's live progress: each leg's entry is added and updated here. */
  progress: RunProgress;
  /** The preflight's placement plan, when the preflight made one. */
  placement: PlacementPlan | undefined;
  /** The safety net's activity, with the run's cleanup options. */
  terminateLegInstances: SentinelActivities['terminateLegInstances'];
}

/** One target's leg, attempts included, as a function of the target. */
export function legRunner(ctx: LegRunnerContext): (target: RunPlan['targets'][number]) => Promise<LegResult> {
  const { plan, progress, terminateLegInstances } = ctx;
  const { timeouts } = plan.settings;
  return runLeg;

  /**
   * One target: a leg workflow, and when it ends for an infrastructure reason
   * (failure kind `infra`), another on a fresh machine, up to `infraRetries`
   * times. A leg whose last attempt still ended on the infrastructure is
   * `inconclusive`: not passed, but not the candidate's failure either.
   */
  async function runLeg(target: RunPlan['targets'][number]): Promise<LegResult> {
    const id = legWorkflowId(ctx.runWorkflowId, target.name);
    progress.legs.push({ target: target.name, workflowId: id });
    const entry = progress.legs[progress.legs.length - 1]!;
    const earlierAttempts: LegResult[] = [];
    let result = await runLegAttempt(target, id);
    // Histories from before infra retries replay without them.
    while (
      endedOnInfrastructure(result) &&
      !CancellationScope.current().consideredCancelled &&
      patched(INFRA_RETRY_PATCH)
    ) {
      const attempt = earlierAttempts.length + 1;
      if (attempt > (plan.settings.infraRetries ?? 0)) {
        result = { ...result, outcome: 'inconclusive' };
        break;
      }
      const { earlierAttempts: _nested, ...previous } = result;
      earlierAttempts.push(previous);
      const attemptId = legAttemptWorkflowId(id, attempt + 1);
      entry.workflowId = attemptId;
      result = {
        ...(await runLegAttempt(target, attemptId)),
        attempt: attempt + 1,
        earlierAttempts: [...earlierAttempts],
      };
    }
    entry.outcome = result.outcome;
    return result;
  }

  /**
   * One attempt of a target as a child workflow. Whatever happens to the
   * child, this resolves to a leg result: a child that ended without one
   * (terminated, timed out, crashed) is a failed leg, and its machines are
   * terminated here by their leg tag.
   */
  async function runLegAttempt(target: RunPlan['targets'][number], id: string): Promise<LegResult> {
    const placement = legPlacement(ctx.placement, target.name);
    let safetyNetFailed = false;
    try {
      const child = await startChild(hardwareLegWorkflow, {
        workflowId: id,
        args: [
          {
            runWorkflowId: ctx.runWorkflowId,
            environment: plan.environment,
            candidate: plan.candidate,
            target,
            settings: plan.settings,
            simulated: plan.simulated,
            ...(placement ? { placement } : {}),
          },
        ],
        // If this run is terminated, its legs are asked to cancel, so they still clean up.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        // Backstop only: legs enforce their own phase timeouts and clean up before this.
        workflowExecutionTimeout: timeouts.run + timeouts.cleanup * 2,
      });
      return await child.result();
    } catch (err) {
      const crashed = isCancellation(err)
        ? failureRecord('LEG_CANCELLED', 'cancelled before it reported')
        : failureRecord('LEG_CRASHED', runFailure(err).detail);
      await CancellationScope.nonCancellable(async () => {
        try {
          await terminateLegInstances({
            region: plan.settings.awsRegion,
            legWorkflowId: id,
            target: target.name,
            executor: plan.settings.executor,
            // The leg may have been launching when it ended: look for its tag for a bounded grace.
            launchUncertain: true,
          });
        } catch {
          // Said loudly in the result and the evidence; the janitor reaps what is left after cleanupTtl.
          safetyNetFailed = true;
        }
      });
      return {
        target: target.name,
        vendor: target.vendor,
        provider: target.provider,
        workflowId: id,
        outcome: isCancellation(err) ? 'cancelled' : 'failed',
        simulated: plan.simulated,
        executor: plan.settings.executor.kind,
        region: plan.settings.awsRegion,
        ami: target.ami,
        phases: [],
        failure: crashed,
        ...(safetyNetFailed
          ? {
              leftBehind: [
                {
                  kind: 'instance' as const,
                  id: `radix:leg=${id}`,
                  detail: `any instance tagged radix:leg=${id} in ${plan.settings.awsRegion} may still run`,
                },
              ],
            }
          : {}),
      };
    }
  }
}

/** A leg that failed for a reason of failure kind `infra` (not cancelled, not a finding about the candidate). */
function endedOnInfrastructure(leg: LegResult): boolean {
  return leg.outcome === 'failed' && leg.failure !== undefined && failureKind(leg.failure.code) === 'infra';
}

/** What the legs' failed cleanups may have left running. */
export function leftBehind(legs: LegResult[]): CleanupIncomplete {
  // An infra retry's earlier attempts may have left something too.
  return legs.flatMap((leg) =>
    [leg, ...(leg.earlierAttempts ?? [])].flatMap((attempt) =>
      (attempt.leftBehind ?? []).map((left) => ({ target: leg.target, ...left })),
    ),
  );
}

export function failedTargets(legs: LegResult[]): string {
  const failed = legs
    .filter((l) => l.outcome !== 'passed')
    .map((l) => `${l.target}: ${l.failure?.code ?? l.outcome}`);
  return failed.length > 0 ? failed.join(', ') : 'no leg passed';
}
