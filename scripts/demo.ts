/**
 * The demo: a real Temporal dev server (with its Web UI), the AWS API
 * emulator, the reference control plane and the Sentinel worker, all on free
 * loopback ports; then `sentinel run --env local` for a freshly pushed
 * candidate, to its verdict; then the evidence pack, the Web UI link, and
 * `sentinel verify`'s chain for the promoted digest.
 * Ends with the verdict's exit code and stops everything it started (unless --keep).
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { runMatrix } from '../src/cli/commands/run';
import { runReport } from '../src/cli/commands/report';
import { runVerify } from '../src/cli/commands/verify';
import { EXIT } from '../src/cli/exit-codes';
import { createPrinter } from '../src/cli/output';
import { loadInvariants, PROJECT_ROOT } from '../src/config/load';
import type { EvidenceRecord } from '../src/domain/evidence';
import { pushImage } from '../dev/stack/registry';
import { pointEnvironmentAt, shellExports } from '../dev/stack/exports';
import { CONNECTION_OVERRIDE_VARIABLES, loadTemporalConfig } from '../src/temporal/connection';
import { startDevStack } from '../dev/stack/stack';
import { registryEndpoint } from '../src/registry/client';
import { createSentinelWorker } from '../src/worker/worker';

const ENVIRONMENT = 'local';

async function main(): Promise<number> {
  const keep = process.argv.includes('--keep');
  const workDir = path.join(PROJECT_ROOT, '.sentinel', 'demo');
  const reportDir = path.join(PROJECT_ROOT, '.sentinel', 'report');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const say = (line: string) => process.stdout.write(`demo: ${line}\n`);

  say(
    'starting the Temporal dev server (with Web UI), moto_server and the reference control plane on loopback...',
  );
  const invariants = loadInvariants();
  const stack = await startDevStack({ invariants, workDir, ui: true });
  pointEnvironmentAt(process.env, stack.env);
  try {
    // The same invariants, now with the stack's control-plane overrides applied.
    const config = loadInvariants();
    await stack.bootstrap(ENVIRONMENT);
    // The candidate: a real image, pushed to the stack's registry as CI pushes to GHCR.
    const repository = config.environments[ENVIRONMENT]!.image.repository;
    const pushed = await pushImage(stack.registry.url, registryEndpoint(repository).name, {
      seed: `demo-${Date.now()}`,
      revision: localGitSha(),
    });
    const candidate = `${repository}@${pushed.digest}`;
    say(
      `Temporal ${stack.temporal.address}, Web UI ${stack.temporal.uiUrl}, AWS emulator ${stack.moto.endpoint}, registry ${stack.registry.url}, control plane ${stack.controlPlane.url}`,
    );
    say(`pushed the candidate image ${candidate}`);

    const worker = await createSentinelWorker({
      invariants: config,
      temporal: loadTemporalConfig(stack.env),
      localWorkRoot: path.join(workDir, 'hosts'),
    });
    const running = worker.worker.run();
    say(`worker polling ${worker.taskQueue}`);
    say(`sentinel run --env ${ENVIRONMENT} --digest ${candidate}`);
    process.stdout.write('\n');
    let code: number;
    try {
      code = await runMatrix(
        { env: ENVIRONMENT, digest: candidate, wait: true, queue: true, runId: `demo-${Date.now()}` },
        createPrinter(false),
      );
    } finally {
      worker.worker.shutdown();
      await running;
      await worker.close();
    }
    const evidence = latestEvidence(config.environments[ENVIRONMENT]!.evidence.location);
    if (evidence) {
      process.stdout.write('\n');
      for (const line of hostSetupLines(evidence.replace(/\.md$/, '.json'))) say(line);
      process.stdout.write(`\n${'-'.repeat(80)}\n${readFileSync(evidence, 'utf8')}${'-'.repeat(80)}\n`);
    }
    if (code === EXIT.PASSED) {
      // Anyone can check the promotion: the chain from the pointer to every signed leg result.
      say(`sentinel verify --env ${ENVIRONMENT}`);
      process.stdout.write('\n');
      const verified = await runVerify({ env: ENVIRONMENT }, createPrinter(false)).catch((err: unknown) => {
        process.stdout.write(`sentinel verify: ${err instanceof Error ? err.message : String(err)}\n`);
        return EXIT.INTERNAL;
      });
      if (verified !== EXIT.PASSED) code = verified;
    }
    // The demo ends with a page to open: the report over every run the local evidence holds.
    say(`sentinel report --env ${ENVIRONMENT} --out ${path.relative(process.cwd(), reportDir) || '.'}`);
    await runReport({ env: ENVIRONMENT, out: reportDir }, createPrinter(false)).catch((err: unknown) => {
      say(`sentinel report: ${err instanceof Error ? err.message : String(err)}`);
    });
    if (keep) {
      say('the stack stays up; in another shell, these lines point sentinel and temporal at it:');
      process.stdout.write(
        `\n${shellExports({ ...stack.env, SENTINEL_INVARIANTS: config.file }, CONNECTION_OVERRIDE_VARIABLES).join('\n')}\n\n`,
      );
      say(
        `then: sentinel runs list --env ${ENVIRONMENT}; temporal workflow list; npm run worker starts a worker for new runs`,
      );
      say(`Web UI: ${stack.temporal.uiUrl} (Ctrl-C to stop everything)`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return code;
  } finally {
    await stack.stop();
    say('stopped everything it started');
  }
}

/** One line per leg: what its host setup installed or found, with versions (from the evidence pack). */
function hostSetupLines(jsonFile: string): string[] {
  if (!existsSync(jsonFile)) return [];
  const evidence = JSON.parse(readFileSync(jsonFile, 'utf8')) as EvidenceRecord;
  return evidence.legs.map((leg) => {
    const scripts = leg.host?.setup ?? [];
    if (scripts.length === 0) return `${leg.target} host setup: none${leg.host ? ' (baked AMI)' : ''}`;
    const described = scripts.map((run) => {
      const byAction = (action: string) =>
        run.components.filter((c) => c.action === action).map((c) => `${c.name} ${c.version}`);
      const parts = [
        byAction('installed').length ? `installed ${byAction('installed').join(', ')}` : '',
        byAction('loaded').length ? `loaded ${byAction('loaded').join(', ')}` : '',
        byAction('present').length ? `found ${byAction('present').join(', ')}` : '',
      ].filter(Boolean);
      return `${run.script} (${run.durationSeconds.toFixed(1)}s): ${parts.join('; ') || 'nothing'}`;
    });
    return `${leg.target} host setup: ${described.join(' | ')}`;
  });
}

function localGitSha(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

function latestEvidence(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join(dir, f));
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(EXIT.INTERNAL);
  },
);
