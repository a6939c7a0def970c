import { Context } from '@temporalio/activity';
import type { WaitContext } from '../executors/types';

/** The running activity's cancellation-aware sleep and heartbeat, for executors and poll loops. */
export function waitContext(): WaitContext {
  const ctx = Context.current();
  return {
    sleep: (ms) => ctx.sleep(ms),
    heartbeat: (details) => ctx.heartbeat(details),
    signal: ctx.cancellationSignal,
  };
}
