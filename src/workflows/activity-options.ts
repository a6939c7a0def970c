/**
 * Activity options built from the run's configuration snapshot. Every
 * activity gets a schedule-to-close budget (its timeout in the config, across
 * all attempts) and the environment's retry policy. How a lost attempt (its
 * worker killed) is noticed and retried within that budget:
 * - long waits heartbeat: the heartbeat timeout notices a dead worker within
 *   one heartbeat, so their attempt may last the whole budget;
 * - every other activity gets a per-attempt (start-to-close) timeout of a
 *   third of its budget, so a lost attempt is retried with budget to spare;
 * - cleanup, promotion and evidence get both (boundedAttemptOptions): they
 *   also heartbeat while a call is in flight (src/activities/heartbeat.ts).
 */
import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';
import type { RetryConfig } from '../config/schema';
import { NON_RETRYABLE_CODES } from '../domain/failures';

export function retryPolicy(retry: RetryConfig): RetryPolicy {
  return {
    initialInterval: retry.initialInterval,
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: retry.maximumInterval,
    maximumAttempts: retry.maximumAttempts,
    nonRetryableErrorTypes: NON_RETRYABLE_CODES,
  };
}

/** One attempt's share of a budget: a third (at least a second), so at least two retries fit. */
export function attemptTimeout(budgetMs: number): number {
  return Math.min(budgetMs, Math.max(1_000, Math.ceil(budgetMs / 3)));
}

export function activityOptions(
  timeoutMs: number,
  retry: RetryConfig,
  heartbeatMs?: number,
): ActivityOptions {
  return {
    startToCloseTimeout: heartbeatMs === undefined ? attemptTimeout(timeoutMs) : timeoutMs,
    scheduleToCloseTimeout: timeoutMs,
    retry: retryPolicy(retry),
    ...(heartbeatMs === undefined ? {} : { heartbeatTimeout: heartbeatMs }),
  };
}

/** Short steps that must not be lost with a worker: a per-attempt timeout and a heartbeat timeout. */
export function boundedAttemptOptions(
  timeoutMs: number,
  retry: RetryConfig,
  heartbeatMs: number,
): ActivityOptions {
  return {
    startToCloseTimeout: attemptTimeout(timeoutMs),
    scheduleToCloseTimeout: timeoutMs,
    heartbeatTimeout: Math.min(heartbeatMs, attemptTimeout(timeoutMs)),
    retry: retryPolicy(retry),
  };
}
