/**
 * `sentinel run`: starts a matrix run for a candidate digest and (unless
 * --no-wait) follows it to its verdict.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Command } from 'commander';
import { ImageRefError, parsePinnedImage } from '../../domain/image-ref';
import type { MatrixRunInput, MatrixRunResult, QueueMode, Trigger } from '../../domain/run';
import type { gpuMatrixWorkflow } from '../../workflows';
import { runWorkflowId } from '../../workflows/definitions';
import { connectTemporal, environmentFrom, loadConfig, workflowUrl, type GlobalOptions, type TemporalContext } from '../context';
import { CliError, EXIT, exitCodeForRun, type ExitCode } from '../exit-codes';
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
    .option('--git-sha <sha>', 'commit the candidate was built from (default: $GITHUB_SHA, then git rev-parse HEAD)')
    .option('--run-id <id>', 'CI run id; names the run (default: $GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT, else a new id)')
    .option('--dry-run', 'check the candidate and the setup without any instance; never promotes')
    .option('--no-wait', 'start the run and return at once')
    .option('--no-queue', 'refuse (exit 4) instead of waiting when another run holds the environment')
    .option('--junit <path>', 'also write a JUnit XML report: one test case per target and phase (src/client/junit.ts)')
    .action(async (options: RunOptions, command: Command) => {
      const global = command.optsWithGlobals<RunOptions>();
      process.exitCode = await runMatrix({ ...global, ...options }, printer);
    });
}

export async function runMatrix(options: RunOptions, printer: Printer): Promise<ExitCode> {
  const invariants = loadConfig(options);
  const env = environmentFrom(invariants, options.env);
  try {
    parsePinnedImage(options.digest, env.image.repository);
  } catch (err) {
    if (err instanceof ImageRefError) throw new CliError(EXIT.REFUSED, `--digest refused: ${err.message}`);
    throw err;
  }
  const gitSha = options.gitSha ?? process.env.GITHUB_SHA ?? localGitSha() ?? 'unknown';
  if (!GIT_SHA.test(gitSha)) throw new CliError(EXIT.REFUSED, `--git-sha ${JSON.stringify(gitSha)} is not a hex commit id`);
  if (options.junit !== undefined && !options.wait) throw new CliError(EXIT.REFUSED, '--junit needs the run\'s verdict: drop --no-wait');
  const ciRunId = options.runId ?? ciRunIdFromEnv() ?? generatedRunId();
  if (!RUN_ID.test(ciRunId)) throw new CliError(EXIT.REFUSED, `--run-id ${JSON.stringify(ciRunId)} must be 1-64 of letters, digits, '.', '_' and '-'`);

  const input: MatrixRunInput = {
    environment: options.env,
    candidate: options.digest,
    gitSha,
    ciRunId,
    dryRun: Boolean(options.dryRun),
    queue: (options.queue ? 'wait' : 'refuse') satisfies QueueMode,
    trigger: (process.env.GITHUB_ACTIONS === 'true' || process.env.CI === 'true' ? 'ci' : 'cli') satisfies Trigger,
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
      });
      printer.info(`started ${workflowId}${input.dryRun ? ' (dry run)' : ''}${env.executor.kind === 'local' ? ' [SIMULATED hosts]' : ''}`);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // The same CI run asked twice (a retried job step): follow the run already going.
      handle = temporal.client.workflow.getHandle(workflowId);
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
      result = await waitForResult(handle);
    } finally {
      stop.abort();
    }
    if (options.junit !== undefined) {
      const warning = await writeJunitReport(options.junit, result, env.awsRegion);
      if (warning) printer.info(`warning: ${warning}`);
      printer.info(`junit: ${options.junit}`);
    }
    printResult(printer, result, url);
    return exitCodeForRun(result);
  } finally {
    await following;
    await temporal.close();
  }
}

async function waitForResult(handle: WorkflowHandle<typeof gpuMatrixWorkflow>): Promise<MatrixRunResult> {
  try {
    return await handle.result();
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure && cause.type === 'INPUT_REFUSED') throw new CliError(EXIT.REFUSED, `refused by the worker: ${cause.message}`);
      if (cause instanceof ApplicationFailure && cause.type === 'CONFIG_INVALID') throw new CliError(EXIT.CONFIG_INVALID, `the worker's configuration refused the run: ${cause.message}`);
      throw new CliError(EXIT.INTERNAL, `run ${handle.workflowId} failed without a verdict: ${cause?.message ?? err.message}`);
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
      printer.info(`warning: no worker is polling task queue ${temporal.taskQueue}; the run waits until one starts (npm run worker)`);
    }
  } catch {
    // Informational only.
  }
}

function localGitSha(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || undefined;
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
