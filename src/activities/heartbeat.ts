/**
 * Heartbeats for activities that are short but must not be lost with their
 * worker (cleanup, promotion, evidence): while one call is in flight (a slow
 * TerminateInstances, a cluster DELETE), the activity keeps heartbeating, so
 * a killed worker is noticed within one heartbeat timeout and the attempt
 * is retried on another worker, instead of only when the budget is gone.
 */
import { Context } from '@temporalio/activity';

/** A third of the heartbeat timeout (at most 5 s): two beats may be lost before Temporal gives up on the attempt. */
function beatInterval(): number {
  const timeout = Context.current().info.heartbeatTimeoutMs;
  return timeout ? Math.max(200, Math.min(5_000, Math.floor(timeout / 3))) : 5_000;
}

/** Runs `fn` as the current activity, heartbeating every few seconds until it settles. */
export async function whileHeartbeating<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), beatInterval());
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

type AsyncFn = (...args: never[]) => Promise<unknown>;

/** The same activities, those named heartbeating while they run. */
export function withHeartbeats<A extends Record<string, AsyncFn>>(
  activities: A,
  names: ReadonlyArray<keyof A>,
): A {
  const wrapped: Record<string, AsyncFn> = { ...activities };
  for (const name of names) {
    const fn = activities[name]!;
    wrapped[name as string] = (...args: never[]) => whileHeartbeating(() => fn(...args));
  }
  return wrapped as A;
}
