/**
 * One hardware target of a matrix run: provision a pinned machine, wait for
 * it, run the check plan on it phase by phase, and always clean up, even
 * when the leg failed, timed out or was cancelled.
 */
import {
  CancellationScope,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import { LEG_PHASES, type PhaseName } from '../domain/failures';
import type { GpuFacts, LegInput, LegProgress, LegResult, PhaseRecord } from '../domain/run';
import type { HostRef } from '../executors/types';
import { activityOptions } from './activity-options';
import { legProgressQuery, SEARCH_ATTRIBUTES } from './definitions';
import { failureFacts, phaseFailure } from './failure-mapping';

export async function hardwareLegWorkflow(input: LegInput): Promise<LegResult> {
  const { settings, target } = input;
  const { timeouts, retry } = settings;
  const polling = { initialMs: settings.polling.initialInterval, maxMs: settings.polling.maximumInterval };
  const workflowId = workflowInfo().workflowId;

  // Options sit next to the calls that need them; waits heartbeat.
  const provision = proxyActivities<SentinelActivities>(activityOptions(timeouts.provision, retry, timeouts.heartbeat));
  const hostReady = proxyActivities<SentinelActivities>(activityOptions(timeouts.hostReady, retry, timeouts.heartbeat));
  const gpuDetect = proxyActivities<SentinelActivities>(activityOptions(timeouts.gpuDetect, retry, timeouts.heartbeat));
  const runtime = proxyActivities<SentinelActivities>(activityOptions(timeouts.containerRuntime, retry, timeouts.heartbeat));
  const cleanup = proxyActivities<SentinelActivities>(activityOptions(timeouts.cleanup, retry));

  const result: LegResult = {
    target: target.name,
    vendor: target.vendor,
    provider: target.provider,
    workflowId,
    outcome: 'failed',
    simulated: input.simulated,
    executor: settings.executor.kind,
    region: settings.awsRegion,
    ami: target.ami,
    phases: LEG_PHASES.map((name): PhaseRecord => ({ name, outcome: 'skipped' })),
  };
  let current: PhaseName | 'done' = 'provision';
  setHandler(legProgressQuery, (): LegProgress => ({
    target: target.name,
    phase: current,
    phases: result.phases,
    ...(result.instance ? { instanceId: result.instance.instanceId } : {}),
    ...(current === 'done' ? { outcome: result.outcome } : {}),
  }));
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.environment, value: input.environment },
    { key: SEARCH_ATTRIBUTES.target, value: target.name },
    { key: SEARCH_ATTRIBUTES.candidateDigest, value: input.candidate.digest },
  ]);

  /** Runs one phase, recording its start, duration and outcome; a failure is recorded, then rethrown. */
  async function phase<T>(name: PhaseName, step: () => Promise<T>): Promise<T> {
    current = name;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: name }]);
    const record = result.phases.find((p) => p.name === name)!;
    const started = Date.now();
    record.startedAt = new Date(started).toISOString();
    try {
      const value = await step();
      record.outcome = 'passed';
      return value;
    } catch (err) {
      record.outcome = isCancellation(err) ? 'cancelled' : 'failed';
      record.failure = phaseFailure(name, err);
      throw err;
    } finally {
      record.durationSeconds = (Date.now() - started) / 1000;
    }
  }

  let host: HostRef | undefined;
  try {
    const instance = await phase('provision', () =>
      provision.provisionInstance({
        environment: input.environment,
        runWorkflowId: input.runWorkflowId,
        legWorkflowId: workflowId,
        region: settings.awsRegion,
        instanceProfile: settings.instanceProfile,
        cleanupTtlMs: settings.cleanupTtl,
        target,
      }),
    );
    result.instance = instance;
    host = { instanceId: instance.instanceId, target: target.name, region: settings.awsRegion };
    const readyHost = host;
    await phase('host_ready', () => hostReady.waitForHostReady({ host: readyHost, executor: settings.executor, polling }));
    result.gpu = await phase('gpu_detect', async () => {
      try {
        return await gpuDetect.detectGpu({ host: readyHost, executor: settings.executor, timeoutMs: timeouts.gpuDetect, polling, target });
      } catch (err) {
        // A host with the wrong GPUs still reports what it has.
        const found = failureFacts<{ gpu?: GpuFacts }>(err);
        if (found?.gpu) result.gpu = found.gpu;
        throw err;
      }
    });
    result.runtime = await phase('container_runtime', () =>
      runtime.checkContainerRuntime({ host: readyHost, executor: settings.executor, timeoutMs: timeouts.containerRuntime, polling, vendor: target.vendor }),
    );
    result.outcome = 'passed';
  } catch (err) {
    result.outcome = isCancellation(err) ? 'cancelled' : 'failed';
    result.failure = result.phases.find((p) => p.failure)?.failure;
  } finally {
    // Cleanup must run whatever happened above, including cancellation of this leg.
    await CancellationScope.nonCancellable(async () => {
      try {
        await phase('cleanup', () =>
          host
            ? cleanup.terminateInstance({ host, executor: settings.executor })
            : // Provisioning may have launched a machine it never reported: find it by its leg tag.
              cleanup.terminateLegInstances({ region: settings.awsRegion, legWorkflowId: workflowId, target: target.name, executor: settings.executor }),
        );
      } catch {
        result.cleanupFailure = result.phases.find((p) => p.name === 'cleanup')?.failure;
      }
    });
    current = 'done';
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.verdict, value: result.outcome }]);
  }
  return result;
}
