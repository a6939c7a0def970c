/**
 * The environment's Temporal Schedules, derived from ops/invariants.yaml
 * (`schedules:` of the environment), and applying them idempotently:
 *
 *   sentinel-nightly-<env>  nightlyMatrixWorkflow, daily at `at` in `timezone`
 *   sentinel-janitor-<env>  janitorWorkflow, every `every`
 *
 * Both never start a run while their previous one is still running
 * (overlap SKIP), on top of the environment's lane. What a schedule should
 * be is fingerprinted into its action's memo, so `apply` can tell
 * "unchanged" from "updated" without comparing Temporal's normalised specs.
 */
import { createHash } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOptions,
  type ScheduleSpec,
} from '@temporalio/client';
import type { EnvironmentConfig } from '../config/schema';
import { formatDuration } from '../domain/duration';
import type { JanitorInput } from '../domain/janitor';
import { SCHEDULE_KINDS, scheduleId, type ScheduleKind } from '../temporal/definitions';
import type { NightlyInput } from '../workflows/nightly';

export const FINGERPRINT_MEMO = 'sentinelScheduleFingerprint';
export const OVERLAP = ScheduleOverlapPolicy.SKIP;

export interface DesiredSchedule {
  kind: ScheduleKind;
  scheduleId: string;
  /** One line for people: `daily 02:00 America/Los_Angeles, tag latest`. */
  summary: string;
  options: ScheduleOptions;
  fingerprint: string;
}

/** What the configuration asks for, one entry per configured schedule. */
export function desiredSchedules(
  environment: string,
  env: EnvironmentConfig,
  taskQueue: string,
): DesiredSchedule[] {
  const out: DesiredSchedule[] = [];
  const nightly = env.schedules?.nightly;
  if (nightly) {
    const [hour, minute] = nightly.at.split(':').map(Number) as [number, number];
    const args: [NightlyInput] = [{ environment }];
    out.push(
      desired(
        'nightly',
        environment,
        taskQueue,
        `daily ${nightly.at} ${nightly.timezone}, tag ${nightly.candidate.tag}`,
        {
          spec: {
            calendars: [{ hour, minute, comment: `nightly matrix of ${environment}` }],
            timezone: nightly.timezone,
          },
          workflowType: 'nightlyMatrixWorkflow',
          args,
          // The tag is read by the worker when the run starts; it is in the fingerprint so a changed tag shows as a change.
          extra: { tag: nightly.candidate.tag },
        },
      ),
    );
  }
  const janitor = env.schedules?.janitor;
  if (janitor) {
    const args: [JanitorInput] = [{ environment, dryRun: false }];
    out.push(
      desired('janitor', environment, taskQueue, `every ${formatDuration(janitor.every)}`, {
        spec: { intervals: [{ every: janitor.every }] },
        workflowType: 'janitorWorkflow',
        args,
      }),
    );
  }
  return out;
}

function desired(
  kind: ScheduleKind,
  environment: string,
  taskQueue: string,
  summary: string,
  what: { spec: ScheduleSpec; workflowType: string; args: unknown[]; extra?: Record<string, unknown> },
): DesiredSchedule {
  const id = scheduleId(kind, environment);
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify({
        id,
        spec: what.spec,
        workflowType: what.workflowType,
        args: what.args,
        taskQueue,
        overlap: OVERLAP,
        ...what.extra,
      }),
    )
    .digest('hex')
    .slice(0, 32);
  return {
    kind,
    scheduleId: id,
    summary,
    fingerprint,
    options: {
      scheduleId: id,
      spec: what.spec,
      action: {
        type: 'startWorkflow',
        workflowType: what.workflowType,
        args: what.args,
        taskQueue,
        // Temporal appends the scheduled time: sentinel-nightly-dev-2026-11-25T10:00:00Z.
        workflowId: id,
        memo: { [FINGERPRINT_MEMO]: fingerprint },
      },
      policies: { overlap: OVERLAP },
      state: { paused: false, note: `created by sentinel schedule apply: ${summary}` },
    },
  };
}

