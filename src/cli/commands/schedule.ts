/**
 * `sentinel schedule apply|list|pause|unpause|trigger|delete --env <env>`:
 * the environment's Temporal Schedules (nightly matrix, janitor), as
 * declared under `schedules:` in ops/invariants.yaml.
 */
import type { ScheduleDescription } from '@temporalio/client';
import { Command, Option } from 'commander';
import type { EnvironmentConfig } from '../../config/schema';
import {
  applySchedules,
  describeOrUndefined,
  OVERLAP,
  scheduleStatuses,
  type ScheduleStatus,
} from '../../schedules/schedules';
import { SCHEDULE_KINDS, scheduleId, type ScheduleKind } from '../../temporal/definitions';
import {
  connectTemporal,
  environmentFrom,
  loadConfig,
  workflowUrl,
  type GlobalOptions,
  type TemporalContext,
} from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import type { Printer } from '../output';

export interface ScheduleOptions extends GlobalOptions {
  env: string;
  schedule?: ScheduleKind;
  reason?: string;
}

/** How long `trigger` watches the schedule for the run it started (or skipped). */
const TRIGGER_WATCH_MS = 15_000;

export function scheduleCommand(printer: Printer): Command {
  const schedule = new Command('schedule').description(
    "the environment's Temporal Schedules: nightly matrix run and janitor (ops/invariants.yaml schedules:)",
  );
  const which = (fallback?: string) =>
    new Option(
      '--schedule <name>',
      `nightly or janitor${fallback ? ` (default: ${fallback})` : ' (default: both)'}`,
    ).choices([...SCHEDULE_KINDS]);
  const env = '--env <env>';
  const envHelp = 'environment of ops/invariants.yaml';
  const action =
    (body: (options: ScheduleOptions, printer: Printer) => Promise<ExitCode>) =>
    async (options: ScheduleOptions, command: Command) => {
      process.exitCode = await body({ ...command.optsWithGlobals<ScheduleOptions>(), ...options }, printer);
    };

  schedule
    .command('apply')
    .description(
      'create or update the schedules from the configuration (idempotent); delete those it no longer declares',
    )
    .requiredOption(env, envHelp)
    .action(action(applyCommand));
  schedule
    .command('list')
    .description('show the schedules, their state, next and recent runs')
    .requiredOption(env, envHelp)
    .action(action(listCommand));
  schedule
    .command('pause')
    .description('stop a schedule from starting runs (a running run goes on)')
    .requiredOption(env, envHelp)
    .addOption(which())
    .option('--reason <text>', 'note kept on the schedule, shown by list')
    .action(action((o, p) => pauseCommand(o, p, true)));
  schedule
    .command('unpause')
    .description('let a paused schedule start runs again')
    .requiredOption(env, envHelp)
    .addOption(which())
    .option('--reason <text>', 'note kept on the schedule, shown by list')
    .action(action((o, p) => pauseCommand(o, p, false)));
  schedule
    .command('trigger')
    .description("start the schedule's run now (skipped while its previous run is still running)")
    .requiredOption(env, envHelp)
    .addOption(which('nightly'))
    .action(action(triggerCommand));
  schedule
    .command('delete')
    .description('delete the schedules (runs already started go on); apply creates them again')
    .requiredOption(env, envHelp)
    .addOption(which())
    .action(action(deleteCommand));
  // Errors of a subcommand's options come back as CommanderError (exit 2), like the top-level commands'.
  schedule.commands.forEach((c) => c.exitOverride());
  return schedule;
}

async function withTemporal<T>(
  options: ScheduleOptions,
  body: (ctx: TemporalContext, env: EnvironmentConfig) => Promise<T>,
): Promise<T> {
  const invariants = loadConfig(options);
  const env = environmentFrom(invariants, options.env);
  const temporal = await connectTemporal(invariants);
  try {
    return await body(temporal, env);
  } finally {
    await temporal.close();
  }
}

