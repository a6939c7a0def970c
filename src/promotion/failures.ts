/**
 * The one mapping from the promotion module's errors (and the registry errors
 * its order check lets through) to catalogue codes. The promotion activity
 * turns the result into its failure; `sentinel promote --rollback` into an
 * exit code. Pure: no Temporal here.
 */
import { awsErrorMessage, isCredentialError } from '../aws/errors';
import type { FailureCode } from '../domain/failures';
import { RegistryConfigError, RegistryError } from '../registry/client';
import {
  PointerAccessError,
  PromotionConflictError,
  PromotionOrderUnknownError,
  PromotionOverwrittenError,
  PromotionStaleError,
} from './errors';

export interface CatalogueFailure {
  code: FailureCode;
  message: string;
  cause?: unknown;
  /** What was found before failing, kept in the failure's details. */
  facts?: unknown;
}

/** The catalogue failure of one of the promotion module's errors; undefined for anything else. */
export function promotionFailureOf(err: unknown): CatalogueFailure | undefined {
  if (err instanceof PointerAccessError) {
    if (isCredentialError(err.cause))
      return { code: 'AWS_CREDENTIALS_REFUSED', message: awsErrorMessage(err.cause), cause: err.cause };
    return {
      code: err.operation === 'read' ? 'APPROVED_DIGEST_UNREADABLE' : 'PROMOTION_FAILED',
      message: err.message,
      cause: err.cause,
    };
  }
  if (err instanceof PromotionConflictError)
    return { code: 'PROMOTION_CONFLICT', message: err.message, cause: err.cause };
  if (err instanceof PromotionOverwrittenError) {
    return {
      code: 'PROMOTION_OVERWRITTEN',
      message: err.message,
      facts: { overwritten: err.overwritten, version: err.version },
    };
  }
  if (err instanceof PromotionStaleError)
    return { code: 'PROMOTION_STALE', message: err.message, facts: { order: err.order } };
  if (err instanceof PromotionOrderUnknownError)
    return { code: 'PROMOTION_ORDER_UNKNOWN', message: err.message, cause: err.cause };
  if (err instanceof RegistryConfigError) return { code: 'CONFIG_INVALID', message: err.message };
  if (err instanceof RegistryError) {
    return {
      code: err.kind === 'auth_refused' ? 'REGISTRY_AUTH_REFUSED' : 'REGISTRY_UNREACHABLE',
      message: err.message,
      cause: err,
    };
  }
  return undefined;
}
