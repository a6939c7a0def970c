/**
 * The janitor's judgement, as pure functions and shapes (no Node APIs, so
 * the workflow bundle uses them): which of an environment's instances are
 * expired, and the report a janitor run returns.
 *
 * An instance is expired when it was launched longer ago than the
 * environment's cleanupTtl, or when its `radix:expires-at` tag lies in the
 * past. An expired instance is only terminated when the run named in its
 * `radix:run-id` tag is no longer open; that check is the workflow's.
 */
import type { EnvironmentConfig, ExecutorConfig, RetryConfig } from '../config/schema';
import type { ControlPlaneRef } from '../control-plane/clients';
import { formatDuration } from './duration';
import type { FailureRecord } from './failures';

/** Instances per DescribeInstances page (EC2 allows 5 to 1000). */
export const JANITOR_PAGE_SIZE = 100;

export interface JanitorInput {
  environment: string;
  /** List what would be terminated; terminate nothing. */
  dryRun: boolean;
  /**
   * The settings of the run that started this janitor (its pre-step), from the
   * run's configuration snapshot. Absent (on demand, on schedule, and runs
   * from before it): the worker's configuration, read by `janitorPlan`.
   */
  plan?: JanitorPlan;
}

/** The environment's settings a janitor sweep uses. */
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

/** The janitor's settings out of an environment's configuration (a run's snapshot of it, or the worker's). */
export function janitorPlanOf(environment: string, env: Omit<EnvironmentConfig, 'targets'>): JanitorPlan {
  return {
    environment,
    region: env.awsRegion,
    cleanupTtlMs: env.cleanupTtl,
    executor: env.executor,
    cleanupTimeoutMs: env.timeouts.cleanup,
    heartbeatMs: env.timeouts.heartbeat,
    retry: env.retry,
    controlPlane: { baseUrl: env.controlPlane.baseUrl, cognito: env.controlPlane.cognito },
  };
}

/** One instance as the janitor sees it (from DescribeInstances and its tags). */
export interface JanitorInstance {
  instanceId: string;
  state: string;
  instanceType?: string;
  launchedAt?: string;
  /** `radix:expires-at` */
  expiresAt?: string;
  /** `radix:run-id`: the workflow id of the matrix run that launched it. */
  runId?: string;
  /** `radix:target` */
  target?: string;
}

export type TerminateReason = 'ttl' | 'expires_at';
export type SpareReason = 'run_open' | 'young';

export interface JanitorAction {
  instanceId: string;
  ageSeconds: number;
  runId?: string;
  target?: string;
  reason: TerminateReason;
  detail: string;
}

export interface JanitorSpared {
  instanceId: string;
  ageSeconds: number;
  runId?: string;
  reason: SpareReason;
  detail: string;
}

export interface JanitorReport {
  environment: string;
  region: string;
  dryRun: boolean;
  checkedAt: string;
  cleanupTtlSeconds: number;
  /** Live instances tagged radix:purpose=gpu-matrix of this environment. */
  seen: number;
  terminated: JanitorAction[];
  /** Dry run only: what would have been terminated. */
  wouldTerminate: JanitorAction[];
  spared: JanitorSpared[];
  /** The control plane's test clusters of this environment's runs (absent in janitors that predate it). */
  clusters?: ClusterSweep;
}

/** A test cluster of one of the environment's runs, as the janitor sees it (the control plane's cluster list). */
export interface JanitorCluster {
  clusterId: string;
  /** The leg's workflow id: Sentinel names a leg's test cluster after it. */
  name: string;
  /** The matrix run's workflow id (the name up to its last `--`). */
  runId: string;
  createdAt: string;
}

export interface ClusterAction {
  clusterId: string;
  name: string;
  runId: string;
  ageSeconds: number;
  detail: string;
}

/** The clusters' half of a sweep: those of closed runs are deleted (listed only in a dry run), those of open runs spared. */
export interface ClusterSweep {
  seen: number;
  deleted: ClusterAction[];
  wouldDelete: ClusterAction[];
  spared: ClusterAction[];
  /** The control plane could not be swept (the instance sweep stands). */
  failure?: FailureRecord;
}

/**
 * The run a test cluster belongs to, when its name is a leg id of this
 * environment (`sentinel-run-<env>-<run id>--<target>`); other clusters are
 * never the janitor's.
 */
export function clusterRunId(name: string, environment: string): string | undefined {
  const prefix = `sentinel-run-${environment}-`;
  const cut = name.lastIndexOf('--');
  if (!name.startsWith(prefix) || cut <= prefix.length || cut + 2 >= name.length) return undefined;
  return name.slice(0, cut);
}

/** What a matrix run records of its janitor pre-step: the report, or why there is none. */
export interface JanitorOutcome {
  workflowId: string;
  report?: JanitorReport;
  failure?: FailureRecord;
}

export interface Classified {
  expired: JanitorAction[];
  young: JanitorSpared[];
}

export function ageSeconds(instance: JanitorInstance, nowMs: number): number {
  const launched = instance.launchedAt ? Date.parse(instance.launchedAt) : NaN;
  return Number.isFinite(launched) ? Math.max(0, Math.round((nowMs - launched) / 1000)) : 0;
}

/** Splits instances into expired ones (candidates for termination) and young ones (spared). */
export function classifyInstances(
  instances: JanitorInstance[],
  nowMs: number,
  cleanupTtlMs: number,
): Classified {
  const expired: JanitorAction[] = [];
  const young: JanitorSpared[] = [];
  for (const instance of instances) {
    const age = ageSeconds(instance, nowMs);
    const expiresAt = instance.expiresAt ? Date.parse(instance.expiresAt) : NaN;
    const base = {
      instanceId: instance.instanceId,
      ageSeconds: age,
      ...(instance.runId ? { runId: instance.runId } : {}),
    };
    if (instance.launchedAt && age * 1000 >= cleanupTtlMs) {
      expired.push({
        ...base,
        ...(instance.target ? { target: instance.target } : {}),
        reason: 'ttl',
        detail: `launched ${formatDuration(age * 1000)} ago, older than cleanupTtl ${formatDuration(cleanupTtlMs)}`,
      });
    } else if (Number.isFinite(expiresAt) && expiresAt <= nowMs) {
      expired.push({
        ...base,
        ...(instance.target ? { target: instance.target } : {}),
        reason: 'expires_at',
        detail: `past its radix:expires-at ${instance.expiresAt}`,
      });
    } else {
      const left = Math.min(
        instance.launchedAt ? cleanupTtlMs - age * 1000 : Infinity,
        Number.isFinite(expiresAt) ? expiresAt - nowMs : Infinity,
      );
      young.push({
        ...base,
        reason: 'young',
        detail: Number.isFinite(left)
          ? `expires in ${formatDuration(left)}`
          : 'no launch time nor radix:expires-at',
      });
    }
  }
  return { expired, young };
}
