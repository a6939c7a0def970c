/**
 * The cost side of a leg's cleanup: after the machine was told to terminate,
 * watch it reach `terminated` (bounded) and turn launch → terminated into
 * instance-seconds and, at the configured price, USD.
 */
import { awsErrorName } from '../aws/errors';
import { usdFor } from '../domain/cost';
import type { LegCost } from '../domain/run';
import { describeInstance } from '../machines/find';
import type { ActivityDeps } from './deps';
import { waitContext } from './wait-context';

export interface TerminationWatchRequest {
  region: string;
  instanceId: string;
  /** When the leg's own work ended (its cleanup started): later seconds are leaked. */
  legEndedAt: string;
  /** How long to wait for `terminated` before reporting what is known. */
  maxWaitMs: number;
  polling: { initialMs: number; maxMs: number };
  usdPerHour?: number;
}

export function instanceCostActivities({ aws }: Pick<ActivityDeps, 'aws'>) {
  return {
    /**
     * Waits (heartbeating) until the instance is `terminated`, at most
     * `maxWaitMs`, and reports its instance-seconds. An instance EC2 no longer
     * knows counts as terminated when it was looked for. An instance still
     * alive at the end of the wait is reported unobserved, counted up to then
     * (a lower bound; the janitor reaps it).
     */
    async observeInstanceTermination(req: TerminationWatchRequest): Promise<LegCost> {
      const wait = waitContext();
      const deadline = Date.now() + req.maxWaitMs;
      let delay = req.polling.initialMs;
      let launchedAt: Date | undefined;
      let instanceType = 'unknown';
      for (let attempt = 1; ; attempt++) {
        let state = 'unknown';
        try {
          const instance = await describeInstance(aws.ec2(req.region), req.instanceId);
          state = instance?.State?.Name ?? 'gone';
          launchedAt = instance?.LaunchTime ?? launchedAt;
          instanceType = instance?.InstanceType ?? instanceType;
        } catch (err) {
          if (awsErrorName(err) !== 'InvalidInstanceID.NotFound') throw err;
          state = 'gone';
        }
        const now = Date.now();
        const observed = state === 'terminated' || state === 'gone';
        if (observed || now >= deadline) {
          return cost(req, launchedAt ?? new Date(req.legEndedAt), instanceType, new Date(now), observed);
        }
        wait.heartbeat({ attempt, state });
        await wait.sleep(Math.min(delay, Math.max(0, deadline - now)));
        delay = Math.min(delay * 2, req.polling.maxMs);
      }
    },
  };
}

function cost(
  req: TerminationWatchRequest,
  launchedAt: Date,
  instanceType: string,
  end: Date,
  observed: boolean,
): LegCost {
  const instanceSeconds = Math.max(0, (end.getTime() - launchedAt.getTime()) / 1000);
  const leakedSeconds = Math.max(0, (end.getTime() - Date.parse(req.legEndedAt)) / 1000);
  return {
    instanceId: req.instanceId,
    instanceType,
    launchedAt: launchedAt.toISOString(),
    ...(observed ? { terminatedAt: end.toISOString() } : {}),
    terminationObserved: observed,
    instanceSeconds: Math.round(instanceSeconds * 1000) / 1000,
    leakedSeconds: Math.round(leakedSeconds * 1000) / 1000,
    ...(req.usdPerHour !== undefined
      ? { usdPerHour: req.usdPerHour, usd: usdFor(instanceSeconds, req.usdPerHour) }
      : {}),
  };
}
