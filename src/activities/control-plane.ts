/**
 * The control-plane steps of a leg: create the test cluster and run the
 * installer on the host with the candidate, wait until the cluster is active
 * (time to active), run the GPU smoke job, delete the cluster at cleanup.
 *
 * Secrets stay inside these activities: the onboarding token goes from the
 * control plane straight into the host's script, and the service user's
 * token lives in the worker's cache; neither is in an input, a result, a
 * heartbeat or an error message.
 */
import { Context } from '@temporalio/activity';
import { ControlPlaneAuthError } from '../auth/cognito-token';
import { CheckFailure, parseInstallerRun } from '../checks/results';
import type { Vendor } from '../config/schema';
import { ControlPlaneRequestError, ControlPlaneUnavailableError } from '../control-plane/client';
import type { ControlPlaneRef } from '../control-plane/clients';
import type { FailureCode } from '../domain/failures';
import { pinnedImageFrom, type PinnedImage } from '../domain/image-ref';
import { installerFailureCode, parseInstallerResult } from '../domain/installer';
import type { OnboardingFacts, SmokeJobFacts } from '../domain/run';
import { pollWithBackoff } from '../executors/types';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';
import { runCheckOnHost, type HostCheckRequest } from './host-checks';
import { waitContext } from './wait-context';

export interface InstallAgentRequest extends HostCheckRequest {
  controlPlane: ControlPlaneRef;
  /** The leg's workflow id: names the test cluster, so a retried install finds it. */
  clusterName: string;
  /** A reference string in requests scheduled before the parsed value was carried. */
  candidate: PinnedImage | string;
  labels: Record<string, string>;
}

export interface InstallAgentResult {
  clusterId: string;
  /** `sha256:<hex>` the installer pulled and started. */
  installedDigest: string;
  installerStartedAtMs: number;
  installerDurationSeconds: number;
}

export interface ClusterWaitRequest {
  controlPlane: ControlPlaneRef;
  clusterId: string;
  installerStartedAtMs: number;
  /** A reference string in requests scheduled before the parsed value was carried. */
  candidate: PinnedImage | string;
  polling: { initialMs: number; maxMs: number };
}

export interface SmokeJobRequest {
  controlPlane: ControlPlaneRef;
  clusterId: string;
  gpuCount: number;
  vendor: Vendor;
  polling: { initialMs: number; maxMs: number };
}

/** Runs a control-plane call, turning its errors into catalogue failures. */
async function controlPlaneStep<T>(onRefused: FailureCode, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof ControlPlaneAuthError) throw activityFailure('CONTROL_PLANE_AUTH_FAILED', err.message);
    if (err instanceof ControlPlaneUnavailableError)
      throw activityFailure('CONTROL_PLANE_UNAVAILABLE', err.message);
    if (err instanceof ControlPlaneRequestError) throw activityFailure(onRefused, err.message);
    throw err;
  }
}

const seconds = (ms: number) => Math.max(0, Math.round(ms) / 1000);

