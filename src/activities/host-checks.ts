/**
 * Checks run on the leg's host through its executor: GPU detection and the
 * container runtime. Each returns the facts it found or fails with the
 * catalogue code of what is wrong.
 */
import { Context } from '@temporalio/activity';
import { buildCheckScript, type CheckName } from '../checks/scripts';
import { CheckFailure, judgeGpu, lastJsonLine, parseGpuFacts, parseRuntimeFacts } from '../checks/results';
import type { ExecutorConfig, TargetConfig, Vendor } from '../config/schema';
import type { GpuFacts, RuntimeFacts } from '../domain/run';
import type { Executors } from '../executors';
import type { HostRef } from '../executors/types';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';
import { waitContext } from './wait-context';

export interface HostCheckRequest {
  host: HostRef;
  executor: ExecutorConfig;
  timeoutMs: number;
  polling: { initialMs: number; maxMs: number };
}

export interface GpuCheckRequest extends HostCheckRequest {
  target: Pick<TargetConfig, 'name' | 'gpu'>;
}

export interface RuntimeCheckRequest extends HostCheckRequest {
  vendor: Vendor;
}

/** Runs one check script on the host and returns its stdout; a retried attempt resumes the same command while it still runs. */
export async function runCheckOnHost(
  executors: Executors,
  req: HostCheckRequest,
  check: CheckName,
  inputs: Record<string, string> = {},
  /** Values that must stay out of the command and every process's arguments (RunScriptOptions.secrets). */
  secrets?: Record<string, string>,
): Promise<string> {
  const ctx = Context.current();
  const resumed = ctx.info.heartbeatDetails as { commandId?: string } | undefined;
  const result = await executors.for(req.executor).runScript(req.host, buildCheckScript(check, inputs), {
    name: check,
    timeoutMs: req.timeoutMs,
    wait: waitContext(),
    polling: req.polling,
    resumeCommandId: resumed?.commandId,
    onStarted: (commandId) => ctx.heartbeat({ commandId }),
    ...(secrets ? { secrets } : {}),
  });
  if (result.status === 'timed_out') {
    throw activityFailure(
      'HOST_COMMAND_TIMEOUT',
      `${check} did not finish in ${Math.round(req.timeoutMs / 1000)}s; last output: ${tail(result.stdout + result.stderr)}`,
    );
  }
  if (result.status === 'failed') {
    // A check that printed its JSON line still speaks for itself; anything else is a broken run.
    try {
      lastJsonLine(result.stdout);
    } catch {
      throw activityFailure(
        'HOST_COMMAND_FAILED',
        `${check} exited ${result.exitCode ?? 'abnormally'}: ${tail(result.stderr || result.stdout)}`,
      );
    }
  }
  return result.stdout;
}

function tail(text: string, max = 600): string {
  const trimmed = text.trim();
  return trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed;
}

/** CheckFailure (from parsing or judging) becomes the activity failure of its code, carrying the facts found. */
export function asActivityFailure(err: unknown, facts?: unknown): unknown {
  return err instanceof CheckFailure ? activityFailure(err.code, err.detail, undefined, facts) : err;
}

export function hostCheckActivities({ executors }: Pick<ActivityDeps, 'executors'>) {
  return {
    async detectGpu(req: GpuCheckRequest): Promise<GpuFacts> {
      const stdout = await runCheckOnHost(executors, req, 'gpu-detect');
      let facts: GpuFacts | undefined;
      try {
        facts = parseGpuFacts(stdout);
        judgeGpu(facts, req.target);
        return facts;
      } catch (err) {
        throw asActivityFailure(err, facts === undefined ? undefined : { gpu: facts });
      }
    },

    async checkContainerRuntime(req: RuntimeCheckRequest): Promise<RuntimeFacts> {
      const stdout = await runCheckOnHost(executors, req, 'container-runtime', {
        RADIX_GPU_VENDOR: req.vendor,
      });
      try {
        return parseRuntimeFacts(stdout);
      } catch (err) {
        throw asActivityFailure(err);
      }
    },
  };
}
