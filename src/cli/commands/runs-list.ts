/**
 * `sentinel runs list`: the runs newest first, read from Temporal visibility
 * through the search attributes the workflows set (src/temporal/definitions.ts).
 * A run's legs are its child workflows `<run workflow id>--<target>`.
 */
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { formatDuration, parseDuration } from '../../domain/duration';
import type { MatrixRunInput } from '../../domain/run';
import { SEARCH_ATTRIBUTES } from '../../temporal/definitions';
import type { TemporalContext } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import type { Printer } from '../output';
import { withRunsContext, type RunsOptions } from './runs-context';
import { RUN_WORKFLOW_TYPE } from './runs-lookup';

const LEG_WORKFLOW_TYPE = 'hardwareLegWorkflow';
const DEFAULT_LIMIT = 20;

export interface RunRow {
  workflowId: string;
  runId: string;
  environment: string;
  candidateDigest: string;
  trigger: string;
  verdict: string;
  status: string;
  startedAt: string;
  closedAt?: string;
  durationSeconds: number;
  targets: Array<{ target: string; outcome: string }>;
}

export interface ListFilters {
  sinceMs?: number;
  limit: number;
}

/** Options checked before anything is asked of Temporal: a typo is named, not silently ignored. */
export function listFilters(options: RunsOptions): ListFilters {
  let sinceMs: number | undefined;
  if (options.since !== undefined) {
    sinceMs = parseDuration(options.since);
    if (sinceMs === undefined || sinceMs === 0) {
      throw new CliError(
        EXIT.REFUSED,
        `--since ${JSON.stringify(options.since)} is not an age: give a number and a unit (m, h or d), e.g. --since 30m, --since 12h, --since 7d`,
      );
    }
  }
  let limit = DEFAULT_LIMIT;
  if (options.limit !== undefined) {
    if (!/^[1-9]\d{0,4}$/.test(options.limit))
      throw new CliError(
        EXIT.REFUSED,
        `--limit ${JSON.stringify(options.limit)} is not a count: give a whole number from 1 to 99999`,
      );
    limit = Number(options.limit);
  }
  return { ...(sinceMs !== undefined ? { sinceMs } : {}), limit };
}

export async function listRuns(options: RunsOptions, printer: Printer): Promise<ExitCode> {
  const filters = listFilters(options);
  return withRunsContext(options, async (temporal) => {
    const rows = await runRows(temporal, options, filters);
    if (rows.length === 0) printer.info('no runs match');
    for (const row of rows) printer.info(formatRow(row));
    printer.json({ runs: rows });
    return EXIT.PASSED;
  });
}

function quoted(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export async function runRows(
  temporal: TemporalContext,
  options: RunsOptions,
  filters: ListFilters,
): Promise<RunRow[]> {
  const since = filters.sinceMs !== undefined ? new Date(Date.now() - filters.sinceMs) : undefined;
  const clauses = [`WorkflowType = ${quoted(RUN_WORKFLOW_TYPE)}`];
  if (options.env !== undefined)
    clauses.push(`${SEARCH_ATTRIBUTES.environment.name} = ${quoted(options.env)}`);
  if (options.verdict !== undefined)
    clauses.push(`${SEARCH_ATTRIBUTES.verdict.name} = ${quoted(options.verdict)}`);
  if (since) clauses.push(`StartTime >= ${quoted(since.toISOString())}`);
  const runs: WorkflowExecutionInfo[] = [];
  for await (const info of temporal.client.workflow.list({ query: clauses.join(' AND ') })) runs.push(info);
  // Visibility stores need not order by start time: newest first is done here.
  runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
  const shown = runs.slice(0, filters.limit);
  if (shown.length === 0) return [];

  const oldest = shown[shown.length - 1]!.startTime;
  const legClauses = [
    `WorkflowType = ${quoted(LEG_WORKFLOW_TYPE)}`,
    `StartTime >= ${quoted(oldest.toISOString())}`,
  ];
  if (options.env !== undefined)
    legClauses.push(`${SEARCH_ATTRIBUTES.environment.name} = ${quoted(options.env)}`);
  const legs: WorkflowExecutionInfo[] = [];
  for await (const info of temporal.client.workflow.list({ query: legClauses.join(' AND ') }))
    legs.push(info);

  return Promise.all(
    shown.map(async (info): Promise<RunRow> => {
      const attrs = info.typedSearchAttributes;
      const closed = info.closeTime ?? undefined;
      const targets = legs
        .filter((leg) => {
          const target = leg.typedSearchAttributes.get(SEARCH_ATTRIBUTES.target);
          return target !== undefined && leg.workflowId === `${info.workflowId}--${target}`;
        })
        .map((leg) => ({
          target: leg.typedSearchAttributes.get(SEARCH_ATTRIBUTES.target)!,
          outcome: outcomeOf(leg),
        }))
        .sort((a, b) => a.target.localeCompare(b.target));
      return {
        workflowId: info.workflowId,
        runId: info.runId,
        environment: attrs.get(SEARCH_ATTRIBUTES.environment) ?? '?',
        candidateDigest: attrs.get(SEARCH_ATTRIBUTES.candidateDigest) ?? '?',
        trigger: (await triggerOf(temporal, info)) ?? '?',
        verdict: outcomeOf(info),
        status: info.status.name.toLowerCase(),
        startedAt: info.startTime.toISOString(),
        ...(closed ? { closedAt: closed.toISOString() } : {}),
        durationSeconds: ((closed ?? new Date()).getTime() - info.startTime.getTime()) / 1000,
        targets,
      };
    }),
  );
}

/** The verdict the workflow recorded; a workflow that closed without one (terminated, timed out) says how it closed. */
function outcomeOf(info: WorkflowExecutionInfo): string {
  const verdict = info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.verdict);
  if (info.status.name === 'RUNNING') return 'running';
  if (verdict && verdict !== 'running') return verdict;
  return info.status.name.toLowerCase();
}

/** Who started the run (cli, ci, schedule): it is in the run's input, the first event of its history. */
async function triggerOf(
  temporal: TemporalContext,
  info: WorkflowExecutionInfo,
): Promise<string | undefined> {
  try {
    const page = await temporal.client.workflowService.getWorkflowExecutionHistory({
      namespace: temporal.settings.namespace,
      execution: { workflowId: info.workflowId, runId: info.runId },
      maximumPageSize: 1,
    });
    const payload = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (!payload) return undefined;
    return defaultPayloadConverter.fromPayload<MatrixRunInput>(payload).trigger;
  } catch {
    return undefined; // shown as '?': the rest of the row still stands
  }
}

export function shortDigest(digest: string): string {
  return digest.startsWith('sha256:') ? digest.slice(7, 19) : digest.slice(0, 12);
}

function formatRow(row: RunRow): string {
  const targets = row.targets.map((t) => `${t.target}=${t.outcome}`).join(' ') || '-';
  const started = row.startedAt.replace('T', ' ').slice(0, 19);
  return [
    started,
    row.environment.padEnd(12),
    shortDigest(row.candidateDigest).padEnd(12),
    row.trigger.padEnd(8),
    row.verdict.padEnd(18),
    formatDuration(row.durationSeconds * 1000).padStart(7),
    targets,
    ` ${row.workflowId}`,
  ].join('  ');
}
