/**
 * Every activity of the Sentinel worker, built once from the worker's
 * dependencies. Workflows see only the type, through
 * `proxyActivities<SentinelActivities>`.
 */
import { approvedDigestActivities } from './approved-digest';
import { attestationActivities } from './attestation';
import { controlPlaneActivities } from './control-plane';
import type { ActivityDeps } from './deps';
import { evidenceActivities } from './evidence';
import { withHeartbeats } from './heartbeat';
import { hostCheckActivities } from './host-checks';
import { hostSetupActivities } from './host-setup';
import { instanceCostActivities } from './instance-cost';
import { instanceActivities } from './instances';
import { janitorActivities } from './janitor';
import { laneActivities } from './lane';
import { placementActivities } from './placement';
import { preflightActivities } from './preflight';
import { runPlanActivities } from './run-plan';

export function createActivities(deps: ActivityDeps) {
  const activities = {
    ...runPlanActivities(deps),
    ...laneActivities(deps),
    ...approvedDigestActivities(deps),
    ...instanceActivities(deps),
    ...instanceCostActivities(deps),
    ...hostCheckActivities(deps),
    ...hostSetupActivities(deps),
    ...controlPlaneActivities(deps),
    ...evidenceActivities(deps),
    ...attestationActivities(deps),
    ...preflightActivities(deps),
    ...placementActivities(deps),
    ...janitorActivities(deps),
  };
  // Short steps that must survive a killed worker: they heartbeat while a call is in flight.
  return withHeartbeats(activities, [
    'terminateInstance',
    'terminateLegInstances',
    'deleteTestCluster',
    'readApprovedDigest',
    'promoteDigest',
    'writeEvidence',
  ]);
}

export type SentinelActivities = ReturnType<typeof createActivities>;
export type { ActivityDeps } from './deps';
