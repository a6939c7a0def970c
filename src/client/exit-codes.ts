/**
 * Exit codes of the `sentinel` CLI. Stable: CI pipelines branch on them.
 * Documented in README.md ("Exit codes"); keep both in step.
 */
import type { Verdict } from '../domain/run';

export const EXIT = {
  /** Every leg passed (and the digest was promoted, unless a dry run). */
  PASSED: 0,
  /** The run finished and at least one leg (or the run itself) failed. */
  FAILED: 1,
  /** The input was refused (bad digest, unknown environment, bad option); nothing was started. */
  REFUSED: 2,
  /** ops/invariants.yaml (or the file given) is invalid. */
  CONFIG_INVALID: 3,
  /** The environment is busy: --no-queue and another run holds its lane, or `schedule trigger` was skipped while the schedule's previous run still runs. */
  LANE_BUSY: 4,
  /** Every leg passed but the approved digest moved during the run; nothing was overwritten. */
  PROMOTION_CONFLICT: 5,
  /** Temporal could not be reached. */
  TEMPORAL_UNREACHABLE: 6,
  /** The run was cancelled. */
  CANCELLED: 7,
  /** AWS refused the credentials or the setup is incomplete (bootstrap, janitor, promote). */
  AWS_ERROR: 8,
  /** The named schedule does not exist (`sentinel schedule apply` creates it), or `sentinel runs` names no known run. */
  NOT_FOUND: 9,
  /** Something unexpected; the message says what. */
  INTERNAL: 10,
  /** `--run-id` names a run that already ran to its end: nothing was started (a new run needs a new id). */
  RUN_ID_REUSED: 11,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeForVerdict(verdict: Verdict): ExitCode {
  switch (verdict) {
    case 'passed':
      return EXIT.PASSED;
    case 'lane_busy':
      return EXIT.LANE_BUSY;
    case 'promotion_conflict':
      return EXIT.PROMOTION_CONFLICT;
    case 'cancelled':
      return EXIT.CANCELLED;
    default:
      return EXIT.FAILED;
  }
}

/** A failure the CLI reports with its own exit code and a message that says how to fix it. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}
