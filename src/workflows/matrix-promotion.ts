/**
 * What a matrix run tells the attestation and makes of the pointer's answer
 * to a promotion. Pure: no commands are issued here.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { AttestRunInput } from '../activities/attestation';
import type { FailureCode, FailureRecord } from '../domain/failures';
import type { LegResult, PromotionRecord, PromotionStatus, RunPlan, Verdict } from '../domain/run';
import { failureFacts } from './failure-mapping';

/** What the pointer itself can answer a promotion with, each with its verdict; any other promotion failure fails the run. */
const PROMOTION_REFUSALS: Partial<Record<FailureCode, [Verdict, PromotionStatus]>> = {
  PROMOTION_CONFLICT: ['promotion_conflict', 'conflict'],
  PROMOTION_STALE: ['promotion_stale', 'stale'],
  PROMOTION_OVERWRITTEN: ['promotion_overwritten', 'overwritten'],
};

export function promotionRefused(failure: FailureRecord, err: unknown): [Verdict, PromotionRecord] {
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

/** What the attestation activity needs of the run: small, so history stays small. */
export function attestRequest(plan: RunPlan, legs: LegResult[], passed: boolean): AttestRunInput {
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
