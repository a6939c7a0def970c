import { ApplicationFailure } from '@temporalio/common';
import { failureInfo, type FailureCode } from '../domain/failures';

/**
 * The one way activities fail on purpose: the failure's type is its catalogue
 * code, and it is non-retryable exactly when the catalogue says retrying
 * cannot help. Workflows read the code back from `failure.type`.
 */
export function activityFailure(
  code: FailureCode,
  message: string,
  cause?: unknown,
  facts?: unknown,
): ApplicationFailure {
  return ApplicationFailure.create({
    type: code,
    message,
    nonRetryable: !failureInfo(code).retryable,
    cause: cause instanceof Error ? cause : undefined,
    // What the phase found before failing (e.g. the GPUs a host does have), for the evidence.
    details: facts === undefined ? undefined : [facts],
  });
}
