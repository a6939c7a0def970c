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
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { setWorkflowOptions } from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import type { AttestRunResult } from '../attestation/attest-run';
import { EVIDENCE_SCHEMA, type EvidenceRecord } from '../domain/evidence';
import { legCostUsd, runCost } from '../domain/cost';
import { failureRecord, type FailureRecord } from '../domain/failures';
import { pinnedImageOrUndefined } from '../domain/image-ref';
import type {
  ApprovedDigestState,
  EvidenceLocation,
  LegResult,
  MatrixRunInput,
  MatrixRunResult,
  PromotionRecord,
  RunPlan,
  RunProgress,
  Verdict,
} from '../domain/run';
import { activityOptions, boundedAttemptOptions } from './activity-options';
import {
  cancelReasonSignal,
  laneGrantSignal,
  laneReleaseSignal,
  laneWorkflowId,
  runProgressQuery,
  SEARCH_ATTRIBUTES,
  type CancelReason,
  type LaneGrant,
} from '../temporal/definitions';
import { runFailure } from './failure-mapping';
import { failedTargets, leftBehind, legRunner } from './matrix-legs';
import {
  ATTESTATION_PATCH,
  CLEANUP_GATE_PATCH,
  LANE_ON_RUN_TASK_QUEUE_PATCH,
  PROMOTION_NON_CANCELLABLE_PATCH,
} from './matrix-patches';
import { attestRequest, promotionRefused } from './matrix-promotion';
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
  // A signal handler issues no command: histories from before it replay unchanged.
  let cancellation: CancelReason | undefined;
  setHandler(cancelReasonSignal, (said) => {
    cancellation = { reason: said.reason, requestedBy: said.requestedBy };
  });
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
  const { requestLane } = proxyActivities<Pick<SentinelActivities, 'requestLane'>>(
    activityOptions(timeouts.promotion, retry),
  );
  // Promotion and evidence heartbeat while a call is in flight: an attempt lost with its worker is retried within one heartbeat.
  const { promoteDigest, readApprovedDigest } = proxyActivities<
    Pick<SentinelActivities, 'promoteDigest' | 'readApprovedDigest'>
  >(boundedAttemptOptions(timeouts.promotion, retry, timeouts.heartbeat));
  const { terminateLegInstances } = proxyActivities<Pick<SentinelActivities, 'terminateLegInstances'>>(
    boundedAttemptOptions(timeouts.cleanup, retry, timeouts.heartbeat),
  );
  const { writeEvidence } = proxyActivities<Pick<SentinelActivities, 'writeEvidence'>>(
    boundedAttemptOptions(timeouts.evidence, retry, timeouts.heartbeat),
  );
  const { attestRun } = proxyActivities<Pick<SentinelActivities, 'attestRun'>>(
    activityOptions(timeouts.evidence, retry, timeouts.heartbeat),
  );

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
      failure = failureRecord(
        'LANE_WAIT_TIMEOUT',
        `waited ${Math.round(timeouts.laneWait / 1000)}s for ${laneWorkflowId(plan.environment)}`,
      );
    } else if (!grant!.granted) {
      verdict = 'lane_busy';
      failure = failureRecord('LANE_BUSY', `held by ${grant!.holder ?? 'another run'}`);
      progress.lane = { holder: grant!.holder };
    } else {
      // 2. What is approved now: the promotion may only replace exactly this.
      progress.stage = 'preflight';
      approvedBefore = await readApprovedDigest(digestRef);
      // Registry manifest and pinned AMIs, then the janitor (./preflight.ts); histories from before it replay without.
      if (patched(PREFLIGHT_PATCH))
        preflight = await runPreflight(plan, approvedBefore, input.dryRun, info.workflowId);

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
        const runLeg = legRunner({
          plan,
          runWorkflowId: info.workflowId,
          progress,
          placement: preflight?.placement,
          terminateLegInstances,
        });
        legs = await legsScope.run(() => Promise.all(plan.targets.map((target) => runLeg(target))));
        if (legsScope.consideredCancelled && !CancellationScope.current().consideredCancelled) {
          failure = failureRecord(
            'RUN_TIMEOUT',
            `legs still running after ${Math.round(timeouts.run / 1000)}s were cancelled`,
          );
        }
        if (CancellationScope.current().consideredCancelled) throw new CancelledMarker();

        // 4. A gate that leaked does not pass: no promotion when a leg's cleanup failed.
        const leaked = leftBehind(legs);
        if (
          !failure &&
          legs.every((leg) => leg.outcome === 'passed') &&
          leaked.length > 0 &&
          patched(CLEANUP_GATE_PATCH)
        ) {
          failure = failureRecord(
            'CLEANUP_INCOMPLETE',
            leaked.map((l) => `${l.target}: ${l.kind} ${l.id}`).join(', '),
          );
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
            const outcome = patched(PROMOTION_NON_CANCELLABLE_PATCH)
              ? await CancellationScope.nonCancellable(promote)
              : await promote();
            verdict = 'passed';
            promotion = { status: outcome.status, ...(outcome.order ? { order: outcome.order } : {}) };
            if (CancellationScope.current().consideredCancelled) {
              promotion.detail =
                'the run was cancelled while the promotion was being written; the write was completed and recorded';
            }
          } catch (err) {
            failure = runFailure(err);
            [verdict, promotion] = promotionRefused(failure, err);
          }
        } else if (!allPassed && !promotion.detail) {
          promotion = { status: 'not_promoted_failed', detail: failedTargets(legs) };
          // No leg failed on the candidate, but one never got a fair trial: nothing is promoted, nobody is blamed.
          if (
            !failure &&
            legs.some((leg) => leg.outcome === 'inconclusive') &&
            legs.every((leg) => leg.outcome === 'passed' || leg.outcome === 'inconclusive')
          ) {
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
    if (promotion.status === 'not_promoted_failed' && !promotion.detail)
      promotion = { status: 'not_promoted_failed', detail: verdict };
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
      candidate: {
        reference: plan.candidate.reference,
        repository: plan.candidate.repository,
        digest: plan.candidate.digest,
      },
      approvedDigest: {
        parameter: plan.settings.approvedDigestParameter,
        before: approvedBefore,
        after: approvedAfter,
      },
      promotion,
      legs,
      ...(preflight ? { preflight: preflight.checks } : {}),
      ...(preflight?.janitor ? { janitor: preflight.janitor } : {}),
      ...(attestation
        ? { attestation: { ...attestation, kmsKeyId: plan.settings.attestation.kmsKeyId } }
        : {}),
      ...(cost ? { cost } : {}),
      ...(cancellation ? { cancellation } : {}),
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
    ...(attestation
      ? { attestation: { result: attestation.result, summary: attestation.summary.registryManifest } }
      : {}),
    ...(cost ? { cost } : {}),
    ...(leftBehind(legs).length > 0 ? { cleanupIncomplete: leftBehind(legs) } : {}),
  };
}

/** Marks a run cancelled while its legs were finishing their cleanup. */
class CancelledMarker extends Error {}
