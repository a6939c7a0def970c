/** What can go wrong with machines, as the activities' catalogue mapping sees it (src/activities/machine-failures.ts). */
import { isCredentialError } from '../aws/errors';

/** TerminateInstances failed for a reason other than "not found": the machines may still run. */
export class TerminationFailed extends Error {
  constructor(
    readonly instanceIds: string[],
    readonly error: unknown,
  ) {
    super(`terminate ${instanceIds.join(', ')}: ${error instanceof Error ? error.message : String(error)}`);
    this.name = 'TerminationFailed';
  }

  /** EC2 refused the credentials: retrying cannot help. */
  get credentialsRefused(): boolean {
    return isCredentialError(this.error);
  }
}
