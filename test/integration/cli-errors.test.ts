import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { EXIT } from '../../src/cli/exit-codes';
import { PROJECT_ROOT } from '../../src/config/load';
import { startTemporalDevServer, type TemporalDevServer } from '../../dev/stack/temporal-server';
import { runWorkflowId } from '../../src/temporal/definitions';
import { candidate, unknownCandidate } from '../support/aws';
import { sentinel } from '../support/cli';
import { slowGpuDetect, testEnvironment, type TestEnvironment } from '../support/invariants';
import { startRun, temporalClient } from '../support/runs';
import { sharedStack, suiteDir } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker, startWorkerProcess } from '../support/worker';

/** No JavaScript stack frame in what the CLI printed. */
function assertNoStackTrace(output: string): void {
  assert.doesNotMatch(
    output,
    /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m,
    `a stack trace was printed:\n${output}`,
  );
}

/** The CLI's own error lines: `sentinel: …` and the `  - …` lines that belong to it. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^sentinel: /.test(l));
}

/** A copy of `env`'s configuration file with an edit, for a CLI that sees the world differently from the worker. */
function variantOf(env: TestEnvironment, slug: string, edit: (file: Record<string, any>) => void): string {
  const file = parse(readFileSync(env.file, 'utf8'));
  edit(file);
  const target = path.join(env.dir, `${slug}.yaml`);
  writeFileSync(target, stringify(file));
  return target;
}

