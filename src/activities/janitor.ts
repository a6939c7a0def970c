/**
 * The janitor's hands: list an environment's GPU-matrix instances (filtered
 * and paginated by EC2 itself), ask Temporal which runs are still open, and
 * terminate orphans. What counts as expired is decided by the workflow
 * (src/domain/janitor.ts), at one workflow time for the whole sweep.
 */
import { DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { Context } from '@temporalio/activity';
import { awsErrorMessage, awsErrorName, isCredentialError } from '../aws/errors';
import type { ExecutorConfig, RetryConfig } from '../config/schema';
import { ControlPlaneAuthError } from '../auth/cognito-token';
import { ControlPlaneRequestError, ControlPlaneUnavailableError } from '../control-plane/client';
import type { ControlPlaneRef } from '../control-plane/clients';
import { clusterRunId, type JanitorCluster, type JanitorInstance } from '../domain/janitor';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';
import { PURPOSE, TAG } from './instances';
import { isWorkflowOpen } from './lane';

/** Instances per TerminateInstances call. */
const TERMINATE_BATCH = 50;
/** Open-run questions to Temporal at a time. */
const RUN_CHECKS_IN_FLIGHT = 8;
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

export interface JanitorPlan {
  environment: string;
  region: string;
  cleanupTtlMs: number;
  executor: ExecutorConfig;
  cleanupTimeoutMs: number;
  heartbeatMs: number;
  retry: RetryConfig;
  /** Where the environment's test clusters live (absent in plans that predate the cluster sweep). */
  controlPlane?: ControlPlaneRef;
}

export interface ListRequest {
  region: string;
  environment: string;
  pageSize: number;
}

export interface TerminateOrphansRequest {
  region: string;
  executor: ExecutorConfig;
  instances: Array<{ instanceId: string; target?: string }>;
}

/** A control-plane error as a catalogue failure of the cluster sweep. */
function clusterSweepFailure(err: unknown, what: string): Error {
  if (err instanceof ControlPlaneAuthError) return activityFailure('CONTROL_PLANE_AUTH_FAILED', err.message);
  if (err instanceof ControlPlaneUnavailableError || err instanceof ControlPlaneRequestError) return activityFailure('CONTROL_PLANE_UNAVAILABLE', `${what}: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

export function janitorActivities({ aws, executors, temporal, invariants, controlPlanes }: Pick<ActivityDeps, 'aws' | 'executors' | 'temporal' | 'invariants' | 'controlPlanes'>) {
  return {
    /** The environment's settings the janitor needs, from the worker's configuration. */
    async janitorPlan(req: { environment: string }): Promise<JanitorPlan> {
      const env = invariants.environments[req.environment];
      if (!env) {
        throw activityFailure('CONFIG_INVALID', `unknown environment ${JSON.stringify(req.environment)}; ${invariants.file} defines ${Object.keys(invariants.environments).join(', ')}`);
      }
      return {
        environment: req.environment,
        region: env.awsRegion,
        cleanupTtlMs: env.cleanupTtl,
        executor: env.executor,
        cleanupTimeoutMs: env.timeouts.cleanup,
        heartbeatMs: env.timeouts.heartbeat,
        retry: env.retry,
        controlPlane: { baseUrl: env.controlPlane.baseUrl, cognito: env.controlPlane.cognito },
      };
    },

    /** The control plane's test clusters named after a leg of this environment's runs. */
    async listTestClusters(req: { controlPlane: ControlPlaneRef; environment: string }): Promise<JanitorCluster[]> {
      let clusters;
      try {
        clusters = await controlPlanes.for(req.controlPlane).listClusters();
      } catch (err) {
        throw clusterSweepFailure(err, 'list clusters');
      }
      return clusters.flatMap((c) => {
        const runId = clusterRunId(c.name, req.environment);
        return runId ? [{ clusterId: c.id, name: c.name, runId, createdAt: c.createdAt }] : [];
      });
    },

    /** Deletes test clusters (idempotent: one already gone counts as deleted). */
    async deleteTestClusters(req: { controlPlane: ControlPlaneRef; clusterIds: string[] }): Promise<{ deleted: string[] }> {
      const api = controlPlanes.for(req.controlPlane);
      const deleted: string[] = [];
      for (const id of req.clusterIds) {
        try {
          await api.deleteCluster(id);
        } catch (err) {
          throw clusterSweepFailure(err, `delete cluster ${id}`);
        }
        deleted.push(id);
        Context.current().heartbeat({ deleted: deleted.length });
      }
      return { deleted };
    },

    /** Live instances tagged radix:purpose=gpu-matrix and radix:environment=<env>, every page of them. */
    async listJanitorInstances(req: ListRequest): Promise<JanitorInstance[]> {
      const ctx = Context.current();
      const found: JanitorInstance[] = [];
      let nextToken: string | undefined;
      let page = 0;
      do {
        let out;
        try {
          out = await aws.ec2(req.region).send(
            new DescribeInstancesCommand({
              Filters: [
                { Name: `tag:${TAG.purpose}`, Values: [PURPOSE] },
                { Name: `tag:${TAG.environment}`, Values: [req.environment] },
                { Name: 'instance-state-name', Values: LIVE_STATES },
              ],
              MaxResults: req.pageSize,
              NextToken: nextToken,
            }),
            { abortSignal: ctx.cancellationSignal },
          );
        } catch (err) {
          if (isCredentialError(err)) throw activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err), err);
          throw activityFailure('JANITOR_SCAN_FAILED', `DescribeInstances in ${req.region}: ${awsErrorMessage(err)}`, err);
        }
        for (const reservation of out.Reservations ?? []) {
          for (const i of reservation.Instances ?? []) {
            if (!i.InstanceId) continue;
            const tags = new Map((i.Tags ?? []).map((t) => [t.Key, t.Value]));
            const expiresAt = tags.get(TAG.expiresAt);
            const runId = tags.get(TAG.runId);
            const target = tags.get(TAG.target);
            found.push({
              instanceId: i.InstanceId,
              state: i.State?.Name ?? 'unknown',
              ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
              ...(i.LaunchTime ? { launchedAt: i.LaunchTime.toISOString() } : {}),
              ...(expiresAt ? { expiresAt } : {}),
              ...(runId ? { runId } : {}),
              ...(target ? { target } : {}),
            });
          }
        }
        page += 1;
        ctx.heartbeat({ page, seen: found.length });
        nextToken = out.NextToken || undefined;
      } while (nextToken);
      // A page boundary may repeat an instance that changed state meanwhile: count each once.
      return [...new Map(found.map((i) => [i.instanceId, i])).values()];
    },

    /** Which of these workflow ids have a run that is still open. Never guesses: an unanswered question fails the sweep. */
    async openRuns(req: { workflowIds: string[] }): Promise<string[]> {
      const ctx = Context.current();
      const open: string[] = [];
      const queue = [...new Set(req.workflowIds)];
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          try {
            if (await isWorkflowOpen(temporal, { workflowId: id })) open.push(id);
          } catch (err) {
            throw activityFailure('RUN_STATUS_UNKNOWN', `describe ${id}: ${(err as Error).message}`, err);
          }
          ctx.heartbeat({ left: queue.length });
        }
      };
      await Promise.all(Array.from({ length: Math.min(RUN_CHECKS_IN_FLIGHT, queue.length) }, worker));
      return open.sort();
    },

    /** Terminates the instances (idempotent: one already gone is not an error) and frees what the executor held for them. */
    async terminateOrphans(req: TerminateOrphansRequest): Promise<{ terminated: string[] }> {
      const ctx = Context.current();
      const ec2 = aws.ec2(req.region);
      const terminated: string[] = [];
      const send = async (ids: string[]) => {
        try {
          await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
          return true;
        } catch (err) {
          if (awsErrorName(err) === 'InvalidInstanceID.NotFound') return false;
          if (isCredentialError(err)) throw activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err), err);
          throw activityFailure('CLEANUP_FAILED', `terminate ${ids.join(', ')}: ${awsErrorMessage(err)}`, err);
        }
      };
      const ids = req.instances.map((i) => i.instanceId);
      for (let start = 0; start < ids.length; start += TERMINATE_BATCH) {
        const batch = ids.slice(start, start + TERMINATE_BATCH);
        if (await send(batch)) {
          terminated.push(...batch);
        } else {
          // One of the batch is gone already: the rest one by one.
          for (const id of batch) if (await send([id])) terminated.push(id);
        }
        ctx.heartbeat({ terminated: terminated.length });
      }
      const executor = executors.for(req.executor);
      for (const instance of req.instances) {
        if (instance.target) await executor.release({ instanceId: instance.instanceId, target: instance.target, region: req.region });
      }
      return { terminated };
    },
  };
}
