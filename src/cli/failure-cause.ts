/**
 * What a failed workflow failed of. A failure raised in an activity reaches
 * the client wrapped (WorkflowFailedError → ActivityFailure → the activity's
 * ApplicationFailure, whose type is the catalogue code), so the code is
 * looked for down the whole cause chain, not only at its first link.
 */
import { ApplicationFailure } from '@temporalio/common';
import { isFailureCode, type FailureCode } from '../domain/failures';

export interface CodedCause {
  code: FailureCode;
  message: string;
}

export function codedCauseOf(err: unknown): CodedCause | undefined {
  for (let cause: unknown = err; cause; cause = (cause as Error).cause) {
    if (cause instanceof ApplicationFailure && isFailureCode(cause.type))
      return { code: cause.type, message: cause.message };
  }
  return undefined;
}

/** The first line of an error's message: a client error is one line, never a stack. */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim();
}
