/**
 * The capacity sweep of one leg: RunInstances over the (instance type,
 * subnet) pairs preflight found, in order, until one launches.
 *
 * - InsufficientInstanceCapacity, Unsupported and InstanceLimitExceeded move
 *   on to the next pair.
 * - RequestLimitExceeded is a throttle: the same pair is tried again after an
 *   exponential backoff (heartbeating), never the next one.
 * - Anything else ends the sweep; the caller classifies it.
 *
 * A leg never owns two machines: each pair has its own ClientToken, stable
 * across retries, and the activity's heartbeat carries the pair in flight and
 * the attempts so far, so a retried activity (a worker that died mid-sweep)
 * resumes at that pair, where EC2 answers a repeated token with the instance
 * it already launched, instead of starting over at pairs that may have
 * capacity by now; the pairs before it follow. The leg tag lookup before
 * the sweep covers every pair.
 */
import type { EC2Client, Instance, RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { Context } from '@temporalio/activity';
import { awsErrorName } from '../aws/errors';
import {
  SWEEP_ERRORS,
  THROTTLE_ERROR,
  describeOption,
  type PlacementAttempt,
  type PlacementOption,
} from '../domain/placement';

export interface SweepRequest {
  ec2: EC2Client;
  options: PlacementOption[];
  /** The RunInstances input for one pair (ClientToken and network included). */
  input: (option: PlacementOption) => RunInstancesCommandInput;
  /** Backoff of a throttled call: first wait, and the cap it doubles up to. */
  throttle: { initialMs: number; maxMs: number };
}

export type SweepOutcome =
  | { launched: Instance; option: PlacementOption; attempts: PlacementAttempt[] }
  | { exhausted: true; attempts: PlacementAttempt[] };

/** What the heartbeat carries between attempts of the activity. */
interface SweepCheckpoint {
  sweep: { index: number; attempts: PlacementAttempt[] };
}

/** Thrown when a pair fails with an error that is neither capacity nor throttle; carries the attempts so far. */
export class SweepStopped extends Error {
  constructor(
    readonly error: unknown,
    readonly option: PlacementOption,
    readonly attempts: PlacementAttempt[],
  ) {
    super(`RunInstances ${describeOption(option)}: stopped the sweep`);
    this.name = 'SweepStopped';
  }
}

export async function sweepCapacity(req: SweepRequest): Promise<SweepOutcome> {
  const ctx = Context.current();
  const checkpoint = (ctx.info.heartbeatDetails as SweepCheckpoint | undefined)?.sweep;
  const attempts: PlacementAttempt[] = [...(checkpoint?.attempts ?? [])];
  const start = checkpoint && checkpoint.index < req.options.length ? checkpoint.index : 0;

  // From the pair in flight to the end, then the pairs before it (a retry after an exhausted sweep goes round again).
  const order = [...req.options.keys()].map((i) => (start + i) % req.options.length);
  for (const index of order) {
    const option = req.options[index]!;
    let wait = req.throttle.initialMs;
    for (;;) {
      ctx.heartbeat({ sweep: { index, attempts } } satisfies SweepCheckpoint);
      const at = new Date().toISOString();
      try {
        const out = await req.ec2.send(new RunInstancesCommand(req.input(option)), {
          abortSignal: ctx.cancellationSignal,
        });
        const instance = out.Instances?.[0];
        if (!instance?.InstanceId)
          throw Object.assign(new Error('RunInstances returned no instance'), { name: 'NoInstanceReturned' });
        attempts.push({ ...attemptOf(option, 'launched', at), instanceId: instance.InstanceId });
        return { launched: instance, option, attempts };
      } catch (err) {
        const code = awsErrorName(err);
        if (code === THROTTLE_ERROR) {
          attempts.push(attemptOf(option, code, at));
          ctx.heartbeat({ sweep: { index, attempts } } satisfies SweepCheckpoint);
          await ctx.sleep(wait);
          wait = Math.min(wait * 2, req.throttle.maxMs);
          continue;
        }
        if ((SWEEP_ERRORS as readonly string[]).includes(code)) {
          attempts.push(attemptOf(option, code, at));
          break;
        }
        attempts.push(attemptOf(option, code, at));
        ctx.heartbeat({ sweep: { index, attempts } } satisfies SweepCheckpoint);
        throw new SweepStopped(err, option, attempts);
      }
    }
  }
  return { exhausted: true, attempts };
}

/**
 * The attempts of a retried activity that found the leg's machine by its tag
 * (an earlier attempt launched it but never reported it): the earlier
 * attempts its heartbeat carried, then the machine as found.
 */
export function attemptsEndingInFound(instance: Instance): PlacementAttempt[] {
  const earlier =
    (Context.current().info.heartbeatDetails as SweepCheckpoint | undefined)?.sweep?.attempts ?? [];
  return [
    ...earlier,
    {
      instanceType: instance.InstanceType ?? 'unknown',
      ...(instance.SubnetId ? { subnetId: instance.SubnetId } : {}),
      ...(instance.Placement?.AvailabilityZone
        ? { availabilityZone: instance.Placement.AvailabilityZone }
        : {}),
      result: 'found_by_leg_tag',
      at: new Date().toISOString(),
      ...(instance.InstanceId ? { instanceId: instance.InstanceId } : {}),
    },
  ];
}

function attemptOf(option: PlacementOption, result: string, at: string): PlacementAttempt {
  return {
    instanceType: option.instanceType,
    ...(option.subnetId ? { subnetId: option.subnetId } : {}),
    ...(option.availabilityZone ? { availabilityZone: option.availabilityZone } : {}),
    result,
    at,
  };
}
