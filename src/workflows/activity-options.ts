/**
 * Activity options built from the run's configuration snapshot. Every
 * activity gets a schedule-to-close budget (its timeout in the config, across
 * all attempts) and the environment's retry policy; long waits also get a
 * heartbeat timeout so a dead worker is noticed within one heartbeat.
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

export function activityOptions(timeoutMs: number, retry: RetryConfig, heartbeatMs?: number): ActivityOptions {
  return {
    startToCloseTimeout: timeoutMs,
    scheduleToCloseTimeout: timeoutMs,
    retry: retryPolicy(retry),
    ...(heartbeatMs === undefined ? {} : { heartbeatTimeout: heartbeatMs }),
  };
}
