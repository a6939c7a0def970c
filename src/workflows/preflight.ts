/**
 * What a matrix run checks once it holds the lane and before any instance
 * (dry run or not): the approved digest was readable, the candidate's
 * manifest exists in the registry, every target's pinned AMI is there. The
 * first failed check ends the run (no EC2 call before the registry said
 * yes). Then the janitor sweeps the environment's leftovers (in report-only
 * mode for a dry run); a failing janitor is recorded, never fatal.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
} from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import { failureRecord, isFailureCode, type FailureCode, type FailureRecord } from '../domain/failures';
import { janitorPlanOf, type JanitorOutcome } from '../domain/janitor';
import { describeOption, type PlacementPlan } from '../domain/placement';
import type { ApprovedDigestState, JanitorSummary, PreflightCheck, RunPlan } from '../domain/run';
import { activityOptions } from './activity-options';
import { janitorPreStepWorkflowId } from '../temporal/definitions';
import { janitorWorkflow } from './janitor';

/** Marks the preflight and janitor steps in run histories (runs recorded before them replay without). */
export const PREFLIGHT_PATCH = 'preflight-and-janitor-v1';
/** Marks the placement check (subnets, security groups, zones offering each type) in runs of an environment with `network`. */
export const PLACEMENT_PATCH = 'preflight-placement-v1';
/** Marks runs whose janitor pre-step sweeps with the run's configuration snapshot (histories from before it read the worker's). */
export const JANITOR_RUN_PLAN_PATCH = 'janitor-pre-step-uses-run-plan';

export interface PreflightOutcome {
  checks: PreflightCheck[];
  /** The failed check's failure: the run ends with it. */
  failure?: FailureRecord;
  janitor?: JanitorOutcome;
  /** The (instance type, subnet) pairs each leg sweeps, when the environment has `network`. */
  placement?: PlacementPlan;
}

export async function runPreflight(
  plan: RunPlan,
  approvedBefore: ApprovedDigestState,
  dryRun: boolean,
  runWorkflowId: string,
): Promise<PreflightOutcome> {
  const { timeouts, retry } = plan.settings;
  const { checkManifest, checkPinnedAmis, checkPlacement } = proxyActivities<
    Pick<SentinelActivities, 'checkManifest' | 'checkPinnedAmis' | 'checkPlacement'>
  >(activityOptions(timeouts.preflight, retry));
  const outcome: PreflightOutcome = { checks: [] };

  outcome.checks.push({
    name: 'approved_digest',
    outcome: 'passed',
    detail: `${plan.settings.approvedDigestParameter}: ${approvedBefore.reference ?? '(absent)'}${approvedBefore.version === null ? '' : ` (version ${approvedBefore.version})`}`,
  });

  // Each check, and the code of a failure it did not classify itself (a timeout, an unexpected error).
  const steps: Array<[PreflightCheck['name'], FailureCode, () => Promise<string>]> = [
    [
      'manifest',
      'REGISTRY_UNREACHABLE',
      async () => {
        const found = await checkManifest({ candidate: plan.candidate });
        return `${plan.candidate.reference} found at ${found.registry} (${found.mediaType})`;
      },
    ],
    [
      'amis',
      'INTERNAL_ERROR',
      async () => {
        const amis = await checkPinnedAmis({
          region: plan.settings.awsRegion,
          targets: plan.targets.map((t) => ({ name: t.name, ami: t.ami })),
        });
        return amis.map((a) => `${a.target}: ${a.ami}${a.name ? ` (${a.name})` : ''} ${a.state}`).join('; ');
      },
    ],
  ];
  const network = plan.settings.network;
  if (network && patched(PLACEMENT_PATCH)) {
    steps.push([
      'placement',
      'INTERNAL_ERROR',
      async () => {
        const placement = await checkPlacement({
          region: plan.settings.awsRegion,
          network,
          targets: plan.targets.map((t) => ({ name: t.name, instanceTypes: t.instanceTypes })),
        });
        outcome.placement = placement;
        return placementDetail(placement);
      },
    ]);
  }
  for (const [name, fallback, step] of steps) {
    try {
      outcome.checks.push({ name, outcome: 'passed', detail: await step() });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const failure = codedFailure(err, fallback);
      outcome.checks.push({ name, outcome: 'failed', detail: failure.detail ?? failure.summary, failure });
      outcome.failure = failure;
      return outcome;
    }
  }

  const janitorId = janitorPreStepWorkflowId(runWorkflowId);
  try {
    const settings = patched(JANITOR_RUN_PLAN_PATCH)
      ? { plan: janitorPlanOf(plan.environment, plan.settings) }
      : {};
    const report = await executeChild(janitorWorkflow, {
      workflowId: janitorId,
      args: [{ environment: plan.environment, dryRun, ...settings }],
    });
    outcome.janitor = { workflowId: janitorId, report };
  } catch (err) {
    if (isCancellation(err)) throw err;
    outcome.janitor = { workflowId: janitorId, failure: codedFailure(err, 'INTERNAL_ERROR') };
  }
  return outcome;
}

/** `nvidia-a10g: g5.xlarge in us-west-2a (subnet-…), …; not offered: …` */
function placementDetail(p: PlacementPlan): string {
  const subnets = p.subnets
    .map((s) => `${s.subnetId} (${s.availabilityZone}${s.ref === s.subnetId ? '' : `, ${s.ref}`})`)
    .join(', ');
  const targets = p.targets.map((t) => {
    const skipped =
      t.skipped.length > 0
        ? `; not offered: ${t.skipped.map((o) => `${o.instanceType} in ${o.availabilityZone}`).join(', ')}`
        : '';
    return `${t.target}: ${t.options.map(describeOption).join(', ')}${skipped}`;
  });
  return [`subnets ${subnets}`, `security groups ${p.securityGroupIds.join(', ')}`, ...targets].join('; ');
}

/** The janitor in numbers, for the run's result. */
export function janitorSummary(janitor: JanitorOutcome): JanitorSummary {
  return {
    workflowId: janitor.workflowId,
    terminated: janitor.report?.terminated.length ?? 0,
    wouldTerminate: janitor.report?.wouldTerminate.length ?? 0,
    spared: janitor.report?.spared.length ?? 0,
    ...(janitor.failure ? { failure: janitor.failure } : {}),
  };
}

/** The catalogue code carried anywhere in the failure's chain (activity inside a child inside…), else the fallback. */
function codedFailure(err: unknown, fallback: FailureCode): FailureRecord {
  for (let cause: unknown = err; cause; cause = (cause as Error).cause) {
    if (cause instanceof ApplicationFailure && isFailureCode(cause.type))
      return failureRecord(cause.type, cause.message);
    if (!(
      cause instanceof ActivityFailure ||
      cause instanceof ChildWorkflowFailure ||
      cause instanceof ApplicationFailure
    ))
      break;
  }
  const message =
    err instanceof Error
      ? err.cause instanceof Error
        ? `${err.message}: ${err.cause.message}`
        : err.message
      : String(err);
  return failureRecord(fallback, message);
}
