/**
 * Turns what a workflow catches (activity and child failures, timeouts)
 * into catalogue failure records for results and evidence.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  TerminatedFailure,
  TimeoutFailure,
  isCancellation,
} from '@temporalio/workflow';
import {
  failureRecord,
  isFailureCode,
  type FailureCode,
  type FailureRecord,
  type PhaseName,
} from '../domain/failures';

/** What a phase's own timeout means to an operator. */
const TIMEOUT_CODE: Record<PhaseName, FailureCode> = {
  provision: 'PROVISION_TIMEOUT',
  host_ready: 'HOST_READY_TIMEOUT',
  host_setup: 'HOST_COMMAND_TIMEOUT',
  gpu_detect: 'HOST_COMMAND_TIMEOUT',
  container_runtime: 'HOST_COMMAND_TIMEOUT',
  installer: 'HOST_COMMAND_TIMEOUT',
  onboarding: 'ONBOARDING_TIMEOUT',
  smoke_job: 'SMOKE_JOB_TIMEOUT',
  cleanup: 'CLEANUP_FAILED',
};

/** The code of an uncoded failure (an error no activity classified). */
const FALLBACK_CODE: Record<PhaseName, FailureCode> = {
  provision: 'PROVISION_FAILED',
  host_ready: 'HOST_COMMAND_FAILED',
  host_setup: 'HOST_SETUP_FAILED',
  gpu_detect: 'HOST_COMMAND_FAILED',
  container_runtime: 'HOST_COMMAND_FAILED',
  installer: 'INSTALLER_FAILED',
  onboarding: 'CONTROL_PLANE_UNAVAILABLE',
  smoke_job: 'CONTROL_PLANE_UNAVAILABLE',
  cleanup: 'CLEANUP_FAILED',
};

export function phaseFailure(phase: PhaseName, err: unknown): FailureRecord {
  if (isCancellation(err)) return failureRecord('LEG_CANCELLED', `cancelled during ${phase}`);
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && isFailureCode(cause.type))
    return failureRecord(cause.type, cause.message);
  if (cause instanceof TimeoutFailure) {
    return failureRecord(TIMEOUT_CODE[phase], `${phase} exceeded its ${timeoutName(cause)} timeout`);
  }
  return failureRecord(FALLBACK_CODE[phase], messageOf(cause ?? err));
}

/** Facts an activity attached to its failure (see activityFailure). */
export function failureFacts<T>(err: unknown): T | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.details && cause.details.length > 0)
    return cause.details[0] as T;
  return undefined;
}

/** A failure outside any phase: a code when one was raised, else INTERNAL_ERROR. */
export function runFailure(err: unknown): FailureRecord {
  const cause = err instanceof ActivityFailure || err instanceof ChildWorkflowFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && isFailureCode(cause.type))
    return failureRecord(cause.type, cause.message);
  if (cause instanceof TimeoutFailure)
    return failureRecord('INTERNAL_ERROR', `timed out (${timeoutName(cause)})`);
  if (cause instanceof TerminatedFailure) return failureRecord('LEG_CRASHED', 'terminated');
  return failureRecord('INTERNAL_ERROR', messageOf(cause ?? err));
}

function timeoutName(failure: TimeoutFailure): string {
  return (failure.timeoutType ?? 'configured').toLowerCase().replace(/_/g, '-');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
