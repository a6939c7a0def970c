/**
 * One hardware target of a matrix run: provision a pinned machine, wait for
 * it, run the check plan on it phase by phase, and always clean up, even
 * when the leg failed, timed out or was cancelled.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  metricMeter,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { setWorkflowOptions } from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import { onDemandPrice } from '../domain/cost';
import { LEG_PHASES, type PhaseName } from '../domain/failures';
import type { PlacementAttempt } from '../domain/placement';
import type {
  GpuFacts,
  HostFacts,
  LegInput,
  LegProgress,
  LegResult,
  LeftBehind,
  OnboardingFacts,
  PhaseRecord,
  SmokeJobFacts,
} from '../domain/run';
import type { HostRef } from '../executors/types';
import { activityOptions, boundedAttemptOptions } from './activity-options';
import { CLEANUP_INCOMPLETE_METRIC, legProgressQuery, SEARCH_ATTRIBUTES } from '../temporal/definitions';
import { failureFacts, phaseFailure } from './failure-mapping';

/** Legs that observe their machine's termination and record its cost. */
export const LEG_COST_PATCH = 'leg-cost-observes-termination';

/**
 * Legs that record this marker let their launch settle before cleaning up
 * (provisioning is not cancelled: cleanup then knows whether a machine was
 * launched) and clean up by the leg's tag, always. Histories from before it
 * replay the old way.
 */
export const LEG_CLEANUP_PATCH = 'leg-cleanup-by-tag-after-launch-settles';

/** Provisioning failures in which EC2 refused the launch: nothing was launched. */
const LAUNCH_REFUSED = new Set([
  'INSTANCE_CAPACITY_UNAVAILABLE',
  'AMI_NOT_FOUND',
  'AWS_CREDENTIALS_REFUSED',
  'INSTANCE_PROFILE_INVALID',
]);

// A leg stays on its run's build, whatever is deployed meanwhile (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'PINNED' }, hardwareLegWorkflow);

