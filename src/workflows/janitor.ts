/**
 * The janitor: terminates the environment's GPU-matrix instances that
 * outlived their run, and never one a still-open run is using.
 *
 * list (DescribeInstances, filtered and paginated) → classify at one
 * workflow time (older than cleanupTtl, or past radix:expires-at) → ask
 * Temporal whether each expired instance's run (radix:run-id) is still open
 * → terminate the rest (unless a dry run) → report.
 *
 * Runs before every matrix run's legs, on its own schedule, and on demand
 * (`sentinel janitor`).
 */
import { log, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { SentinelActivities } from '../activities';
import { classifyInstances, JANITOR_PAGE_SIZE, type JanitorAction, type JanitorInput, type JanitorReport, type JanitorSpared } from '../domain/janitor';
import { activityOptions } from './activity-options';
import { SEARCH_ATTRIBUTES } from './definitions';

/** Reading the environment's settings is local and quick; the configured timeouts are known after it. */
const { janitorPlan } = proxyActivities<SentinelActivities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['CONFIG_INVALID'] },
});

export async function janitorWorkflow(input: JanitorInput): Promise<JanitorReport> {
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.environment, value: input.environment }]);
  const plan = await janitorPlan({ environment: input.environment });
  const ec2 = proxyActivities<SentinelActivities>(activityOptions(plan.cleanupTimeoutMs, plan.retry, plan.heartbeatMs));

  const now = Date.now(); // workflow time: one instant for the whole sweep
  const instances = await ec2.listJanitorInstances({ region: plan.region, environment: plan.environment, pageSize: JANITOR_PAGE_SIZE });
  const { expired, young } = classifyInstances(instances, now, plan.cleanupTtlMs);

  const runIds = [...new Set(expired.flatMap((e) => (e.runId ? [e.runId] : [])))];
  const open = new Set(runIds.length > 0 ? await ec2.openRuns({ workflowIds: runIds }) : []);

  const orphans: JanitorAction[] = [];
  const spared: JanitorSpared[] = [];
  for (const e of expired) {
    if (e.runId && open.has(e.runId)) {
      spared.push({ instanceId: e.instanceId, ageSeconds: e.ageSeconds, runId: e.runId, reason: 'run_open', detail: `run ${e.runId} is still open (${e.detail})` });
    } else {
      orphans.push(e);
    }
  }
  spared.push(...young);

  let terminated: JanitorAction[] = [];
  if (!input.dryRun && orphans.length > 0) {
    const done = await ec2.terminateOrphans({
      region: plan.region,
      executor: plan.executor,
      instances: orphans.map((o) => ({ instanceId: o.instanceId, ...(o.target ? { target: o.target } : {}) })),
    });
    const gone = new Set(done.terminated);
    terminated = orphans.filter((o) => gone.has(o.instanceId));
  }

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
  };
  log.info('janitor report', {
    environment: report.environment,
    dryRun: report.dryRun,
    seen: report.seen,
    terminated: terminated.map((t) => t.instanceId),
    wouldTerminate: report.wouldTerminate.map((t) => t.instanceId),
    spared: spared.length,
  });
  return report;
}
