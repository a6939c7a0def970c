import { Context } from '@temporalio/activity';
import { attestRun, type AttestRunResult } from '../attestation/attest-run';
import { configDigest, hostScriptDigests } from '../attestation/scripts';
import { sentinelVersion } from '../attestation/version';
import { awsErrorMessage, awsErrorName } from '../aws/errors';
import type { TargetConfig } from '../config/schema';
import type { PinnedImage } from '../domain/image-ref';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';

export interface AttestRunInput {
  environment: string;
  region: string;
  kmsKeyId: string;
  evidenceLocation: string;
  candidate: PinnedImage;
  simulated: boolean;
  configFile: string;
  configSha256: string;
  runWorkflowId: string;
  runId: string;
  namespace: string;
  passed: boolean;
  targets: TargetConfig[];
  legs: Array<{
    target: string;
    workflowId: string;
    instanceType?: string;
    phases: Array<{ name: string; outcome: string }>;
  }>;
}

const KEY_UNAVAILABLE = new Set(['DisabledException', 'NotFoundException', 'KMSInvalidStateException']);

export function attestationActivities({ aws, invariants }: Pick<ActivityDeps, 'aws' | 'invariants'>) {
  return {
    /** Signs, stores and attaches the run's attestations (src/attestation/attest-run.ts); only locations go back into history. */
    async attestRun(input: AttestRunInput): Promise<AttestRunResult> {
      const ui = (process.env.TEMPORAL_UI_URL || invariants.temporal.uiUrl || '').replace(/\/+$/, '');
      const link = (workflowId: string) =>
        `${ui}/namespaces/${encodeURIComponent(input.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
      const heartbeat = setInterval(() => Context.current().heartbeat(), 5_000);
      try {
        return await attestRun(aws, {
          environment: input.environment,
          region: input.region,
          kmsKeyId: input.kmsKeyId,
          evidenceLocation: input.evidenceLocation,
          candidate: input.candidate,
          simulated: input.simulated,
          runWorkflowId: input.runWorkflowId,
          runId: input.runId,
          sentinelVersion: sentinelVersion(),
          configFile: input.configFile,
          configSha256: input.configSha256,
          timeVerified: new Date().toISOString(),
          passed: input.passed,
          scripts: hostScriptDigests(),
          legs: input.targets.map((target) => {
            const leg = input.legs.find((l) => l.target === target.name);
            const phases = leg?.phases ?? [];
            return {
              target: target.name,
              ami: target.ami,
              instanceType: leg?.instanceType ?? target.instanceTypes[0]!,
              configSha256: configDigest(target),
              passed: input.passed && phases.length > 0 && phases.every((p) => p.outcome === 'passed'),
              passedPhases: phases.filter((p) => p.outcome === 'passed').map((p) => p.name),
              failedPhases: phases
                .filter((p) => p.outcome === 'failed' || p.outcome === 'cancelled')
                .map((p) => p.name),
              url: link(leg?.workflowId ?? input.runWorkflowId),
            };
          }),
        });
      } catch (err) {
        if (KEY_UNAVAILABLE.has(awsErrorName(err)))
          throw activityFailure(
            'ATTESTATION_KEY_UNAVAILABLE',
            `${input.kmsKeyId}: ${awsErrorMessage(err)}`,
            err,
          );
        throw activityFailure('ATTESTATION_FAILED', awsErrorMessage(err), err);
      } finally {
        clearInterval(heartbeat);
      }
    },
  };
}
