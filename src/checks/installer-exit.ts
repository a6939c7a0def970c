import type { FailureCode } from '../domain/failures';

/** The failure a leg records for an installer exit status (provisional table, see docs/installer.md). */
export function installerFailureCode(exit: number): FailureCode {
  switch (exit) {
    case 20:
      return 'INSTALLER_APPROVED_DIGEST_MISSING';
    case 21:
      return 'INSTALLER_APPROVED_DIGEST_INVALID';
    case 22:
      return 'INSTALLER_SOURCE_UNAVAILABLE';
    case 31:
      return 'IMAGE_PULL_FAILED';
    default:
      return 'INSTALLER_FAILED';
  }
}
