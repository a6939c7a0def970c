/**
 * The janitor's hands: list an environment's GPU-matrix instances (filtered
 * and paginated by EC2 itself), ask Temporal which runs are still open, and
 * terminate orphans. What counts as expired is decided by the workflow
 * (src/domain/janitor.ts), at one workflow time for the whole sweep.
 */
import { Context } from '@temporalio/activity';
import type { ExecutorConfig } from '../config/schema';
import { ControlPlaneAuthError } from '../auth/cognito-token';
import { ControlPlaneRequestError, ControlPlaneUnavailableError } from '../control-plane/client';
import type { ControlPlaneRef } from '../control-plane/clients';
import {
  clusterRunId,
  janitorPlanOf,
  type JanitorCluster,
  type JanitorInstance,
  type JanitorPlan,
} from '../domain/janitor';
import { findEnvironmentMachines } from '../machines/find';
import { terminateInstances } from '../machines/terminate';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';
import { isWorkflowOpen } from './lane';
import { scanFailure, terminationFailure } from './machine-failures';

/** Open-run questions to Temporal at a time. */
const RUN_CHECKS_IN_FLIGHT = 8;

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
  if (err instanceof ControlPlaneUnavailableError || err instanceof ControlPlaneRequestError)
    return activityFailure('CONTROL_PLANE_UNAVAILABLE', `${what}: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

export function janitorActivities({
  aws,
  executors,
  temporal,
  invariants,
  controlPlanes,
}: Pick<ActivityDeps, 'aws' | 'executors' | 'temporal' | 'invariants' | 'controlPlanes'>) {
  return {
    /** The environment's settings the janitor needs, from the worker's configuration (a janitor not started by a run). */
    async janitorPlan(req: { environment: string }): Promise<JanitorPlan> {
      const env = invariants.environments[req.environment];
      if (!env) {
        throw activityFailure(
          'CONFIG_INVALID',
          `unknown environment ${JSON.stringify(req.environment)}; ${invariants.file} defines ${Object.keys(invariants.environments).join(', ')}`,
        );
      }
      return janitorPlanOf(req.environment, env);
    },

    /** The control plane's test clusters named after a leg of this environment's runs. */
    async listTestClusters(req: {
      controlPlane: ControlPlaneRef;
      environment: string;
    }): Promise<JanitorCluster[]> {
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
    async deleteTestClusters(req: {
      controlPlane: ControlPlaneRef;
      clusterIds: string[];
    }): Promise<{ deleted: string[] }> {
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
      try {
        return await findEnvironmentMachines(aws.ec2(req.region), req.environment, {
          pageSize: req.pageSize,
          signal: ctx.cancellationSignal,
          onPage: (page, seen) => ctx.heartbeat({ page, seen }),
        });
      } catch (err) {
        throw scanFailure(err, req.region);
      }
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
      let terminated: string[];
      try {
        terminated = await terminateInstances(
          aws.ec2(req.region),
          req.instances.map((i) => i.instanceId),
          (count) => ctx.heartbeat({ terminated: count }),
        );
      } catch (err) {
        throw terminationFailure(err);
      }
      const executor = executors.for(req.executor);
      for (const instance of req.instances) {
        if (instance.target)
          await executor.release({
            instanceId: instance.instanceId,
            target: instance.target,
            region: req.region,
          });
      }
      return { terminated };
    },
  };
}
