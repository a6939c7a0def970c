/**
 * A matrix run: decides whether a candidate image may be promoted.
 *
 * prepare → wait for the environment's lane → read the approved digest →
 * preflight (registry manifest, pinned AMIs) and janitor (./preflight.ts) →
 * one hardware leg per target, in parallel (child workflows) → promote only
 * if every leg passed and this is not a dry run → read the approved digest
 * again → write the evidence pack (always: passed, failed, cancelled) →
 * give the lane back.
 */
import {
  CancellationScope,
  ChildWorkflowCancellationType,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { setWorkflowOptions } from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import type { AttestRunInput } from '../activities/attestation';
import type { AttestRunResult } from '../attestation/attest-run';
import { EVIDENCE_SCHEMA, type EvidenceRecord } from '../domain/evidence';
import { legCostUsd, runCost } from '../domain/cost';
import { failureKind, failureRecord, type FailureCode, type FailureRecord } from '../domain/failures';
import { pinnedImageOrUndefined } from '../domain/image-ref';
import { legPlacement } from '../domain/placement';
import type {
  ApprovedDigestState,
  CleanupIncomplete,
  EvidenceLocation,
  LegResult,
  MatrixRunInput,
  MatrixRunResult,
  PromotionRecord,
  PromotionStatus,
  RunPlan,
  RunProgress,
  Verdict,
} from '../domain/run';
import { activityOptions, boundedAttemptOptions } from './activity-options';
import {
  laneGrantSignal,
  laneReleaseSignal,
  laneWorkflowId,
  legAttemptWorkflowId,
  legWorkflowId,
  runProgressQuery,
  SEARCH_ATTRIBUTES,
  type LaneGrant,
} from './definitions';
import { failureFacts, runFailure } from './failure-mapping';
import { hardwareLegWorkflow } from './leg';
import { janitorSummary, PREFLIGHT_PATCH, runPreflight, type PreflightOutcome } from './preflight';

/** The plan is read before the configured timeouts are known; reading it is local and quick. */
const { prepareRun } = proxyActivities<Pick<SentinelActivities, 'prepareRun'>>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['CONFIG_INVALID', 'INPUT_REFUSED'] },
});

// A run finishes on the build it started on: a deploy never replays it on new code (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'PINNED' }, gpuMatrixWorkflow);

