/**
 * `sentinel run`: starts a matrix run for a candidate digest and (unless
 * --no-wait) follows it to its verdict.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/common';
import { Command } from 'commander';
import { sandboxEmulationProblems } from '../../config/sandbox-emulation';
import { ImageRefError, parsePinnedImage } from '../../domain/image-ref';
import type { MatrixRunInput, MatrixRunResult, QueueMode, Trigger } from '../../domain/run';
import type { gpuMatrixWorkflow } from '../../workflows';
import { runWorkflowId } from '../../temporal/definitions';
import {
  connectTemporal,
  environmentFrom,
  loadConfig,
  workflowUrl,
  type GlobalOptions,
  type TemporalContext,
} from '../context';
import { CliError, EXIT, exitCodeForRun, type ExitCode } from '../exit-codes';
import { codedCauseOf, firstLine } from '../failure-cause';
import { writeJunitReport } from '../junit';
import { followRun } from '../progress';
import { printResult, type Printer } from '../output';

export interface RunOptions extends GlobalOptions {
  env: string;
  digest: string;
  gitSha?: string;
  runId?: string;
  dryRun?: boolean;
  wait: boolean;
  queue: boolean;
  junit?: string;
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const GIT_SHA = /^(?:[0-9a-f]{7,64}|unknown)$/;

export function runCommand(printer: Printer): Command {
  return new Command('run')
    .description('prove a candidate digest on every hardware target and promote it if all pass')
    .requiredOption('--env <env>', 'environment of ops/invariants.yaml (dev, local, ...)')
    .requiredOption('--digest <image>', 'candidate as <repository>@sha256:<64 lower-case hex>')
    .option(
      '--git-sha <sha>',
      'commit the candidate was built from (default: $GITHUB_SHA, then git rev-parse HEAD)',
    )
    .option(
      '--run-id <id>',
      'CI run id; names the run (default: $GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT, else a new id)',
    )
    .option('--dry-run', 'check the candidate and the setup without any instance; never promotes')
    .option('--no-wait', 'start the run and return at once')
    .option('--no-queue', 'refuse (exit 4) instead of waiting when another run holds the environment')
    .option(
      '--junit <path>',
      'also write a JUnit XML report: one test case per target and phase (src/cli/junit.ts)',
    )
    .action(async (options: RunOptions, command: Command) => {
      const global = command.optsWithGlobals<RunOptions>();
      process.exitCode = await runMatrix({ ...global, ...options }, printer);
    });
}

export async function runMatrix(options: RunOptions, printer: Printer): Promise<ExitCode> {
  const invariants = loadConfig(options);
  const env = environmentFrom(invariants, options.env);
  const unemulated = sandboxEmulationProblems(env);
  if (unemulated.length > 0) {
    throw new CliError(
      EXIT.SANDBOX_NOT_EMULATED,
      `${options.env} is a sandbox environment (simulated hosts): every AWS service its run uses must point at an emulator, so no simulated run touches real AWS or a real approved pointer; nothing was started`,
      unemulated,
    );
  }
  let candidate;
  try {
    candidate = parsePinnedImage(options.digest, env.image.repository);
  } catch (err) {
    if (err instanceof ImageRefError) throw new CliError(EXIT.REFUSED, `--digest refused: ${err.message}`);
    throw err;
  }
  const gitSha = options.gitSha ?? process.env.GITHUB_SHA ?? localGitSha() ?? 'unknown';
  if (!GIT_SHA.test(gitSha))
    throw new CliError(EXIT.REFUSED, `--git-sha ${JSON.stringify(gitSha)} is not a hex commit id`);
  if (options.junit !== undefined && !options.wait)
    throw new CliError(EXIT.REFUSED, "--junit needs the run's verdict: drop --no-wait");
  const ciRunId = options.runId ?? ciRunIdFromEnv() ?? generatedRunId();
  if (!RUN_ID.test(ciRunId))
    throw new CliError(
      EXIT.REFUSED,
      `--run-id ${JSON.stringify(ciRunId)} must be 1-64 of letters, digits, '.', '_' and '-'`,
    );

  const input: MatrixRunInput = {
    environment: options.env,
    candidate: candidate.reference,
    candidateImage: candidate,
    gitSha,
    ciRunId,
    dryRun: Boolean(options.dryRun),
    queue: (options.queue ? 'wait' : 'refuse') satisfies QueueMode,
    trigger: (process.env.GITHUB_ACTIONS === 'true' || process.env.CI === 'true'
      ? 'ci'
      : 'cli') satisfies Trigger,
  };

  const temporal = await connectTemporal(invariants);
  let following: Promise<void> | undefined;
  try {
    const workflowId = runWorkflowId(options.env, ciRunId);
    await warnWithoutWorker(temporal, printer);
    let handle: WorkflowHandle<typeof gpuMatrixWorkflow>;
    try {
      handle = await temporal.client.workflow.start<typeof gpuMatrixWorkflow>('gpuMatrixWorkflow', {
        workflowId,
        taskQueue: temporal.taskQueue,
        args: [input],
        // A run id names one run: a closed run's id is never started again (its leg tokens, tags and evidence are taken).
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
      printer.info(
        `started ${workflowId}${input.dryRun ? ' (dry run)' : ''}${env.executor.kind === 'local' ? ' [SIMULATED hosts]' : ''}`,
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = temporal.client.workflow.getHandle(workflowId);
      const existing = await handle.describe();
      if (existing.status.name !== 'RUNNING') {
        const closed = existing.closeTime ? ` at ${existing.closeTime.toISOString()}` : '';
        throw new CliError(
          EXIT.RUN_ID_REUSED,
          `run id ${ciRunId} was already used: ${workflowId} ${existing.status.name.toLowerCase().replace(/_/g, ' ')}${closed}; nothing was started. ` +
            `Give this run a new --run-id (a re-run CI job gets one from $GITHUB_RUN_ATTEMPT); the earlier run's evidence stays as it is`,
        );
      }
      // The same CI run asked twice while it still runs (a retried job step): follow the run already going.
      printer.info(`${workflowId} is already running; following it`);
    }
    const description = await handle.describe();
    const url = workflowUrl(temporal, workflowId, description.runId);
    if (url) printer.info(`web ui: ${url}`);

    if (!options.wait) {
      printer.json({ status: 'started', workflowId, runId: description.runId, ...(url ? { url } : {}) });
      return EXIT.PASSED;
    }
    // The verdict is printed as soon as it is known; the progress follower is stopped and drained before the connection closes.
    const stop = new AbortController();
    following = followRun(temporal.client, handle.workflowId, printer, stop.signal);
    let result: MatrixRunResult;
    try {
      result = await waitForResult(handle, temporal.settings.address, options.env);
    } finally {
      stop.abort();
    }
    if (options.junit !== undefined) {
      const warning = await writeJunitReport(options.junit, result, env.awsRegion);
      if (warning) printer.info(`warning: ${warning}`);
      printer.info(`junit: ${options.junit}`);
    }
    printResult(printer, result, url);
    // Preflight found no configured zone offering a target's instance types: nothing was launched.
    if (result.verdict === 'failed' && result.failure?.code === 'PLACEMENT_UNAVAILABLE')
      return EXIT.PLACEMENT_UNAVAILABLE;
    return exitCodeForRun(result);
  } finally {
    await following;
    await temporal.close();
  }
}

export async function waitForResult(
  handle: WorkflowHandle<typeof gpuMatrixWorkflow>,
  address: string,
  environment: string,
): Promise<MatrixRunResult> {
  try {
    return await handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      // prepareRun's refusal arrives as WorkflowFailedError → ActivityFailure → ApplicationFailure(code).
      const coded = codedCauseOf(err);
      // The worker's own sandbox check (prepareRun) refused: its environment lacks an emulator endpoint.
      if (coded?.code === 'SANDBOX_NOT_EMULATED')
        throw new CliError(EXIT.SANDBOX_NOT_EMULATED, `refused by the worker: ${coded.message}`);
      if (coded?.code === 'INPUT_REFUSED')
        throw new CliError(EXIT.REFUSED, `refused by the worker: ${coded.message}`);
      if (coded?.code === 'CONFIG_INVALID')
        throw new CliError(
          EXIT.CONFIG_INVALID,
          `the worker's configuration refused the run: ${coded.message}`,
        );
      const detail = coded ? `${coded.code}: ${coded.message}` : firstLine(err.cause ?? err);
      throw new CliError(EXIT.INTERNAL, `run ${handle.workflowId} failed without a verdict: ${detail}`);
    }
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(
        EXIT.INTERNAL,
        `run ${handle.workflowId} is no longer known to Temporal at ${address}: the server lost it (restarted without its database?), so it has no verdict. ` +
          `Start it again with a new --run-id; machines it had launched are reaped by sentinel janitor --env ${environment}`,
      );
    }
    if (isGrpcServiceError(err)) {
      throw new CliError(
        EXIT.TEMPORAL_UNREACHABLE,
        `lost Temporal at ${address} while following ${handle.workflowId}: ${firstLine(err)}; the run goes on without this command (sentinel run --run-id … follows it again)`,
      );
    }
    throw err;
  }
}

/** A run starts fine without a worker, but nothing happens: say so instead of waiting silently. */
export async function warnWithoutWorker(temporal: TemporalContext, printer: Printer): Promise<void> {
  try {
    const out = await temporal.client.workflowService.describeTaskQueue({
      namespace: temporal.settings.namespace,
      taskQueue: { name: temporal.taskQueue },
    });
    if ((out.pollers ?? []).length === 0) {
      printer.info(
        `warning: no worker is polling task queue ${temporal.taskQueue}; the run waits until one starts (npm run worker)`,
      );
    }
  } catch {
    // Informational only.
  }
}

function localGitSha(): string | undefined {
  try {
    return (
      execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function ciRunIdFromEnv(): string | undefined {
  const id = process.env.GITHUB_RUN_ID;
  if (!id) return undefined;
  return process.env.GITHUB_RUN_ATTEMPT ? `${id}-${process.env.GITHUB_RUN_ATTEMPT}` : id;
}

function generatedRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}
