/**
 * The matrix run's patch ids (docs/determinism.md): each marks a change of
 * the commands a run issues, so histories recorded before it replay the old
 * way. Never rename or reuse one.
 */

/** Marks runs that start their lane on their own task queue (histories from before it left that to the worker's configuration). */
export const LANE_ON_RUN_TASK_QUEUE_PATCH = 'lane-on-run-task-queue';

/** Marks promotions that finish once sent, even when the run is cancelled meanwhile (histories from before it replay without). */
export const PROMOTION_NON_CANCELLABLE_PATCH = 'promotion-non-cancellable-v1';

/** Histories recorded before runs were attested replay without the attestation step. */
export const ATTESTATION_PATCH = 'attest-before-promotion-v1';

/** Runs whose legs are tried again on a fresh machine after an infrastructure failure, and end `inconclusive`. */
export const INFRA_RETRY_PATCH = 'leg-infra-retry-inconclusive';

/** Marks runs that refuse to promote when a leg's cleanup failed (histories from before it replay without). */
export const CLEANUP_GATE_PATCH = 'no-promotion-when-cleanup-incomplete';
