/**
 * The machines module's errors (src/machines/) as catalogue failures, in one
 * place for the legs and the janitor.
 */
import { awsErrorMessage, isCredentialError } from '../aws/errors';
import { TerminationFailed } from '../machines/errors';
import { activityFailure } from './failure';

/** A failed termination: refused credentials stop at once; anything else is a cleanup that may have left a machine. */
export function terminationFailure(err: unknown): unknown {
  if (!(err instanceof TerminationFailed)) return err;
  if (err.credentialsRefused)
    return activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err.error), err.error);
  return activityFailure(
    'CLEANUP_FAILED',
    `terminate ${err.instanceIds.join(', ')}: ${awsErrorMessage(err.error)}`,
    err.error,
  );
}

/** A failed listing of the environment's machines (the janitor's scan). */
export function scanFailure(err: unknown, region: string): Error {
  if (isCredentialError(err)) return activityFailure('AWS_CREDENTIALS_REFUSED', awsErrorMessage(err), err);
  return activityFailure(
    'JANITOR_SCAN_FAILED',
    `DescribeInstances in ${region}: ${awsErrorMessage(err)}`,
    err,
  );
}
