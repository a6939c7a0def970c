/**
 * The report's view of the evidence: one normalised record per run, whatever
 * the evidence version that wrote it. Fields later versions added are
 * optional here, and their absence is listed so the pages can say so.
 */
import type { EvidenceRecord } from '../domain/evidence';

/** Pass / fail / inconclusive, as the rate chart and the filters group verdicts and leg outcomes. */
export type OutcomeClass = 'passed' | 'failed' | 'inconclusive' | 'cancelled' | 'other';

export interface ReportPhase {
  name: string;
  outcome: string;
  /** Milliseconds since the epoch; absent when the evidence did not record it. */
  startMs?: number;
  durationSeconds?: number;
  failureCode?: string;
}

export interface ReportLeg {
  target: string;
  vendor: string;
  workflowId: string;
  outcome: string;
  outcomeClass: OutcomeClass;
  /** 1 for the first attempt; earlier attempts of a retried leg come first in `attempts`. */
  attempt: number;
  phases: ReportPhase[];
  timeToActiveSeconds?: number;
  /** From the first phase's start to the last phase's end, or the sum of the phases when no start was recorded. */
  durationSeconds?: number;
  /** USD of this target's machines (every attempt), when the evidence priced them. */
  usd?: number;
  failureCode?: string;
}

export interface ReportRun {
  /** The run's workflow id: it names the run everywhere (runs list, the Web UI, the page file). */
  id: string;
  runId: string;
  ciRunId: string;
  environment: string;
  verdict: string;
  verdictClass: OutcomeClass;
  trigger: string;
  startMs: number;
  finishMs: number;
  durationSeconds: number;
  candidate: string;
  simulated: boolean;
  dryRun: boolean;
  schema: string;
  /** Every attempt of every target, in the order the evidence lists them (earlier attempts first). */
  attempts: ReportLeg[];
  /** One per target: its last attempt (the one that decided the outcome), with the cost of all attempts. */
  legs: ReportLeg[];
  usd?: number;
  /** Top-level fields of the current evidence version that this pack does not carry. */
  notRecorded: string[];
  /** Where the pack was read from (file or s3:// key). */
  source: string;
  evidence: EvidenceRecord;
}

export const NOT_RECORDED = 'not recorded in this evidence version';

export function outcomeClass(outcome: string): OutcomeClass {
  switch (outcome) {
    case 'passed':
      return 'passed';
    case 'inconclusive':
      return 'inconclusive';
    case 'cancelled':
      return 'cancelled';
    case 'failed':
    case 'promotion_conflict':
    case 'promotion_stale':
    case 'promotion_overwritten':
      return 'failed';
    default:
      return 'other';
  }
}
