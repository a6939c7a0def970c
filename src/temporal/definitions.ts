/**
 * Names shared by workflows, activities and clients: workflow ids, signals,
 * queries and search attributes. Importable from both sides.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { LegProgress, QueueMode, RunProgress } from '../domain/run';

/** One lane per environment: whoever starts a run, runs of one environment go through it one at a time. */
export function laneWorkflowId(environment: string): string {
  return `sentinel-lane-${environment}`;
}

export function runWorkflowId(environment: string, runId: string): string {
  return `sentinel-run-${environment}-${runId}`;
}

export function legWorkflowId(runWorkflowId: string, target: string): string {
  return `${runWorkflowId}--${target}`;
}

/**
 * A leg's attempt after an infrastructure failure: its own workflow, hence its
 * own leg tag, EC2 ClientToken and machine (attempt 1 keeps the plain leg id).
 */
export function legAttemptWorkflowId(legWorkflowId: string, attempt: number): string {
  return attempt <= 1 ? legWorkflowId : `${legWorkflowId}--attempt-${attempt}`;
}

/** The janitor a matrix run starts before its legs ('/' appears in no run id nor target name). */
export function janitorPreStepWorkflowId(runWorkflowId: string): string {
  return `${runWorkflowId}/janitor`;
}

/** A janitor started on demand (`sentinel janitor`). */
export function janitorWorkflowId(environment: string, stamp: string): string {
  return `sentinel-janitor-${environment}-${stamp}`;
}

export type ScheduleKind = 'nightly' | 'janitor';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['nightly', 'janitor'];

/** One schedule of each kind per environment; the runs it starts are named after it (Temporal appends the time). */
export function scheduleId(kind: ScheduleKind, environment: string): string {
  return `sentinel-${kind}-${environment}`;
}

/**
 * The alert metric of a failed cleanup (a counter emitted by the leg, through
 * the worker's Prometheus endpoint, src/worker/telemetry.ts): one per machine
 * or test cluster that may be left, labelled environment, target, kind, resource.
 */
export const CLEANUP_INCOMPLETE_METRIC = 'sentinel_cleanup_incomplete';

export const SEARCH_ATTRIBUTES = {
  environment: defineSearchAttributeKey('SentinelEnvironment', SearchAttributeType.KEYWORD),
  candidateDigest: defineSearchAttributeKey('SentinelCandidateDigest', SearchAttributeType.KEYWORD),
  verdict: defineSearchAttributeKey('SentinelVerdict', SearchAttributeType.KEYWORD),
  target: defineSearchAttributeKey('SentinelTarget', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('SentinelPhase', SearchAttributeType.KEYWORD),
} as const;

export interface LaneRequest {
  workflowId: string;
  runId: string;
  mode: QueueMode;
}

export interface LaneGrant {
  granted: boolean;
  /** The run holding the lane when a request is refused. */
  holder?: string;
}

export interface LaneState {
  environment: string;
  holderCheckIntervalMs: number;
  holder: LaneRequest | null;
  queue: LaneRequest[];
}

export const laneRequestSignal = defineSignal<[LaneRequest]>('laneRequest');
export const laneReleaseSignal = defineSignal<[Pick<LaneRequest, 'workflowId' | 'runId'>]>('laneRelease');
export const laneGrantSignal = defineSignal<[LaneGrant]>('laneGrant');
export const laneStateQuery = defineQuery<LaneState>('laneState');

/** Who asked a run to cancel, and why: sent just before the cancel request, kept in the run's evidence. */
export interface CancelReason {
  reason: string;
  requestedBy: string;
}
export const cancelReasonSignal = defineSignal<[CancelReason]>('cancelReason');

export const runProgressQuery = defineQuery<RunProgress>('progress');
export const legProgressQuery = defineQuery<LegProgress>('progress');
