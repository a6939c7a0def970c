/**
 * Exit codes of the `sentinel` CLI. Stable: CI pipelines branch on them.
 * Documented in README.md ("Exit codes"); keep both in step.
 */
import type { MatrixRunResult, Verdict } from '../domain/run';

export const EXIT = {
  /** Every leg passed (and the digest was promoted, unless a dry run). */
  PASSED: 0,
  /** The run finished and at least one leg (or the run itself) failed. */
  FAILED: 1,
  /** The input was refused (bad digest, unknown environment, bad option); nothing was started. */
  REFUSED: 2,
  /** ops/invariants.yaml (or the file given) is invalid, or the Temporal connection settings are (src/temporal/connection.ts). */
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
  /** Every leg passed but the candidate was built before the image the pointer holds (PROMOTION_STALE); nothing was written. */
  PROMOTION_STALE: 12,
  /** The candidate was promoted, but another writer's value landed between Sentinel's read and its write and was overwritten (PROMOTION_OVERWRITTEN). */
  PROMOTION_OVERWRITTEN: 13,
  /** A leg's cleanup failed: a machine or test cluster may be left running (the output and evidence name it). */
  CLEANUP_INCOMPLETE: 14,
  /** No leg failed on the candidate, but at least one never got a fair trial (infrastructure, after its infraRetries); nothing was promoted. */
  INCONCLUSIVE: 15,
  /** A sandbox (simulated) run with an AWS service not pointed at an emulator; nothing was started. */
  SANDBOX_NOT_EMULATED: 16,
  /** Preflight: no configured zone (network.subnets) offers any instance type of a target; nothing was launched. */
  PLACEMENT_UNAVAILABLE: 17,
  /** `sentinel verify` / `promote --rollback`: the digest has no valid signed proof for the environment (the reason code says which link). */
  UNATTESTED: 18,
  /** `sentinel report`: the report was built, but evidence files that are not valid evidence packs were skipped (each named in a warning). */
  REPORT_EVIDENCE_SKIPPED: 30,
  /** `sentinel report --run`: no evidence pack in the store names that run; nothing was written. */
  REPORT_RUN_UNKNOWN: 31,
  /** `sentinel report --since`: not an age such as 30d; nothing was read or written. */
  REPORT_SINCE_INVALID: 32,
  /** `sentinel report`: the evidence store (directory or S3 prefix) cannot be listed or read; nothing was written. */
  REPORT_EVIDENCE_UNREADABLE: 33,
  /** `sentinel report`: the output directory cannot be written. */
  REPORT_OUTPUT_UNWRITABLE: 34,
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
    case 'promotion_stale':
      return EXIT.PROMOTION_STALE;
    case 'promotion_overwritten':
      return EXIT.PROMOTION_OVERWRITTEN;
    case 'cancelled':
      return EXIT.CANCELLED;
    case 'inconclusive':
      return EXIT.INCONCLUSIVE;
    default:
      return EXIT.FAILED;
  }
}

/** A run's exit code: a machine or cluster that may be left running outranks every verdict. */
export function exitCodeForRun(result: Pick<MatrixRunResult, 'verdict' | 'cleanupIncomplete'>): ExitCode {
  return (result.cleanupIncomplete?.length ?? 0) > 0
    ? EXIT.CLEANUP_INCOMPLETE
    : exitCodeForVerdict(result.verdict);
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
