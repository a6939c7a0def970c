/**
 * Maps AWS SDK errors onto the failure catalogue, so that an error retrying
 * cannot fix (refused credentials, unknown AMI) stops at once and says why.
 */
import type { FailureCode } from '../domain/failures';

const CREDENTIAL_ERRORS = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
  'IncompleteSignature',
  'MissingAuthenticationToken',
]);

export function awsErrorName(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    for (const candidate of [e.Code, e.name, e.code]) {
      if (typeof candidate === 'string' && candidate !== 'Error') return candidate;
    }
  }
  return 'Error';
}

export function awsErrorMessage(err: unknown): string {
  const name = awsErrorName(err);
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith(name) ? message : `${name}: ${message}`;
}

export function isCredentialError(err: unknown): boolean {
  return CREDENTIAL_ERRORS.has(awsErrorName(err));
}

/** Classifies a RunInstances error. */
export function provisionFailureCode(err: unknown): FailureCode {
  const name = awsErrorName(err);
  const message = err instanceof Error ? err.message : '';
  if (isCredentialError(err)) return 'AWS_CREDENTIALS_REFUSED';
  if (name.startsWith('InvalidAMIID')) return 'AMI_NOT_FOUND';
  if (name === 'InsufficientInstanceCapacity' || name === 'InstanceLimitExceeded' || name === 'Unsupported') {
    return 'INSTANCE_CAPACITY_UNAVAILABLE';
  }
  if (/iamInstanceProfile|instance profile/i.test(message)) return 'INSTANCE_PROFILE_INVALID';
  return 'PROVISION_FAILED';
}