export async function gpuMatrixWorkflow(input: MatrixRunInput): Promise<MatrixRunResult> {
  const info = workflowInfo();
  const startedAt = new Date().toISOString();
  const progress: RunProgress = {
    stage: 'preparing',
    environment: input.environment,
    candidate: input.candidate,
    simulated: false,
    legs: [],
  };
  let grant: LaneGrant | undefined;
  setHandler(runProgressQuery, () => progress);
  setHandler(laneGrantSignal, (answer) => {
    grant = answer;
  });
  // The starter's parsed candidate; an input with the reference only is parsed here (prepareRun checks either).
  const candidate = input.candidateImage ?? pinnedImageOrUndefined(input.candidate);
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.environment, value: input.environment },
    { key: SEARCH_ATTRIBUTES.candidateDigest, value: candidate?.digest ?? input.candidate },
    { key: SEARCH_ATTRIBUTES.verdict, value: 'running' },
  ]);

  const plan: RunPlan = await prepareRun(input);
  progress.simulated = plan.simulated;
  const { timeouts, retry } = plan.settings;
  const digestRef = { region: plan.settings.awsRegion, parameter: plan.settings.approvedDigestParameter };
  const { requestLane } = proxyActivities<Pick<SentinelActivities, 'requestLane'>>(activityOptions(timeouts.promotion, retry));
  // Promotion and evidence heartbeat while a call is in flight: an attempt lost with its worker is retried within one heartbeat.
  const { promoteDigest, readApprovedDigest } = proxyActivities<Pick<SentinelActivities, 'promoteDigest' | 'readApprovedDigest'>>(boundedAttemptOptions(timeouts.promotion, retry, timeouts.heartbeat));
  const { terminateLegInstances } = proxyActivities<Pick<SentinelActivities, 'terminateLegInstances'>>(boundedAttemptOptions(timeouts.cleanup, retry, timeouts.heartbeat));
  const { writeEvidence } = proxyActivities<Pick<SentinelActivities, 'writeEvidence'>>(boundedAttemptOptions(timeouts.evidence, retry, timeouts.heartbeat));
  const { attestRun } = proxyActivities<Pick<SentinelActivities, 'attestRun'>>(activityOptions(timeouts.evidence, retry, timeouts.heartbeat));

  let verdict: Verdict = 'failed';
  let failure: FailureRecord | undefined;
  let promotion: PromotionRecord = { status: 'not_promoted_failed' };
  let approvedBefore: ApprovedDigestState | null = null;
  let approvedAfter: ApprovedDigestState | null = null;
  let legs: LegResult[] = [];
  let askedLane = false;
  let preflight: PreflightOutcome | undefined;
  let attestation: AttestRunResult | undefined;

  try {
    // 1. The lane: strictly one run per environment at a time.
    progress.stage = 'waiting_for_lane';
    askedLane = true;
    await requestLane({
      environment: plan.environment,
      request: { workflowId: info.workflowId, runId: info.runId, mode: input.queue },
      holderCheckIntervalMs: timeouts.laneHolderCheck,
      // The lane starts where this run runs, not on whatever queue the worker's configuration file names.
      ...(patched(LANE_ON_RUN_TASK_QUEUE_PATCH) ? { taskQueue: info.taskQueue } : {}),
    });
    if (!(await condition(() => grant !== undefined, timeouts.laneWait))) {
      failure = failureRecord('LANE_WAIT_TIMEOUT', `waited ${Math.round(timeouts.laneWait / 1000)}s for ${laneWorkflowId(plan.environment)}`);
    } else if (!grant!.granted) {
      verdict = 'lane_busy';
      failure = failureRecord('LANE_BUSY', `held by ${grant!.holder ?? 'another run'}`);
      progress.lane = { holder: grant!.holder };
    } else {
      // 2. What is approved now: the promotion may only replace exactly this.
      progress.stage = 'preflight';
      approvedBefore = await readApprovedDigest(digestRef);
      // Registry manifest and pinned AMIs, then the janitor (./preflight.ts); histories from before it replay without.
      if (patched(PREFLIGHT_PATCH)) preflight = await runPreflight(plan, approvedBefore, input.dryRun, info.workflowId);

      if (preflight?.failure) {
        failure = preflight.failure;
        promotion = { status: 'not_promoted_failed', detail: `preflight: ${preflight.failure.code}` };
      } else if (input.dryRun) {
        verdict = 'passed';
        promotion = { status: 'not_promoted_dry_run' };
      } else {
        // 3. The hardware legs, in parallel, bounded by the run's timeout.
        progress.stage = 'running_legs';
        const legsScope = new CancellationScope({ cancellable: true, timeout: timeouts.run });
        legs = await legsScope.run(() => Promise.all(plan.targets.map((target) => runLeg(target))));
        if (legsScope.consideredCancelled && !CancellationScope.current().consideredCancelled) {
          failure = failureRecord('RUN_TIMEOUT', `legs still running after ${Math.round(timeouts.run / 1000)}s were cancelled`);
        }
        if (CancellationScope.current().consideredCancelled) throw new CancelledMarker();

        // 4. A gate that leaked does not pass: no promotion when a leg's cleanup failed.
        const leaked = leftBehind(legs);
        if (!failure && legs.every((leg) => leg.outcome === 'passed') && leaked.length > 0 && patched(CLEANUP_GATE_PATCH)) {
          failure = failureRecord('CLEANUP_INCOMPLETE', leaked.map((l) => `${l.target}: ${l.kind} ${l.id}`).join(', '));
          promotion = { status: 'not_promoted_failed', detail: 'cleanup incomplete' };
        }

        // 5. The signed proof, stored before the pointer may move (docs/attestations.md); no proof, no promotion.
        const allPassed = !failure && legs.every((leg) => leg.outcome === 'passed');
        let attested = true;
        if (patched(ATTESTATION_PATCH)) {
          progress.stage = 'attesting';
          try {
            attestation = await attestRun(attestRequest(plan, legs, allPassed));
          } catch (err) {
            if (isCancellation(err)) throw err;
            attested = false;
            if (allPassed) {
              failure = runFailure(err);
              promotion = { status: 'not_promoted_failed', detail: `attestation: ${failure.code}` };
            }
          }
        }

        // 6. Promotion, only when every target passed, every cleanup completed and the proof is stored.
        if (allPassed && attested) {
          progress.stage = 'promoting';
          const promote = () =>
            promoteDigest({
              ...digestRef,
              expected: approvedBefore!,
              candidate: plan.candidate.reference,
              workflowId: info.workflowId,
            });
          try {
            // A write once sent may still land: a cancel must not end the run before it is known, or the evidence could disagree with the pointer.
            const outcome = patched(PROMOTION_NON_CANCELLABLE_PATCH) ? await CancellationScope.nonCancellable(promote) : await promote();
            verdict = 'passed';
            promotion = { status: outcome.status, ...(outcome.order ? { order: outcome.order } : {}) };
            if (CancellationScope.current().consideredCancelled) {
              promotion.detail = 'the run was cancelled while the promotion was being written; the write was completed and recorded';
            }
          } catch (err) {
            failure = runFailure(err);
            [verdict, promotion] = promotionRefused(failure, err);
          }
        } else if (!allPassed && !promotion.detail) {
          promotion = { status: 'not_promoted_failed', detail: failedTargets(legs) };
          // No leg failed on the candidate, but one never got a fair trial: nothing is promoted, nobody is blamed.
          if (!failure && legs.some((leg) => leg.outcome === 'inconclusive') && legs.every((leg) => leg.outcome === 'passed' || leg.outcome === 'inconclusive')) {
            verdict = 'inconclusive';
          }
        }
      }
    }
  } catch (err) {
    if (isCancellation(err) || err instanceof CancelledMarker) {
      verdict = 'cancelled';
      failure = failureRecord('LEG_CANCELLED', 'the run was cancelled');
    } else {
      verdict = 'failed';
      failure = runFailure(err);
    }
    if (promotion.status === 'not_promoted_failed' && !promotion.detail) promotion = { status: 'not_promoted_failed', detail: verdict };
  }

  // 5. Always: the pointer after, the evidence, the lane back. None of it may be cancelled.
  let evidence: EvidenceLocation | undefined;
  const cost = runCost(legs, plan.settings.prices);
  await CancellationScope.nonCancellable(async () => {
    if (approvedBefore !== null) {
      try {
        approvedAfter = await readApprovedDigest(digestRef);
      } catch {
        approvedAfter = null; // recorded as "not read"; the verdict stands
      }
    }
    progress.stage = 'writing_evidence';
    progress.verdict = verdict;
    const record: EvidenceRecord = {
      schema: EVIDENCE_SCHEMA,
      simulated: plan.simulated,
      verdict,
      ...(failure ? { failure } : {}),
      run: {
        workflowId: info.workflowId,
        runId: info.runId,
        environment: plan.environment,
        trigger: input.trigger,
        dryRun: input.dryRun,
        gitSha: input.gitSha,
        ciRunId: input.ciRunId,
        startedAt,
        finishedAt: new Date().toISOString(),
        durationSeconds: (Date.now() - Date.parse(startedAt)) / 1000,
        executor: plan.settings.executor.kind,
        configFile: plan.configFile,
        configSha256: plan.configSha256,
        ...(input.candidateSource ? { candidateSource: input.candidateSource } : {}),
      },
      candidate: { reference: plan.candidate.reference, repository: plan.candidate.repository, digest: plan.candidate.digest },
      approvedDigest: { parameter: plan.settings.approvedDigestParameter, before: approvedBefore, after: approvedAfter },
      promotion,
      legs,
      ...(preflight ? { preflight: preflight.checks } : {}),
      ...(preflight?.janitor ? { janitor: preflight.janitor } : {}),
      ...(attestation ? { attestation: { ...attestation, kmsKeyId: plan.settings.attestation.kmsKeyId } } : {}),
      ...(cost ? { cost } : {}),
      ...(leftBehind(legs).length > 0 ? { cleanupIncomplete: leftBehind(legs) } : {}),
    };
    try {
      evidence = await writeEvidence({
        location: plan.settings.evidence.location,
        region: plan.settings.awsRegion,
        record,
      });
    } catch (err) {
      // The run's result (in history) still carries the verdict; the failure says where evidence went missing.
      failure ??= runFailure(err);
    }
    if (askedLane) {
      try {
        await getExternalWorkflowHandle(laneWorkflowId(plan.environment)).signal(laneReleaseSignal, {
          workflowId: info.workflowId,
          runId: info.runId,
        });
      } catch {
        // The lane is gone (closed or terminated): nothing to give back.
      }
    }
  });

  progress.stage = 'done';
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.verdict, value: verdict }]);
  return {
    schema: 'sentinel.run-result/v1',
    workflowId: info.workflowId,
    runId: info.runId,
    environment: plan.environment,
    simulated: plan.simulated,
    executor: plan.settings.executor.kind,
    dryRun: input.dryRun,
    trigger: input.trigger,
    candidate: plan.candidate.reference,
    gitSha: input.gitSha,
    ciRunId: input.ciRunId,
    startedAt,
    finishedAt: new Date().toISOString(),
    verdict,
    ...(failure ? { failure } : {}),
    approvedBefore,
    approvedAfter,
    promotion,
    legs: legs.map((leg) => ({
      target: leg.target,
      vendor: leg.vendor,
      workflowId: leg.workflowId,
      outcome: leg.outcome,
      ...(leg.instance ? { instanceId: leg.instance.instanceId } : {}),
      ...(leg.failure ? { failure: leg.failure } : {}),
      ...(leg.attempt && leg.attempt > 1 ? { attempts: leg.attempt } : {}),
      ...(legCostUsd(leg) !== undefined ? { costUsd: legCostUsd(leg) } : {}),
    })),
    ...(evidence ? { evidence } : {}),
    ...(preflight ? { preflight: preflight.checks } : {}),
    ...(preflight?.janitor ? { janitor: janitorSummary(preflight.janitor) } : {}),
    ...(attestation ? { attestation: { result: attestation.result, summary: attestation.summary.registryManifest } } : {}),
    ...(cost ? { cost } : {}),
    ...(leftBehind(legs).length > 0 ? { cleanupIncomplete: leftBehind(legs) } : {}),
  };

  /**
   * One target: a leg workflow, and when it ends for an infrastructure reason
   * (failure kind `infra`), another on a fresh machine, up to `infraRetries`
   * times. A leg whose last attempt still ended on the infrastructure is
   * `inconclusive`: not passed, but not the candidate's failure either.
   */
  async function runLeg(target: RunPlan['targets'][number]): Promise<LegResult> {
    const id = legWorkflowId(info.workflowId, target.name);
    progress.legs.push({ target: target.name, workflowId: id });
    const entry = progress.legs[progress.legs.length - 1]!;
    const earlierAttempts: LegResult[] = [];
    let result = await runLegAttempt(target, id);
    // Histories from before infra retries replay without them.
    while (endedOnInfrastructure(result) && !CancellationScope.current().consideredCancelled && patched(INFRA_RETRY_PATCH)) {
      const attempt = earlierAttempts.length + 1;
      if (attempt > (plan.settings.infraRetries ?? 0)) {
        result = { ...result, outcome: 'inconclusive' };
        break;
      }
      const { earlierAttempts: _nested, ...previous } = result;
      earlierAttempts.push(previous);
      const attemptId = legAttemptWorkflowId(id, attempt + 1);
      entry.workflowId = attemptId;
      result = { ...(await runLegAttempt(target, attemptId)), attempt: attempt + 1, earlierAttempts: [...earlierAttempts] };
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
    const placement = legPlacement(preflight?.placement, target.name);
    let safetyNetFailed = false;
    try {
      const child = await startChild(hardwareLegWorkflow, {
        workflowId: id,
        args: [
          {
            runWorkflowId: info.workflowId,
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
      const crashed = isCancellation(err) ? failureRecord('LEG_CANCELLED', 'cancelled before it reported') : failureRecord('LEG_CRASHED', runFailure(err).detail);
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
          ? { leftBehind: [{ kind: 'instance' as const, id: `radix:leg=${id}`, detail: `any instance tagged radix:leg=${id} in ${plan.settings.awsRegion} may still run` }] }
          : {}),
      };
    }
  }
}

/** Marks runs that start their lane on their own task queue (histories from before it left that to the worker's configuration). */
export const LANE_ON_RUN_TASK_QUEUE_PATCH = 'lane-on-run-task-queue';

/** Marks promotions that finish once sent, even when the run is cancelled meanwhile (histories from before it replay without). */
export const PROMOTION_NON_CANCELLABLE_PATCH = 'promotion-non-cancellable-v1';

/** What the pointer itself can answer a promotion with, each with its verdict; any other promotion failure fails the run. */
const PROMOTION_REFUSALS: Partial<Record<FailureCode, [Verdict, PromotionStatus]>> = {
  PROMOTION_CONFLICT: ['promotion_conflict', 'conflict'],
  PROMOTION_STALE: ['promotion_stale', 'stale'],
  PROMOTION_OVERWRITTEN: ['promotion_overwritten', 'overwritten'],
};

function promotionRefused(failure: FailureRecord, err: unknown): [Verdict, PromotionRecord] {
  const [verdict, status] = PROMOTION_REFUSALS[failure.code] ?? ['failed', 'error'];
  const facts = failureFacts<Pick<PromotionRecord, 'order' | 'overwritten'>>(err);
  return [
    verdict,
    {
      status,
      ...(failure.detail ? { detail: failure.detail } : {}),
      ...(facts?.order ? { order: facts.order } : {}),
      ...(facts?.overwritten ? { overwritten: facts.overwritten } : {}),
    },
  ];
}

/** Histories recorded before runs were attested replay without the attestation step. */
export const ATTESTATION_PATCH = 'attest-before-promotion-v1';

/** What the attestation activity needs of the run: small, so history stays small. */
function attestRequest(plan: RunPlan, legs: LegResult[], passed: boolean): AttestRunInput {
  const info = workflowInfo();
  return {
    environment: plan.environment,
    region: plan.settings.awsRegion,
    kmsKeyId: plan.settings.attestation.kmsKeyId,
    evidenceLocation: plan.settings.evidence.location,
    candidate: plan.candidate,
    simulated: plan.simulated,
    configFile: plan.configFile,
    configSha256: plan.configSha256,
    runWorkflowId: info.workflowId,
    runId: info.runId,
    namespace: info.namespace,
    passed,
    targets: plan.targets,
    legs: legs.map((leg) => ({
      target: leg.target,
      workflowId: leg.workflowId,
      ...(leg.instance ? { instanceType: leg.instance.instanceType } : {}),
      phases: leg.phases.map((p) => ({ name: p.name, outcome: p.outcome })),
    })),
  };
}

/** Runs whose legs are tried again on a fresh machine after an infrastructure failure, and end `inconclusive`. */
export const INFRA_RETRY_PATCH = 'leg-infra-retry-inconclusive';

/** A leg that failed for a reason of failure kind `infra` (not cancelled, not a finding about the candidate). */
function endedOnInfrastructure(leg: LegResult): boolean {
  return leg.outcome === 'failed' && leg.failure !== undefined && failureKind(leg.failure.code) === 'infra';
}

/** Marks runs that refuse to promote when a leg's cleanup failed (histories from before it replay without). */
export const CLEANUP_GATE_PATCH = 'no-promotion-when-cleanup-incomplete';

/** What the legs' failed cleanups may have left running. */
function leftBehind(legs: LegResult[]): CleanupIncomplete {
  // An infra retry's earlier attempts may have left something too.
  return legs.flatMap((leg) => [leg, ...(leg.earlierAttempts ?? [])].flatMap((attempt) => (attempt.leftBehind ?? []).map((left) => ({ target: leg.target, ...left }))));
}

/** Marks a run cancelled while its legs were finishing their cleanup. */
class CancelledMarker extends Error {}

function failedTargets(legs: LegResult[]): string {
  const failed = legs.filter((l) => l.outcome !== 'passed').map((l) => `${l.target}: ${l.failure?.code ?? l.outcome}`);
  return failed.length > 0 ? failed.join(', ') : 'no leg passed';
}
