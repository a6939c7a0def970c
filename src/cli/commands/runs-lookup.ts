/**
 * Finding one run and what it left: its description, its result once it has
 * closed, its evidence pack, and the cancel request (with its reason) in its
 * history.
 */
import {
  WorkflowFailedError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { AwsClients } from '../../aws/clients';
import type { LoadedInvariants } from '../../config/load';
import type { EvidenceRecord } from '../../domain/evidence';
import type { MatrixRunResult } from '../../domain/run';
import type { gpuMatrixWorkflow } from '../../workflows';
import { runWorkflowId } from '../../temporal/definitions';
import type { TemporalContext } from '../context';
import { CliError, EXIT } from '../exit-codes';
import { firstLine } from '../failure-cause';
import { readEvidenceRecord } from '../junit';

export const RUN_WORKFLOW_TYPE = 'gpuMatrixWorkflow';

export interface FoundRun {
  handle: WorkflowHandle<typeof gpuMatrixWorkflow>;
  description: WorkflowExecutionDescription;
  running: boolean;
}

/** `<run>` is a run's workflow id (sentinel-run-<env>-<run id>), or its run id when --env names the environment. */
export async function findRun(
  temporal: TemporalContext,
  run: string,
  environment?: string,
): Promise<FoundRun> {
  const candidates = [
    run,
    ...(environment !== undefined && !run.startsWith('sentinel-run-')
      ? [runWorkflowId(environment, run)]
      : []),
  ];
  for (const workflowId of candidates.reverse()) {
    const handle = temporal.client.workflow.getHandle<typeof gpuMatrixWorkflow>(workflowId);
    let description: WorkflowExecutionDescription;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) continue;
      throw new CliError(
        EXIT.TEMPORAL_UNREACHABLE,
        `cannot describe ${workflowId} at ${temporal.settings.address}: ${firstLine(err)}`,
      );
    }
    if (description.type !== RUN_WORKFLOW_TYPE) {
      throw new CliError(
        EXIT.REFUSED,
        `${workflowId} is a ${description.type}, not a matrix run: sentinel runs list shows the runs`,
      );
    }
    return {
      handle: temporal.client.workflow.getHandle(workflowId, description.runId),
      description,
      running: description.status.name === 'RUNNING',
    };
  }
  throw new CliError(
    EXIT.NOT_FOUND,
    `no run ${JSON.stringify(run)}${environment ? ` in environment ${environment}` : ''} in namespace ${temporal.settings.namespace} at ${temporal.settings.address}: ` +
      'name it by its workflow id (sentinel-run-<env>-<run id>) or pass --env with its run id; sentinel runs list shows the runs',
  );
}

/** The closed run's result, or why it has none (failed, terminated, timed out). */
export async function closedResult(found: FoundRun): Promise<{ result?: MatrixRunResult; problem?: string }> {
  try {
    return { result: await found.handle.result() };
  } catch (err) {
    const detail = err instanceof WorkflowFailedError ? firstLine(err.cause ?? err) : firstLine(err);
    return {
      problem: `${found.description.status.name.toLowerCase().replace(/_/g, ' ')} without a verdict: ${detail}`,
    };
  }
}

/** The run's evidence pack (a local file or an S3 object), or a warning saying why it could not be read. */
export async function readEvidencePack(
  result: MatrixRunResult,
  invariants: LoadedInvariants,
): Promise<{ evidence?: EvidenceRecord; warning?: string }> {
  if (!result.evidence) return { warning: 'the run wrote no evidence pack' };
  const where = result.evidence.json;
  try {
    const region =
      invariants.environments[result.environment]?.awsRegion ?? process.env.AWS_REGION ?? 'us-east-1';
    return { evidence: await readEvidenceRecord(where, region, new AwsClients()) };
  } catch (err) {
    return {
      warning: `cannot read the evidence pack ${where}: ${firstLine(err)}; showing the run's result instead`,
    };
  }
}

export interface CancelRequest {
  at: string;
  reason?: string;
  identity?: string;
}

/** The cancel request in the run's history: who asked, and why (`sentinel runs cancel --reason`). */
export async function cancelRequestOf(found: FoundRun): Promise<CancelRequest | undefined> {
  const history = await found.handle.fetchHistory();
  for (const event of history.events ?? []) {
    const attrs = event.workflowExecutionCancelRequestedEventAttributes;
    if (!attrs) continue;
    const seconds = Number(event.eventTime?.seconds ?? 0);
    return {
      at: new Date(seconds * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6)).toISOString(),
      ...(attrs.cause ? { reason: attrs.cause } : {}),
      ...(attrs.identity ? { identity: attrs.identity } : {}),
    };
  }
  return undefined;
}