export type ApplyStatus = 'created' | 'updated' | 'unchanged' | 'deleted';

export interface ApplyOutcome {
  kind: ScheduleKind;
  scheduleId: string;
  status: ApplyStatus;
  summary: string;
  paused?: boolean;
}

/**
 * Creates what is missing, updates what differs (keeping a pause and its
 * note), leaves the rest alone, and deletes a Sentinel schedule of the
 * environment that the configuration no longer declares.
 */
export async function applySchedules(
  client: Client,
  environment: string,
  env: EnvironmentConfig,
  taskQueue: string,
): Promise<ApplyOutcome[]> {
  const wanted = desiredSchedules(environment, env, taskQueue);
  const outcomes: ApplyOutcome[] = [];
  for (const want of wanted) {
    let handle = client.schedule.getHandle(want.scheduleId);
    let current = await describeOrUndefined(handle);
    if (!current) {
      try {
        handle = await client.schedule.create(want.options);
        outcomes.push({
          kind: want.kind,
          scheduleId: want.scheduleId,
          status: 'created',
          summary: want.summary,
          paused: false,
        });
        continue;
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        current = await handle.describe(); // created meanwhile by another apply: compare with it
      }
    }
    if (fingerprintOf(current) === want.fingerprint) {
      outcomes.push({
        kind: want.kind,
        scheduleId: want.scheduleId,
        status: 'unchanged',
        summary: want.summary,
        paused: current.state.paused,
      });
      continue;
    }
    await handle.update((previous) => ({
      spec: want.options.spec,
      action: want.options.action,
      policies: want.options.policies ?? {},
      state: { paused: previous.state.paused, ...(previous.state.note ? { note: previous.state.note } : {}) },
    }));
    outcomes.push({
      kind: want.kind,
      scheduleId: want.scheduleId,
      status: 'updated',
      summary: want.summary,
      paused: current.state.paused,
    });
  }
  for (const kind of SCHEDULE_KINDS) {
    if (wanted.some((w) => w.kind === kind)) continue;
    const handle = client.schedule.getHandle(scheduleId(kind, environment));
    if (!(await describeOrUndefined(handle))) continue;
    await handle.delete();
    outcomes.push({
      kind,
      scheduleId: handle.scheduleId,
      status: 'deleted',
      summary: `no longer in the configuration`,
    });
  }
  return outcomes;
}

export function fingerprintOf(description: ScheduleDescription): string | undefined {
  const memo = description.action.type === 'startWorkflow' ? description.action.memo : undefined;
  const value = memo?.[FINGERPRINT_MEMO];
  return typeof value === 'string' ? value : undefined;
}

export async function describeOrUndefined(handle: ScheduleHandle): Promise<ScheduleDescription | undefined> {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/** The environment's Sentinel schedules that exist now, with what the configuration says of each. */
export interface ScheduleStatus {
  kind: ScheduleKind;
  scheduleId: string;
  configured: boolean;
  /** Configured but differing from the configuration (run `apply`). */
  drift: boolean;
  summary?: string;
  description?: ScheduleDescription;
}

export async function scheduleStatuses(
  client: Client,
  environment: string,
  env: EnvironmentConfig,
  taskQueue: string,
): Promise<ScheduleStatus[]> {
  const wanted = desiredSchedules(environment, env, taskQueue);
  return Promise.all(
    SCHEDULE_KINDS.map(async (kind): Promise<ScheduleStatus> => {
      const id = scheduleId(kind, environment);
      const want = wanted.find((w) => w.kind === kind);
      const description = await describeOrUndefined(client.schedule.getHandle(id));
      return {
        kind,
        scheduleId: id,
        configured: Boolean(want),
        drift: Boolean(want && description && fingerprintOf(description) !== want.fingerprint),
        ...(want ? { summary: want.summary } : {}),
        ...(description ? { description } : {}),
      };
    }),
  );
}
