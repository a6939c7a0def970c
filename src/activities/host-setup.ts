/**
 * Host preparation (phase host_setup): the target's setup scripts
 * (ops/setup/<name>.sh), in order, on the leg's host through its executor,
 * before GPU detection. Returns what each script installed or found, with
 * versions, or fails with the catalogue code the script reported.
 *
 * A retried attempt skips the scripts an earlier attempt finished and follows
 * the command it left running (heartbeat details); the scripts are idempotent,
 * so running one again does no harm either.
 */
import { Context } from '@temporalio/activity';
import { CheckFailure, lastJsonLine, parseSetupResult } from '../checks/results';
import { buildSetupScript } from '../checks/scripts';
import type { ExecutorConfig } from '../config/schema';
import type { HostFacts, SetupScriptRun } from '../domain/run';
import type { HostRef } from '../executors/types';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';
import { waitContext } from './wait-context';

export interface HostSetupRequest {
  host: HostRef;
  executor: ExecutorConfig;
  /** Budget of all the scripts together (timeouts.hostSetup). */
  timeoutMs: number;
  polling: { initialMs: number; maxMs: number };
  /** Script names, in order (the target's `setup`). */
  scripts: string[];
}

interface SetupProgress {
  done: SetupScriptRun[];
  script?: string;
  commandId?: string;
}

export function hostSetupActivities({ executors }: Pick<ActivityDeps, 'executors'>) {
  return {
    async prepareHost(req: HostSetupRequest): Promise<HostFacts> {
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as SetupProgress | undefined;
      const progress: SetupProgress = { done: Array.isArray(resumed?.done) ? resumed.done : [] };
      const deadline = Date.now() + req.timeoutMs;
      const base = waitContext();
      // Executors heartbeat their own details; the setup's progress travels with them.
      const wait = {
        ...base,
        heartbeat: (details?: unknown) => ctx.heartbeat({ ...progress, ...(details as object | undefined) }),
      };
      const executor = executors.for(req.executor);

      for (const script of req.scripts) {
        if (progress.done.some((d) => d.script === script)) continue;
        progress.script = script;
        delete progress.commandId;
        const resumeCommandId = resumed?.script === script ? resumed.commandId : undefined;
        const timeoutMs = Math.max(1000, deadline - Date.now());
        const result = await executor.runScript(req.host, buildSetupScript(script), {
          name: `setup-${script}`,
          timeoutMs,
          wait,
          polling: req.polling,
          resumeCommandId,
          onStarted: (commandId) => {
            progress.commandId = commandId;
            ctx.heartbeat({ ...progress });
          },
        });
        const facts: HostFacts = { setup: [...progress.done] };
        if (result.status === 'timed_out') {
          throw activityFailure(
            'HOST_COMMAND_TIMEOUT',
            `setup script ${script} did not finish in ${Math.round(timeoutMs / 1000)}s; last output: ${tail(result.stdout + result.stderr)}`,
            undefined,
            { host: facts },
          );
        }
        if (result.status === 'failed') {
          try {
            lastJsonLine(result.stdout);
          } catch {
            throw activityFailure(
              'HOST_SETUP_FAILED',
              `setup script ${script} exited ${result.exitCode ?? 'abnormally'}: ${tail(result.stderr || result.stdout)}`,
              undefined,
              { host: facts },
            );
          }
        }
        try {
          const components = parseSetupResult(result.stdout, script);
          progress.done.push({ script, durationSeconds: result.durationMs / 1000, components });
          ctx.heartbeat({ ...progress });
        } catch (err) {
          if (err instanceof CheckFailure)
            throw activityFailure(err.code, `${script}: ${err.detail}`, undefined, { host: facts });
          throw err;
        }
      }
      return { setup: progress.done };
    },
  };
}

function tail(text: string, max = 600): string {
  const trimmed = text.trim();
  return trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed;
}