async function applyCommand(options: ScheduleOptions, printer: Printer): Promise<ExitCode> {
  return withTemporal(options, async (temporal, env) => {
    if (!env.schedules?.nightly && !env.schedules?.janitor) {
      printer.info(
        `environment ${options.env} declares no schedules (schedules.nightly, schedules.janitor in ops/invariants.yaml)`,
      );
    }
    const outcomes = await applySchedules(temporal.client, options.env, env, temporal.taskQueue);
    for (const o of outcomes) {
      printer.info(
        `${o.status.padEnd(9)} ${o.scheduleId.padEnd(34)} ${o.summary}${o.paused ? ' (paused; left paused)' : ''}`,
      );
    }
    printer.json({ environment: options.env, schedules: outcomes });
    return EXIT.PASSED;
  });
}

async function listCommand(options: ScheduleOptions, printer: Printer): Promise<ExitCode> {
  return withTemporal(options, async (temporal, env) => {
    const statuses = await scheduleStatuses(temporal.client, options.env, env, temporal.taskQueue);
    for (const s of statuses) printStatus(printer, s, temporal);
    printer.json({ environment: options.env, schedules: statuses.map(statusJson) });
    return EXIT.PASSED;
  });
}

function printStatus(printer: Printer, s: ScheduleStatus, temporal: TemporalContext): void {
  const d = s.description;
  if (!d) {
    printer.info(
      `${s.scheduleId}: ${s.configured ? `not created (configured: ${s.summary}); run sentinel schedule apply` : 'not configured'}`,
    );
    return;
  }
  const state = d.state.paused ? `PAUSED${d.state.note ? ` (${d.state.note})` : ''}` : 'active';
  printer.info(
    `${s.scheduleId}: ${s.summary ?? 'not in the configuration any more (apply deletes it)'}, ${state}`,
  );
  if (s.drift) printer.info('  differs from ops/invariants.yaml: run sentinel schedule apply');
  const next = d.info.nextActionTimes[0];
  if (next && !d.state.paused) printer.info(`  next run:   ${next.toISOString()}`);
  for (const r of d.info.runningActions) printer.info(`  running:    ${r.workflow.workflowId}`);
  const recent = [...d.info.recentActions]
    .sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime())
    .slice(0, 5);
  for (const r of recent) {
    const url = workflowUrl(temporal, r.action.workflow.workflowId);
    printer.info(
      `  recent:     ${r.takenAt.toISOString()} ${r.action.workflow.workflowId}${url ? ` ${url}` : ''}`,
    );
  }
  printer.info(
    `  runs taken ${d.info.numActionsTaken}, skipped while one ran ${d.info.numActionsSkippedOverlap}, missed ${d.info.numActionsMissedCatchupWindow}`,
  );
}

function statusJson(s: ScheduleStatus) {
  const d = s.description;
  return {
    kind: s.kind,
    scheduleId: s.scheduleId,
    configured: s.configured,
    exists: Boolean(d),
    drift: s.drift,
    ...(s.summary ? { summary: s.summary } : {}),
    ...(d
      ? {
          paused: d.state.paused,
          ...(d.state.note ? { note: d.state.note } : {}),
          overlap: d.policies.overlap,
          spec: d.spec,
          nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
          runningActions: d.info.runningActions.map((r) => r.workflow.workflowId),
          recentActions: d.info.recentActions.map((r) => ({
            takenAt: r.takenAt.toISOString(),
            workflowId: r.action.workflow.workflowId,
          })),
          numActionsTaken: d.info.numActionsTaken,
          numActionsSkippedOverlap: d.info.numActionsSkippedOverlap,
        }
      : {}),
  };
}

