/**
 * The janitor: terminates the environment's GPU-matrix instances that
 * outlived their run, and never one a still-open run is using.
 *
 * list (DescribeInstances, filtered and paginated) → classify at one
 * workflow time (older than cleanupTtl, or past radix:expires-at) → ask
 * Temporal whether each expired instance's run (radix:run-id) is still open
 * → terminate the rest (unless a dry run) → report.
 *
 * Then the same for the control plane's test clusters: those named after a
 * leg of a run that is no longer open are deleted.
 *
 * Runs before every matrix run's legs, on its own schedule, and on demand
 * (`sentinel janitor`).
 */
import { isCancellation, log, patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { setWorkflowOptions } from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import {
  classifyInstances,
  JANITOR_PAGE_SIZE,
  type ClusterAction,
  type ClusterSweep,
  type JanitorAction,
  type JanitorInput,
  type JanitorPlan,
  type JanitorReport,
  type JanitorSpared,
} from '../domain/janitor';
import { activityOptions } from './activity-options';
import { SEARCH_ATTRIBUTES } from '../temporal/definitions';
import { runFailure } from './failure-mapping';

/** Marks janitors that also sweep the control plane's test clusters (histories from before it replay without). */
export const JANITOR_CLUSTERS_PATCH = 'janitor-reaps-test-clusters';

/** Reading the environment's settings is local and quick; the configured timeouts are known after it. */
const { janitorPlan } = proxyActivities<Pick<SentinelActivities, 'janitorPlan'>>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['CONFIG_INVALID'] },
});

// The janitor moves to the current build; a change to it goes behind patched() (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, janitorWorkflow);

export async function janitorWorkflow(input: JanitorInput): Promise<JanitorReport> {
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.environment, value: input.environment }]);
  // A run's pre-step sweeps with the run's configuration snapshot; any other janitor with the worker's configuration.
  const plan = input.plan ?? (await janitorPlan({ environment: input.environment }));
  const { listJanitorInstances, openRuns, terminateOrphans } = proxyActivities<
    Pick<SentinelActivities, 'listJanitorInstances' | 'openRuns' | 'terminateOrphans'>
  >(activityOptions(plan.cleanupTimeoutMs, plan.retry, plan.heartbeatMs));

  const now = Date.now(); // workflow time: one instant for the whole sweep
  const instances = await listJanitorInstances({
    region: plan.region,
    environment: plan.environment,
    pageSize: JANITOR_PAGE_SIZE,
  });
  const { expired, young } = classifyInstances(instances, now, plan.cleanupTtlMs);

  const runIds = [...new Set(expired.flatMap((e) => (e.runId ? [e.runId] : [])))];
  const open = new Set(runIds.length > 0 ? await openRuns({ workflowIds: runIds }) : []);

  const orphans: JanitorAction[] = [];
  const spared: JanitorSpared[] = [];
  for (const e of expired) {
    if (e.runId && open.has(e.runId)) {
      spared.push({
        instanceId: e.instanceId,
        ageSeconds: e.ageSeconds,
        runId: e.runId,
        reason: 'run_open',
        detail: `run ${e.runId} is still open (${e.detail})`,
      });
    } else {
      orphans.push(e);
    }
  }
  spared.push(...young);

  let terminated: JanitorAction[] = [];
  if (!input.dryRun && orphans.length > 0) {
    const done = await terminateOrphans({
      region: plan.region,
      executor: plan.executor,
      instances: orphans.map((o) => ({
        instanceId: o.instanceId,
        ...(o.target ? { target: o.target } : {}),
      })),
    });
    const gone = new Set(done.terminated);
    terminated = orphans.filter((o) => gone.has(o.instanceId));
  }

  // Few retries: a control plane that cannot be reached is recorded, it does not hold up the sweep (or the run after it).
  const controlPlane = proxyActivities<
    Pick<SentinelActivities, 'listTestClusters' | 'openRuns' | 'deleteTestClusters'>
  >(
    activityOptions(
      plan.cleanupTimeoutMs,
      { ...plan.retry, maximumAttempts: Math.min(plan.retry.maximumAttempts, 2) },
      plan.heartbeatMs,
    ),
  );
  const clusters =
    patched(JANITOR_CLUSTERS_PATCH) && plan.controlPlane
      ? await sweepClusters(plan, input.dryRun, now, controlPlane)
      : undefined;

  const report: JanitorReport = {
    environment: plan.environment,
    region: plan.region,
    dryRun: input.dryRun,
    checkedAt: new Date(now).toISOString(),
    cleanupTtlSeconds: plan.cleanupTtlMs / 1000,
    seen: instances.length,
    terminated,
    wouldTerminate: input.dryRun ? orphans : [],
    spared,
    ...(clusters ? { clusters } : {}),
  };
  log.info('janitor report', {
    environment: report.environment,
    dryRun: report.dryRun,
    seen: report.seen,
    terminated: terminated.map((t) => t.instanceId),
    wouldTerminate: report.wouldTerminate.map((t) => t.instanceId),
    spared: spared.length,
    ...(clusters
      ? { clustersDeleted: clusters.deleted.map((c) => c.name), clusterFailure: clusters.failure?.code }
      : {}),
  });
  return report;
}

/**
 * The test clusters of the environment's runs: a cluster whose run (and leg)
 * is no longer open has no one left to delete it. A control plane that
 * cannot be swept is recorded; the instance sweep stands.
 */
async function sweepClusters(
  plan: JanitorPlan,
  dryRun: boolean,
  now: number,
  api: Pick<SentinelActivities, 'listTestClusters' | 'openRuns' | 'deleteTestClusters'>,
): Promise<ClusterSweep> {
  const sweep: ClusterSweep = { seen: 0, deleted: [], wouldDelete: [], spared: [] };
  try {
    const clusters = await api.listTestClusters({
      controlPlane: plan.controlPlane!,
      environment: plan.environment,
    });
    sweep.seen = clusters.length;
    if (clusters.length === 0) return sweep;
    // A leg still cleaning up after its run closed (parent close policy) keeps its cluster.
    const open = new Set(
      await api.openRuns({ workflowIds: [...new Set(clusters.flatMap((c) => [c.runId, c.name]))] }),
    );
    const orphans: ClusterAction[] = [];
    for (const c of clusters) {
      const created = Date.parse(c.createdAt);
      const action: ClusterAction = {
        clusterId: c.clusterId,
        name: c.name,
        runId: c.runId,
        ageSeconds: Number.isFinite(created) ? Math.max(0, Math.round((now - created) / 1000)) : 0,
        detail: '',
      };
      if (open.has(c.runId) || open.has(c.name)) {
        sweep.spared.push({ ...action, detail: `run ${c.runId} is still open` });
      } else {
        orphans.push({ ...action, detail: `run ${c.runId} is closed` });
      }
    }
    if (dryRun) {
      sweep.wouldDelete = orphans;
    } else if (orphans.length > 0) {
      const done = new Set(
        (
          await api.deleteTestClusters({
            controlPlane: plan.controlPlane!,
            clusterIds: orphans.map((o) => o.clusterId),
          })
        ).deleted,
      );
      sweep.deleted = orphans.filter((o) => done.has(o.clusterId));
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    sweep.failure = runFailure(err);
  }
  return sweep;
}