export function controlPlaneActivities({
  controlPlanes,
  executors,
}: Pick<ActivityDeps, 'controlPlanes' | 'executors'>) {
  return {
    async installAgent(req: InstallAgentRequest): Promise<InstallAgentResult> {
      const api = controlPlanes.for(req.controlPlane);
      const { clusterId, onboarding } = await controlPlaneStep('CLUSTER_CREATE_FAILED', async () => {
        const existing = await api.findClusterByName(req.clusterName);
        if (existing)
          return { clusterId: existing.id, onboarding: await api.mintOnboardingToken(existing.id) };
        const created = await api.createCluster({
          name: req.clusterName,
          candidate: pinnedImageFrom(req.candidate).reference,
          labels: req.labels,
        });
        return { clusterId: created.cluster.id, onboarding: created.onboarding };
      });
      Context.current().heartbeat({ clusterId });
      // Both are secrets (a candidate's URL carries its grant): the executor delivers them outside the command.
      const stdout = await runCheckOnHost(
        executors,
        req,
        'install-agent',
        {},
        {
          RADIX_INSTALLER_URL: onboarding.installerUrl,
          RADIX_ONBOARDING_TOKEN: onboarding.onboardingToken,
        },
      );
      let run;
      try {
        run = parseInstallerRun(stdout);
      } catch (err) {
        if (err instanceof CheckFailure)
          throw activityFailure(err.code, err.detail, undefined, { clusterId });
        throw err;
      }
      if (run.exitCode !== 0) {
        throw activityFailure(
          installerFailureCode(run.exitCode),
          `installer exited ${run.exitCode} (HTTP ${run.httpStatus ?? '?'}): ${run.stderr}`,
          undefined,
          { clusterId },
        );
      }
      let installed;
      try {
        installed = parseInstallerResult(run.result);
      } catch (err) {
        throw activityFailure(
          'INSTALLER_FAILED',
          `the installer succeeded but ${(err as Error).message}`,
          undefined,
          { clusterId },
        );
      }
      if (installed.digest !== pinnedImageFrom(req.candidate).digest) {
        throw activityFailure(
          'INSTALLED_DIGEST_MISMATCH',
          `the installer installed ${installed.reference} (${installed.source}), not the candidate`,
          undefined,
          { clusterId },
        );
      }
      return {
        clusterId,
        installedDigest: installed.digest,
        installerStartedAtMs: run.startedAtMs,
        installerDurationSeconds: seconds(run.durationMs),
      };
    },

    /**
     * Waits (heartbeating, with backoff) until the cluster is active. The
     * durations are measured from the installer's start on the host to the
     * control plane's own timestamps of the token exchange and of activation.
     */
    async waitForClusterActive(req: ClusterWaitRequest): Promise<OnboardingFacts> {
      const api = controlPlanes.for(req.controlPlane);
      const wait = waitContext();
      const cluster = await pollWithBackoff(wait, req.polling, async (attempt) => {
        const c = await controlPlaneStep('CLUSTER_FAILED', () => api.getCluster(req.clusterId));
        wait.heartbeat({ attempt, status: c.status });
        if (c.status === 'failed')
          throw activityFailure(
            'CLUSTER_FAILED',
            c.statusMessage ?? 'the control plane marked the cluster failed',
          );
        return c.status === 'active' ? c : undefined;
      });
      const installedDigest = cluster.agent?.imageDigest ?? 'unknown';
      const expected = pinnedImageFrom(req.candidate).digest;
      const facts: OnboardingFacts = {
        clusterId: cluster.id,
        installedDigest,
        onboardingDurationSeconds: seconds(
          Date.parse(cluster.tokenExchangedAt ?? cluster.activeAt ?? '') - req.installerStartedAtMs,
        ),
        timeToActiveSeconds: seconds(Date.parse(cluster.activeAt ?? '') - req.installerStartedAtMs),
      };
      if (installedDigest !== expected) {
        throw activityFailure(
          'INSTALLED_DIGEST_MISMATCH',
          `the agent runs ${installedDigest}, not the candidate ${expected}`,
          undefined,
          { onboarding: facts },
        );
      }
      return facts;
    },

    /** Submits the GPU smoke job (once per attempt chain) and waits for its outcome. */
    async runSmokeJob(req: SmokeJobRequest): Promise<SmokeJobFacts> {
      const api = controlPlanes.for(req.controlPlane);
      const ctx = Context.current();
      const resumed = (ctx.info.heartbeatDetails as { jobId?: string } | undefined)?.jobId;
      const jobId =
        resumed ??
        (
          await controlPlaneStep('SMOKE_JOB_FAILED', () =>
            api.submitJob(req.clusterId, { kind: 'gpu-smoke', gpuCount: req.gpuCount, vendor: req.vendor }),
          )
        ).id;
      ctx.heartbeat({ jobId });
      const wait = waitContext();
      const job = await pollWithBackoff(wait, req.polling, async () => {
        const j = await controlPlaneStep('SMOKE_JOB_FAILED', () => api.getJob(req.clusterId, jobId));
        wait.heartbeat({ jobId, status: j.status });
        return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
      });
      const facts: SmokeJobFacts = {
        jobId,
        status: job.status,
        durationSeconds: seconds(
          Date.parse(job.finishedAt ?? '') - Date.parse(job.startedAt ?? job.createdAt),
        ),
        ...(job.message ? { message: job.message } : {}),
      };
      if (job.status !== 'succeeded')
        throw activityFailure('SMOKE_JOB_FAILED', job.message ?? 'the smoke job failed', undefined, {
          smokeJob: facts,
        });
      return facts;
    },

    /** Deletes the leg's test cluster, found by its name; idempotent. */
    async deleteTestCluster(req: {
      controlPlane: ControlPlaneRef;
      clusterName: string;
    }): Promise<{ deleted: string | null }> {
      const api = controlPlanes.for(req.controlPlane);
      return controlPlaneStep('CLEANUP_FAILED', async () => {
        const cluster = await api.findClusterByName(req.clusterName);
        if (!cluster) return { deleted: null };
        await api.deleteCluster(cluster.id);
        return { deleted: cluster.id };
      });
    },
  };
}
