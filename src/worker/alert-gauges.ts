/**
 * The gauges the alert rules (deploy/prometheus/sentinel-alerts.yml) need
 * that the SDK does not give, one set per environment of the worker's
 * configuration, refreshed every ALERT_GAUGE_INTERVAL_MS:
 *
 *   sentinel_nightly_last_passed_timestamp_seconds{environment}
 *     when the environment's last nightly run passed (its matrix run closed
 *     with verdict `passed`), from Temporal's visibility store; before the
 *     first pass, when the nightly schedule was created. Only environments
 *     with schedules.nightly, and only once the schedule exists.
 *   sentinel_gpu_instances_past_ttl{environment}
 *     live GPU-matrix instances of the environment that are expired by the
 *     janitor's own rule (older than cleanupTtl, or past radix:expires-at),
 *     from EC2: a leak, since no run lives that long.
 *   sentinel_lane_wait_seconds{environment}
 *     how long the longest-waiting run queued at the environment's lane has
 *     waited (since it started; a run asks for the lane right after it is
 *     prepared); 0 when nobody waits.
 *
 * Every replica reports the same values: aggregate with max, not sum. A value
 * that cannot be read is not updated (and a warning is logged), so a stale
 * value never turns into a false "all clear" of 0.
 */
import { WorkflowNotFoundError, ScheduleNotFoundError, type Client } from '@temporalio/client';
import type { MetricGauge } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { AwsClients } from '../aws/clients';
import type { LoadedInvariants } from '../config/load';
import { classifyInstances } from '../domain/janitor';
import { findEnvironmentMachines } from '../machines/find';
import { laneStateQuery, laneWorkflowId, runWorkflowId, scheduleId } from '../temporal/definitions';

/** How often the alert gauges are recomputed (a few Temporal calls and one EC2 listing per environment). */
export const ALERT_GAUGE_INTERVAL_MS = 60_000;

/** Seconds since the epoch of the last passed nightly run; the schedule's creation before any; undefined without a schedule. */
export async function nightlyLastPassedSeconds(
  client: Client,
  environment: string,
): Promise<number | undefined> {
  const prefix = `${runWorkflowId(environment, 'nightly-')}`;
  const query =
    `WorkflowType = 'gpuMatrixWorkflow' AND ExecutionStatus = 'Completed' AND SentinelVerdict = 'passed' ` +
    `AND SentinelEnvironment = '${quote(environment)}' AND WorkflowId STARTS_WITH '${quote(prefix)}'`;
  let latest = 0;
  let seen = 0;
  // Visibility lists the most recently closed first; a few more guard against ties.
  for await (const run of client.workflow.list({ query, pageSize: 10 })) {
    const closed = run.closeTime?.getTime() ?? 0;
    if (closed > latest) latest = closed;
    if (++seen >= 10) break;
  }
  if (latest > 0) return latest / 1000;
  try {
    const schedule = await client.schedule.getHandle(scheduleId('nightly', environment)).describe();
    return schedule.info.createdAt.getTime() / 1000;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/** Live GPU-matrix instances of the environment that the janitor's rule calls expired. */
export async function instancesPastTtl(
  aws: AwsClients,
  invariants: LoadedInvariants,
  environment: string,
  nowMs: number,
): Promise<number> {
  const env = invariants.environments[environment]!;
  const unique = await findEnvironmentMachines(aws.ec2(env.awsRegion), environment, { pageSize: 1000 });
  return classifyInstances(unique, nowMs, env.cleanupTtl).expired.length;
}

/** Seconds the longest-waiting run queued at the environment's lane has waited; 0 when the lane is idle or closed. */
export async function laneWaitSeconds(client: Client, environment: string, nowMs: number): Promise<number> {
  const lane = client.workflow.getHandle(laneWorkflowId(environment));
  try {
    if ((await lane.describe()).status.name !== 'RUNNING') return 0;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 0;
    throw err;
  }
  const state = await lane.query(laneStateQuery);
  let longest = 0;
  for (const request of state.queue) {
    try {
      const run = await client.workflow.getHandle(request.workflowId, request.runId).describe();
      longest = Math.max(longest, (nowMs - run.startTime.getTime()) / 1000);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err; // gone: the lane skips it
    }
  }
  return Math.max(0, Math.round(longest));
}

export interface AlertGaugeDeps {
  client: Client;
  aws: AwsClients;
  invariants: LoadedInvariants;
}

/** Starts refreshing the alert gauges (first refresh now); stop() ends it. */
export function startAlertGauges(
  deps: AlertGaugeDeps,
  intervalMs = ALERT_GAUGE_INTERVAL_MS,
): { stop(): void } {
  const runtime = Runtime.instance();
  const meter = runtime.metricMeter;
  const nightly = meter.createGauge(
    'sentinel_nightly_last_passed_timestamp_seconds',
    'float',
    '',
    'When the last nightly run of the environment passed (before any: when its schedule was created)',
  );
  const pastTtl = meter.createGauge(
    'sentinel_gpu_instances_past_ttl',
    'int',
    '',
    'Live GPU-matrix instances older than cleanupTtl or past radix:expires-at',
  );
  const laneWait = meter.createGauge(
    'sentinel_lane_wait_seconds',
    'float',
    '',
    'How long the longest-waiting run queued at the lane has waited',
  );
  const environments = Object.keys(deps.invariants.environments);

  const refreshOne = async (
    metric: string,
    environment: string,
    read: () => Promise<number | undefined>,
    gauge: MetricGauge,
  ) => {
    try {
      const value = await read();
      if (value !== undefined) gauge.set(value, { environment });
    } catch (err) {
      runtime.logger.warn('alert gauge not refreshed', {
        metric,
        environment,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  };
  let busy = false;
  const refresh = async () => {
    if (busy) return; // a slow round is not stacked on
    busy = true;
    try {
      for (const environment of environments) {
        const now = Date.now();
        if (deps.invariants.environments[environment]!.schedules?.nightly) {
          await refreshOne(
            'sentinel_nightly_last_passed_timestamp_seconds',
            environment,
            () => nightlyLastPassedSeconds(deps.client, environment),
            nightly,
          );
        }
        await refreshOne(
          'sentinel_gpu_instances_past_ttl',
          environment,
          () => instancesPastTtl(deps.aws, deps.invariants, environment, now),
          pastTtl,
        );
        await refreshOne(
          'sentinel_lane_wait_seconds',
          environment,
          () => laneWaitSeconds(deps.client, environment, now),
          laneWait,
        );
      }
    } finally {
      busy = false;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function quote(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}