export async function hardwareLegWorkflow(input: LegInput): Promise<LegResult> {
  const { settings, target } = input;
  const { timeouts, retry } = settings;
  const polling = { initialMs: settings.polling.initialInterval, maxMs: settings.polling.maximumInterval };
  const workflowId = workflowInfo().workflowId;
  const settledCleanup = patched(LEG_CLEANUP_PATCH);
  // Fixed once, at the leg's start (workflow time): every provisioning attempt tags the same expiry.
  const expiresAt = new Date(Date.now() + settings.cleanupTtl).toISOString();

  // Options sit next to the calls that need them; waits heartbeat.
  const { provisionInstance } = proxyActivities<Pick<SentinelActivities, 'provisionInstance'>>(
    activityOptions(timeouts.provision, retry, timeouts.heartbeat),
  );
  const { waitForHostReady } = proxyActivities<Pick<SentinelActivities, 'waitForHostReady'>>(
    activityOptions(timeouts.hostReady, retry, timeouts.heartbeat),
  );
  const { detectGpu } = proxyActivities<Pick<SentinelActivities, 'detectGpu'>>(
    activityOptions(timeouts.gpuDetect, retry, timeouts.heartbeat),
  );
  const { checkContainerRuntime } = proxyActivities<Pick<SentinelActivities, 'checkContainerRuntime'>>(
    activityOptions(timeouts.containerRuntime, retry, timeouts.heartbeat),
  );
  const { installAgent } = proxyActivities<Pick<SentinelActivities, 'installAgent'>>(
    activityOptions(timeouts.installer, retry, timeouts.heartbeat),
  );
  const { waitForClusterActive } = proxyActivities<Pick<SentinelActivities, 'waitForClusterActive'>>(
    activityOptions(timeouts.timeToActive, retry, timeouts.heartbeat),
  );
  const { runSmokeJob } = proxyActivities<Pick<SentinelActivities, 'runSmokeJob'>>(
    activityOptions(timeouts.smokeJob, retry, timeouts.heartbeat),
  );
  const { deleteTestCluster, observeInstanceTermination, terminateInstance, terminateLegInstances } =
    proxyActivities<
      Pick<
        SentinelActivities,
        'deleteTestCluster' | 'observeInstanceTermination' | 'terminateInstance' | 'terminateLegInstances'
      >
    >(
      settledCleanup
        ? boundedAttemptOptions(timeouts.cleanup, retry, timeouts.heartbeat)
        : activityOptions(timeouts.cleanup, retry),
    );
  const controlPlane = { baseUrl: settings.controlPlane.baseUrl, cognito: settings.controlPlane.cognito };

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
  let clusterRequested = false;
  let launchUncertain = false;
  try {
    const launch = () =>
      provisionInstance({
        environment: input.environment,
        runWorkflowId: input.runWorkflowId,
        legWorkflowId: workflowId,
        region: settings.awsRegion,
        instanceProfile: settings.instanceProfile,
        cleanupTtlMs: settings.cleanupTtl,
        expiresAt,
        target,
        ...(input.placement ? { placement: input.placement } : {}),
        throttleBackoff: polling,
      });
    const { provisionAttempts, ...instance } = await phase('provision', async () => {
      try {
        if (!settledCleanup) return await launch();
        try {
          // Not cancelled with the leg: cleanup must know whether the launch happened.
          return await CancellationScope.nonCancellable(launch);
        } catch (err) {
          launchUncertain = !launchRefused(err);
          throw err;
        }
      } catch (err) {
        // The capacity sweep's attempts (type, zone, subnet, error, time) go into the evidence either way.
        const found = failureFacts<{ provisionAttempts?: PlacementAttempt[] }>(err);
        if (found?.provisionAttempts) result.provisionAttempts = found.provisionAttempts;
        throw err;
      }
    });
    if (provisionAttempts) result.provisionAttempts = provisionAttempts;
    result.instance = instance;
    host = { instanceId: instance.instanceId, target: target.name, region: settings.awsRegion };
    const readyHost = host;
    await phase('host_ready', () =>
      waitForHostReady({ host: readyHost, executor: settings.executor, polling }),
    );
    // Host preparation (the target's setup scripts); runs recorded before it had none.
    if (patched('host-setup-v1')) {
      const scripts = target.setup ?? [];
      const { prepareHost } = proxyActivities<Pick<SentinelActivities, 'prepareHost'>>(
        activityOptions(timeouts.hostSetup, retry, timeouts.heartbeat),
      );
      result.host = await phase('host_setup', async (): Promise<HostFacts> => {
        // A baked AMI (setup: []) has nothing to prepare: the phase passes without a command.
        if (scripts.length === 0) return { setup: [] };
        try {
          return await prepareHost({
            host: readyHost,
            executor: settings.executor,
            timeoutMs: timeouts.hostSetup,
            polling,
            scripts,
          });
        } catch (err) {
          // What the scripts before the failing one did still goes into the evidence.
          const found = failureFacts<{ host?: HostFacts }>(err);
          if (found?.host) result.host = found.host;
          throw err;
        }
      });
    }
    result.gpu = await phase('gpu_detect', async () => {
      try {
        return await detectGpu({
          host: readyHost,
          executor: settings.executor,
          timeoutMs: timeouts.gpuDetect,
          polling,
          target,
        });
      } catch (err) {
        // A host with the wrong GPUs still reports what it has.
        const found = failureFacts<{ gpu?: GpuFacts }>(err);
        if (found?.gpu) result.gpu = found.gpu;
        throw err;
      }
    });
    result.runtime = await phase('container_runtime', () =>
      checkContainerRuntime({
        host: readyHost,
        executor: settings.executor,
        timeoutMs: timeouts.containerRuntime,
        polling,
        vendor: target.vendor,
      }),
    );
    // The customer path: the control plane's installer puts the candidate on the host, the agent onboards.
    clusterRequested = true;
    const install = await phase('installer', () =>
      installAgent({
        host: readyHost,
        executor: settings.executor,
        timeoutMs: timeouts.installer,
        polling,
        controlPlane,
        clusterName: workflowId,
        candidate: input.candidate,
        labels: {
          'radix:purpose': 'gpu-matrix',
          'radix:run-id': input.runWorkflowId,
          'radix:target': target.name,
        },
      }),
    );
    result.onboarding = await phase('onboarding', async () => {
      try {
        return await waitForClusterActive({
          controlPlane,
          clusterId: install.clusterId,
          installerStartedAtMs: install.installerStartedAtMs,
          candidate: input.candidate,
          polling,
        });
      } catch (err) {
        const found = failureFacts<{ onboarding?: OnboardingFacts }>(err);
        if (found?.onboarding) result.onboarding = found.onboarding;
        throw err;
      }
    });
    result.smokeJob = await phase('smoke_job', async () => {
      try {
        return await runSmokeJob({
          controlPlane,
          clusterId: install.clusterId,
          gpuCount: target.gpu.minCount,
          vendor: target.vendor,
          polling,
        });
      } catch (err) {
        const found = failureFacts<{ smokeJob?: SmokeJobFacts }>(err);
        if (found?.smokeJob) result.smokeJob = found.smokeJob;
        throw err;
      }
    });
    result.outcome = 'passed';
  } catch (err) {
    result.outcome = isCancellation(err) ? 'cancelled' : 'failed';
    result.failure = result.phases.find((p) => p.failure)?.failure;
  } finally {
    // Cleanup must run whatever happened above, including cancellation of this leg.
    await CancellationScope.nonCancellable(async () => {
      const leftBehind: LeftBehind[] = [];
      try {
        await phase('cleanup', async () => {
          const steps = await Promise.allSettled([
            settledCleanup
              ? // By the leg's tag, always, and the instance it knows (src/machines/terminate.ts).
                terminateLegInstances({
                  region: settings.awsRegion,
                  legWorkflowId: workflowId,
                  target: target.name,
                  executor: settings.executor,
                  knownInstanceIds: host ? [host.instanceId] : [],
                  launchUncertain,
                })
              : host
                ? terminateInstance({ host, executor: settings.executor })
                : // Provisioning may have launched a machine it never reported: find it by its leg tag.
                  terminateLegInstances({
                    region: settings.awsRegion,
                    legWorkflowId: workflowId,
                    target: target.name,
                    executor: settings.executor,
                  }),
            clusterRequested
              ? deleteTestCluster({ controlPlane, clusterName: workflowId })
              : Promise.resolve(null),
          ]);
          const [machines, cluster] = steps;
          if (machines.status === 'rejected') {
            leftBehind.push({
              kind: 'instance',
              id: host?.instanceId ?? `radix:leg=${workflowId}`,
              detail: `${host ? `instance ${host.instanceId}, and any instance` : 'any instance'} tagged radix:leg=${workflowId} in ${settings.awsRegion} may still run`,
            });
          }
          if (cluster.status === 'rejected') {
            leftBehind.push({
              kind: 'cluster',
              id: workflowId,
              detail: `test cluster ${workflowId} may still exist in the control plane`,
            });
          }
          const failed = steps.find((s): s is PromiseRejectedResult => s.status === 'rejected');
          if (failed) throw failed.reason;
        });
      } catch {
        result.cleanupFailure = result.phases.find((p) => p.name === 'cleanup')?.failure;
        if (leftBehind.length > 0) result.leftBehind = leftBehind;
        // Loud: an alert metric per resource that may be left (not emitted on replay).
        const counter = metricMeter.createCounter(
          CLEANUP_INCOMPLETE_METRIC,
          'resources',
          'Machines and test clusters a failed cleanup may have left running',
        );
        for (const left of leftBehind)
          counter.add(1, {
            environment: input.environment,
            target: target.name,
            kind: left.kind,
            resource: left.id,
          });
      }
      // Cost: the machine's seconds from launch until EC2 reports it terminated (histories from before it replay without).
      if (result.instance && patched(LEG_COST_PATCH)) {
        const instance = result.instance;
        const cleanupStartedAt =
          result.phases.find((p) => p.name === 'cleanup')?.startedAt ?? new Date().toISOString();
        const usdPerHour = onDemandPrice(settings.prices, settings.awsRegion, instance.instanceType);
        try {
          result.cost = await observeInstanceTermination({
            region: settings.awsRegion,
            instanceId: instance.instanceId,
            legEndedAt: cleanupStartedAt,
            // A machine whose termination failed is not waited for: it is counted up to now, unobserved.
            maxWaitMs: result.cleanupFailure ? 0 : Math.floor(timeouts.cleanup / 2),
            polling,
            ...(usdPerHour !== undefined ? { usdPerHour } : {}),
          });
        } catch {
          // Cost is evidence, not a verdict: a leg without it still stands.
        }
      }
    });
    current = 'done';
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.verdict, value: result.outcome }]);
  }
  return result;
}

/** A provisioning failure in which EC2 itself refused the launch, so no machine exists. */
function launchRefused(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  return cause instanceof ApplicationFailure && LAUNCH_REFUSED.has(cause.type ?? '');
}
