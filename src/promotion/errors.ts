/**
 * Why a read or a write of the approved pointer did not happen as asked.
 * Plain errors: the pointer module knows nothing of Temporal. Each maps to one
 * catalogue code in ./failures.ts, where activities and commands read it.
 */
import type { OverwrittenValue, PromotionOrder } from '../domain/run';

/** SSM refused or did not answer a read (`read`) or a write (`write`) of the pointer. */
export class PointerAccessError extends Error {
  constructor(
    readonly operation: 'read' | 'write',
    readonly parameter: string,
    message: string,
    override readonly cause: unknown,
  ) {
    super(message, { cause });
    this.name = 'PointerAccessError';
  }
}

/** The pointer moved away from the value the writer started from: nothing was written. */
export class PromotionConflictError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'PromotionConflictError';
  }
}

/** Written, but over a value another writer had put there between the last read and the write. */
export class PromotionOverwrittenError extends Error {
  constructor(
    message: string,
    readonly overwritten: OverwrittenValue[],
    /** The version the write produced: the new value is in place. */
    readonly version: number | null,
  ) {
    super(message);
    this.name = 'PromotionOverwrittenError';
  }
}

/** The candidate was built before the image the pointer holds: the pointer only moves forward. */
export class PromotionStaleError extends Error {
  constructor(
    message: string,
    readonly order: PromotionOrder,
  ) {
    super(message);
    this.name = 'PromotionStaleError';
  }
}

/** The build time of the candidate or of the approved image could not be read, so no order is known. */
export class PromotionOrderUnknownError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'PromotionOrderUnknownError';
  }
}