describe('the sentinel command: errors, exit codes and run ids', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it("exits 3 when the worker's configuration refuses the run (CONFIG_INVALID through the activity failure)", async () => {
    const env = testEnvironment('cli-worker-config');
    const worker = await startWorker(env.invariants);
    try {
      // The CLI knows an environment the worker's configuration does not: prepareRun refuses it on the worker.
      const cliFile = variantOf(env, 'cli-only-env', (file) => {
        file.environments[`${env.name}-cli`] = {
          ...file.environments[env.name],
          approvedDigestParameter: `/radix/${env.name}-cli/agent_digest_approved`,
        };
      });
      const run = await sentinel(
        [
          'run',
          '--env',
          `${env.name}-cli`,
          '--digest',
          unknownCandidate('cli-worker-config'),
          '--run-id',
          'wc-1',
        ],
        cliFile,
      );
      assert.equal(run.code, EXIT.CONFIG_INVALID, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
      assert.match(run.stderr, /configuration refused the run: .*unknown environment/);
      assertNoStackTrace(run.stdout + run.stderr);
    } finally {
      await worker.stop();
    }
  });

  it('exits 2 when the worker refuses the candidate (INPUT_REFUSED through the activity failure)', async () => {
    const env = testEnvironment('cli-worker-input');
    const worker = await startWorker(env.invariants);
    try {
      // The CLI's copy names another repository, so it accepts a digest the worker refuses.
      const other = 'ghcr.io/iangreen74/radix-cluster-agent-fork';
      const cliFile = variantOf(env, 'cli-other-repo', (file) => {
        file.environments[env.name].image.repository = other;
      });
      const run = await sentinel(
        [
          'run',
          '--env',
          env.name,
          '--digest',
          unknownCandidate('cli-worker-input', other),
          '--run-id',
          'wi-1',
        ],
        cliFile,
      );
      assert.equal(run.code, EXIT.REFUSED, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
      assert.match(
        run.stderr,
        /refused by the worker: .*another repository|refused by the worker: .*repository/,
      );
      assertNoStackTrace(run.stdout + run.stderr);
    } finally {
      await worker.stop();
    }
  });

  it('refuses a --run-id whose run has closed with exit 11, starting nothing and leaving its evidence alone', async () => {
    const env = testEnvironment('cli-reuse');
    const worker = await startWorker(env.invariants);
    try {
      const digest = await candidate('cli-reuse');
      const first = await sentinel(
        ['run', '--env', env.name, '--digest', digest, '--run-id', 'ci-7-1', '--dry-run', '--json'],
        env.file,
      );
      assert.equal(first.code, EXIT.PASSED, first.stderr);
      const result = JSON.parse(first.stdout);
      const evidence = result.evidence.json as string;
      const before = { mtimeMs: statSync(evidence).mtimeMs, text: readFileSync(evidence, 'utf8') };
      const workflowId = runWorkflowId(env.name, 'ci-7-1');
      const client = await temporalClient();
      const firstRunId = (await client.workflow.getHandle(workflowId).describe()).runId;

      const again = await sentinel(
        ['run', '--env', env.name, '--digest', digest, '--run-id', 'ci-7-1', '--json'],
        env.file,
      );
      assert.equal(again.code, EXIT.RUN_ID_REUSED, `exit ${again.code}\n${again.stdout}\n${again.stderr}`);
      assert.match(
        again.stderr,
        new RegExp(`sentinel: run id ci-7-1 was already used: ${workflowId} .*(completed|closed)`),
      );
      assert.match(again.stderr, /--run-id/);
      assert.equal(JSON.parse(again.stdout).exitCode, EXIT.RUN_ID_REUSED);
      assertNoStackTrace(again.stdout + again.stderr);
      const description = await client.workflow.getHandle(workflowId).describe();
      assert.equal(description.runId, firstRunId, 'no new run was started under the id');
      assert.equal(statSync(evidence).mtimeMs, before.mtimeMs, "the first run's evidence was not rewritten");
      assert.equal(readFileSync(evidence, 'utf8'), before.text);
    } finally {
      await worker.stop();
    }
  });

  it('follows a run that is still going when its --run-id is given again', async () => {
    const env = testEnvironment('cli-follow');
    slowGpuDetect(env.hostsDir, 'nvidia-a10g', 3);
    const worker = await startWorker(env.invariants);
    try {
      const digest = await candidate('cli-follow');
      const running = await startRun(env, { candidate: digest, ciRunId: 'ci-8-1' });
      const again = await sentinel(
        ['run', '--env', env.name, '--digest', digest, '--run-id', 'ci-8-1', '--json'],
        env.file,
      );
      assert.equal(again.code, EXIT.PASSED, again.stderr);
      assert.match(again.stderr, /is already running; following it/);
      assert.equal(
        JSON.parse(again.stdout).runId,
        running.firstExecutionRunId,
        'the verdict of the run already going',
      );
      assert.doesNotMatch(again.stderr, /^started /m, 'nothing new was started');
      assert.equal((await running.result()).verdict, 'passed');
    } finally {
      await worker.stop();
    }
  });

  describe('when the Temporal server loses the run', () => {
    let server: TemporalDevServer | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('ends with one clear message, no stack trace (the server restarted on an empty database mid-run)', async () => {
      const env = testEnvironment('cli-lost-run');
      slowGpuDetect(env.hostsDir, 'nvidia-a10g', 20);
      server = await startTemporalDevServer({ logFile: path.join(suiteDir, 'lost-run-temporal-1.log') });
      const address = server.address;
      const worker = await startWorkerProcess(env.file, 'lost-run-worker', { TEMPORAL_ADDRESS: address });
      try {
        const stack = await sharedStack();
        const child = spawn(
          process.execPath,
          [
            path.join(PROJECT_ROOT, 'bin', 'sentinel.js'),
            'run',
            '--env',
            env.name,
            '--digest',
            await candidate('cli-lost-run'),
            '--run-id',
            'lost-1',
          ],
          {
            env: { ...process.env, ...stack.env, SENTINEL_INVARIANTS: env.file, TEMPORAL_ADDRESS: address },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
        await eventually(
          'the run to reach gpu_detect',
          async () => (/nvidia-a10g: gpu_detect/.test(output) ? true : undefined),
          90_000,
        );

        await server.stop();
        server = await startTemporalDevServer({
          logFile: path.join(suiteDir, 'lost-run-temporal-2.log'),
          port: Number(address.split(':')[1]),
        });
        const code = await Promise.race([
          exited,
          new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 90_000)),
        ]);
        if (code === 'timeout') child.kill('SIGKILL');
        assert.notEqual(code, 'timeout', `the CLI did not end after the server lost the run:\n${output}`);
        assert.equal(code, EXIT.INTERNAL, output);
        assertNoStackTrace(output);
        const errors = errorLines(output);
        assert.equal(errors.length, 1, `one error message:\n${output}`);
        assert.match(errors[0]!, new RegExp(`sentinel-run-${env.name}-lost-1`));
        assert.match(errors[0]!, /no longer (known|exists)|lost/);
      } finally {
        await worker.stop('SIGKILL');
      }
    });
  });
});