/** The named schedule, or every schedule of the environment that exists; NOT_FOUND when there is none. */
async function existingSchedules(
  temporal: TemporalContext,
  options: ScheduleOptions,
): Promise<Array<{ id: string; description: ScheduleDescription }>> {
  const kinds = options.schedule ? [options.schedule] : SCHEDULE_KINDS;
  const found: Array<{ id: string; description: ScheduleDescription }> = [];
  for (const kind of kinds) {
    const id = scheduleId(kind, options.env);
    const description = await describeOrUndefined(temporal.client.schedule.getHandle(id));
    if (description) found.push({ id, description });
  }
  if (found.length === 0) {
    throw new CliError(
      EXIT.NOT_FOUND,
      `no ${options.schedule ? `${options.schedule} schedule` : 'schedule'} of environment ${options.env} exists (${kinds.map((k) => scheduleId(k, options.env)).join(', ')}); create it with sentinel schedule apply --env ${options.env}`,
    );
  }
  return found;
}

async function pauseCommand(options: ScheduleOptions, printer: Printer, pause: boolean): Promise<ExitCode> {
  return withTemporal(options, async (temporal) => {
    const found = await existingSchedules(temporal, options);
    const note =
      options.reason ??
      `${pause ? 'paused' : 'unpaused'} with sentinel schedule ${pause ? 'pause' : 'unpause'}`;
    for (const { id, description } of found) {
      const handle = temporal.client.schedule.getHandle(id);
      if (pause) await handle.pause(note);
      else await handle.unpause(note);
      printer.info(
        `${pause ? 'paused  ' : 'unpaused'} ${id}${description.state.paused === pause ? ' (it already was)' : ''}: ${note}`,
      );
    }
    printer.json({ environment: options.env, [pause ? 'paused' : 'unpaused']: found.map((f) => f.id), note });
    return EXIT.PASSED;
  });
}

async function triggerCommand(options: ScheduleOptions, printer: Printer): Promise<ExitCode> {
  const kind = options.schedule ?? 'nightly';
  return withTemporal(options, async (temporal) => {
    const [{ id, description: before }] = (await existingSchedules(temporal, {
      ...options,
      schedule: kind,
    })) as [{ id: string; description: ScheduleDescription }];
    const handle = temporal.client.schedule.getHandle(id);
    // The SDK's trigger defaults to ALLOW_ALL; the schedule's own policy is what an operator expects.
    await handle.trigger(OVERLAP);
    const deadline = Date.now() + TRIGGER_WATCH_MS;
    while (Date.now() < deadline) {
      const now = await handle.describe();
      if (now.info.numActionsTaken > before.info.numActionsTaken) {
        const started = [...now.info.recentActions].sort(
          (a, b) => b.takenAt.getTime() - a.takenAt.getTime(),
        )[0];
        const workflowId = started?.action.workflow.workflowId;
        const url = workflowId ? workflowUrl(temporal, workflowId) : undefined;
        printer.info(`triggered ${id}: started ${workflowId ?? '(a run)'}`);
        if (url) printer.info(`web ui: ${url}`);
        printer.json({
          scheduleId: id,
          status: 'started',
          ...(workflowId ? { workflowId } : {}),
          ...(url ? { url } : {}),
        });
        return EXIT.PASSED;
      }
      if (now.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap) {
        const running = now.info.runningActions.map((r) => r.workflow.workflowId);
        printer.json({ scheduleId: id, status: 'skipped', running });
        throw new CliError(
          EXIT.LANE_BUSY,
          `trigger of ${id} skipped: its previous run ${running.join(', ') || ''} is still running (overlap policy: skip)`,
          ['wait for it to finish (sentinel schedule list shows it), then trigger again'],
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    printer.info(
      `triggered ${id}; the run it starts is not visible yet (sentinel schedule list --env ${options.env} shows it)`,
    );
    printer.json({ scheduleId: id, status: 'triggered' });
    return EXIT.PASSED;
  });
}

async function deleteCommand(options: ScheduleOptions, printer: Printer): Promise<ExitCode> {
  return withTemporal(options, async (temporal) => {
    const found = await existingSchedules(temporal, options);
    for (const { id } of found) {
      await temporal.client.schedule.getHandle(id).delete();
      printer.info(`deleted ${id} (runs it started go on; sentinel schedule apply creates it again)`);
    }
    printer.json({ environment: options.env, deleted: found.map((f) => f.id) });
    return EXIT.PASSED;
  });
}
