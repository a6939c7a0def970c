/** Starting and awaiting matrix runs through a real Temporal client. */
import { Client, Connection } from '@temporalio/client';
import { readFileSync } from 'node:fs';
import type { EvidenceRecord } from '../../src/domain/evidence';
import type { MatrixRunInput, MatrixRunResult } from '../../src/domain/run';
import type { gpuMatrixWorkflow } from '../../src/workflows';
import { legProgressQuery, legWorkflowId, runWorkflowId } from '../../src/temporal/definitions';
import { loadTemporalConfig } from '../../src/temporal/connection';
import { eventually } from './wait';
import { sharedStack } from './stack';
import type { TestEnvironment } from './invariants';

let client: Promise<Client> | undefined;

export function temporalClient(): Promise<Client> {
  client ??= (async () => {
    const stack = await sharedStack();
    const temporal = loadTemporalConfig(stack.env);
    return new Client({
      connection: await Connection.connect(temporal.connectionOptions),
      namespace: temporal.namespace,
    });
  })();
  return client;
}

let runCounter = 0;

export async function startRun(env: TestEnvironment, input: Partial<MatrixRunInput> & { candidate: string }) {
  const c = await temporalClient();
  runCounter += 1;
  const ciRunId = input.ciRunId ?? `r${runCounter}`;
  return c.workflow.start<typeof gpuMatrixWorkflow>('gpuMatrixWorkflow', {
    workflowId: runWorkflowId(env.name, ciRunId),
    taskQueue: env.invariants.temporal.taskQueue,
    args: [
      {
        environment: env.name,
        gitSha: '0123456789abcdef0123456789abcdef01234567',
        ciRunId,
        dryRun: false,
        queue: 'wait',
        trigger: 'cli',
        ...input,
      },
    ],
  });
}

export function readEvidence(result: MatrixRunResult): EvidenceRecord {
  if (!result.evidence) throw new Error(`run ${result.workflowId} has no evidence`);
  return JSON.parse(readFileSync(result.evidence.json, 'utf8')) as EvidenceRecord;
}

/** Resolves once the given leg of a run reports the phase (through its progress query). */
export async function legReachesPhase(
  runWorkflowId: string,
  target: string,
  phase: string,
  timeoutMs = 30_000,
): Promise<void> {
  const c = await temporalClient();
  await eventually(
    `${target} to reach ${phase}`,
    async () => {
      const progress = await c.workflow
        .getHandle(legWorkflowId(runWorkflowId, target))
        .query(legProgressQuery);
      return progress.phase === phase ? true : undefined;
    },
    timeoutMs,
  );
}
