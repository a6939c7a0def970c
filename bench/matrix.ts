/**
 * `npm run bench [-- --sizes 2,8,32 --leg-seconds 10 --sequential 2,8 --longer-legs 30 --json]`
 *
 * Time to verdict, AWS calls and cost of a matrix run as the matrix grows,
 * on this machine, with the real pieces: the dev stack (Temporal dev
 * server, moto_server, the OCI registry, the reference control plane), the
 * real worker in its own process (bench/worker-process.ts), `sentinel run`
 * as the CLI runs it (runMatrix, in this process), and the local executor on
 * simulated hosts.
 *
 * For each size N: N targets made from the local environment's two
 * (alternating vendors, each with a simulated host of its own), whose GPU
 * detection answers after --leg-seconds (the recorded tool's `.delay` file,
 * dev/simulated-hosts/README.md), so every leg has a known host-step time.
 * One warm-up dry run, then the measured run; then, for sizes in
 * --sequential, the same targets one after another (one single-target run
 * each, back to back). Last, the smallest size once more with host steps of
 * --longer-legs seconds, to show what leg duration does to the AWS calls.
 *
 * Figures, not a test: the exit status is non-zero only when a run did not
 * pass or the stack could not start. docs/benchmarks.md explains the columns.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { tsToMs } from '@temporalio/common/lib/time';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Command, InvalidArgumentError } from 'commander';
import { parse, stringify } from 'yaml';
import { runMatrix } from '../src/cli/commands/run';
import type { Printer } from '../src/cli/output';
import { DEFAULT_INVARIANTS_PATH, loadInvariants, PROJECT_ROOT } from '../src/config/load';
import type { EvidenceRecord } from '../src/domain/evidence';
import type { MatrixRunResult } from '../src/domain/run';
import { pointEnvironmentAt } from '../dev/stack/exports';
import { pushImage } from '../dev/stack/registry';
import { startDevStack, type DevStack } from '../dev/stack/stack';
import { registryEndpoint } from '../src/registry/client';
import { loadTemporalConfig } from '../src/temporal/connection';
import type { gpuMatrixWorkflow } from '../src/workflows';
import { runWorkflowId } from '../src/temporal/definitions';
import type { WorkerRequest, WorkerStats } from './worker-process';

interface Options {
  sizes: number[];
  legSeconds: number;
  sequential: number[];
  longerLegs: number;
  json: boolean;
  keep: boolean;
  verbose: boolean;
  profile: boolean;
  report?: string;
}

type Json = Record<string, any>;

/** One measured run (`sentinel run` to its verdict). */
interface RunFigures {
  workflowId: string;
  verdict: string;
  wallSeconds: number;
  /** The slowest leg's own time: its workflow's start to its close. */
  slowestLegSeconds: number;
  fastestLegSeconds: number;
  /** From the CLI's start to the first leg's start, and from the slowest leg's close to the verdict. */
  beforeLegsSeconds: number;
  afterLegsSeconds: number;
  parentEvents: number;
  /** The events of the slowest leg's history (a passing leg has 66 to 69: its two cleanup steps may share a workflow task). */
  legEvents: number;
  /** Phase durations of the slowest leg (evidence), seconds. */
  slowestLegPhases: Record<string, number>;
  /** CPU seconds spent during the run, by process (see cpuProbe). */
  cpu: Record<string, number>;
}

interface SizeFigures {
  n: number;
  /** The host step (GPU detection) of every leg, seconds. */
  legSeconds: number;
  /** Every measured run passed. */
  passed: boolean;
  parallel: RunFigures;
  overheadSeconds: number;
  ratio: number;
  /** The same targets one after another: one single-target run each, back to back. */
  sequential?: { wallSeconds: number; runs: number; speedUp: number; awsPerLeg: number };
  aws: {
    perRun: number;
    byOperation: Record<string, number>;
    /** Calls made by the legs' activities, and those of the run itself (preflight, janitor, promotion). */
    legCalls: Record<string, number>;
    runCalls: Record<string, number>;
    perLeg: number;
  };
  worker: {
    pid: number;
    startRssMb: number;
    peakRssMb: number;
    rssAfterMb: number;
    heapUsedMb: number;
    externalMb: number;
  };
}

const list = (value: string): number[] => {
  if (value === 'none' || value === '') return [];
  const sizes = value.split(',').map((v) => Number(v.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 64))
    throw new InvalidArgumentError('expected sizes such as 2,8,32 (1 to 64)');
  return sizes;
};
const seconds = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 600)
    throw new InvalidArgumentError('expected seconds from 0 to 600');
  return n;
};

async function main(): Promise<number> {
  const options = new Command('bench')
    .description(
      'time to verdict, AWS calls and cost of a matrix run as the matrix grows (docs/benchmarks.md)',
    )
    .option('--sizes <list>', 'matrix sizes N to run', list, [2, 8, 32])
    .option('--leg-seconds <s>', "how long each leg's GPU detection takes on its simulated host", seconds, 10)
    .option('--sequential <list>', 'sizes also run one target after another ("none" to skip)', list, [2, 8])
    .option(
      '--longer-legs <s>',
      'then the smallest size once more with host steps this long (0 to skip)',
      seconds,
      30,
    )
    .option('--json', 'print the figures as JSON')
    .option('--keep', 'keep the work directory (logs, evidence, the histories of each measured run)')
    .option('--verbose', "print the CLI's progress lines")
    .option(
      '--profile',
      'write a CPU profile of each worker process (node --cpu-prof) into the work directory, and keep it',
    )
    .option('--report <file>', 'run nothing: print the table of figures an earlier --json run saved')
    .parse(process.argv)
    .opts<Options>();
  if (options.report) {
    const saved = JSON.parse(readFileSync(options.report, 'utf8')) as { sizes: SizeFigures[] };
    process.stdout.write(report(saved.sizes));
    return 0;
  }
  const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
  // Interrupted: exiting runs the dev stack's exit hook (its processes are killed); the worker process follows its IPC channel.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-bench-matrix-'));
  const setup = benchInvariants(workDir, options);
  say(`work directory ${workDir}; ${options.sizes.join(', ')} targets; host steps of ${options.legSeconds}s`);

  let stack: DevStack | undefined;
  const figures: SizeFigures[] = [];
  let failed = false;
  try {
    say('starting the dev stack (Temporal dev server, moto_server, registry, reference control plane)...');
    // The stack serves (and bootstraps) the project's own local environment, as in the tests.
    stack = await startDevStack({
      invariants: loadInvariants(DEFAULT_INVARIANTS_PATH),
      workDir: path.join(workDir, 'stack'),
    });
    pointEnvironmentAt(process.env, { ...stack.env, SENTINEL_INVARIANTS: setup.file });
    await stack.bootstrap('local');
    const repository = loadInvariants(setup.file).environments[`bench-n${options.sizes[0]}`]!.image
      .repository;
    const bundleFile = path.join(workDir, 'workflow-bundle.js');
    writeFileSync(
      bundleFile,
      (await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: quietLogger }))
        .code,
    );
    const temporal = loadTemporalConfig(stack.env);
    const client = new Client({
      connection: await Connection.connect(temporal.connectionOptions),
      namespace: temporal.namespace,
    });
    const context: SizeContext = {
      stack,
      client,
      workDir,
      bundleFile,
      file: setup.file,
      repository,
      gitSha: localGitSha(),
      options,
      say,
    };
    try {
      for (const n of options.sizes) {
        const size = await measureSize(context, n, options.legSeconds, options.sequential.includes(n));
        figures.push(size);
        if (!size.passed) failed = true;
      }
      if (options.longerLegs > 0) {
        const n = Math.min(...options.sizes);
        setHostStepSeconds(setup.hostsDir, setup.targets.slice(0, n), options.longerLegs);
        const size = await measureSize(context, n, options.longerLegs, false);
        figures.push(size);
        if (!size.passed) failed = true;
      }
    } finally {
      await client.connection.close();
    }
  } catch (err) {
    say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    failed = true;
  } finally {
    await stack?.stop();
    if (options.keep || options.profile || failed) say(`kept ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }

  if (options.json)
    process.stdout.write(`${JSON.stringify({ cpus: os.cpus().length, sizes: figures }, null, 2)}\n`);
  else process.stdout.write(report(figures));
  return failed ? 1 : 0;
}

interface SizeContext {
  stack: DevStack;
  client: Client;
  workDir: string;
  bundleFile: string;
  file: string;
  repository: string;
  gitSha: string;
  options: Options;
  say: (line: string) => void;
}

/**
 * One row: a worker process of its own, a warm-up dry run (not measured),
 * the matrix run, and optionally the same targets one after another.
 */
async function measureSize(
  ctx: SizeContext,
  n: number,
  legSeconds: number,
  sequential: boolean,
): Promise<SizeFigures> {
  const { stack, options, say } = ctx;
  const label = `N=${n}${legSeconds === options.legSeconds ? '' : ` (host steps ${legSeconds}s)`}`;
  // A candidate of its own, so that every row promotes (a run finding its candidate already approved writes nothing).
  const pushed = await pushImage(stack.registry.url, registryEndpoint(ctx.repository).name, {
    seed: `bench-${process.pid}-n${n}-${legSeconds}s`,
  });
  const candidate = `${ctx.repository}@${pushed.digest}`;
  const worker = await startWorker(
    ctx.workDir,
    ctx.bundleFile,
    stack.env,
    `n${n}-${legSeconds}s`,
    options.profile,
  );
  try {
    const cpu = cpuProbe({
      worker: worker.pid,
      'cli and control plane': process.pid,
      temporal: stack.temporal.process.child.pid,
      moto: stack.moto.process.child.pid,
      registry: stack.registry.process.child.pid,
    });
    const historiesDir = options.keep ? path.join(ctx.workDir, 'histories') : undefined;
    const run = (env: string, dryRun = false) =>
      measureRun(ctx.client, {
        cpu,
        ...(historiesDir ? { historiesDir } : {}),
        env,
        candidate,
        gitSha: ctx.gitSha,
        file: ctx.file,
        dryRun,
        verbose: options.verbose,
        say,
      });
    say(`${label}: warm-up dry run...`);
    await run(`bench-n${n}`, true);
    await worker.request({ type: 'reset' });
    say(`${label}: matrix run...`);
    const parallel = await run(`bench-n${n}`);
    const stats = (await worker.request({ type: 'stats' })) as WorkerStats;
    const legCalls = stats.byWorkflowType.hardwareLegWorkflow ?? {};
    const runCalls = sumCounts(
      Object.entries(stats.byWorkflowType)
        .filter(([type]) => type !== 'hardwareLegWorkflow')
        .map(([, c]) => c),
    );
    const overheadSeconds = parallel.wallSeconds - parallel.slowestLegSeconds;
    const size: SizeFigures = {
      n,
      legSeconds,
      passed: parallel.verdict === 'passed',
      parallel,
      overheadSeconds,
      ratio: parallel.wallSeconds / parallel.slowestLegSeconds,
      aws: {
        perRun: total(stats.calls),
        byOperation: stats.calls,
        legCalls,
        runCalls,
        perLeg: total(legCalls) / n,
      },
      worker: {
        pid: worker.pid,
        startRssMb: worker.startRssKb / 1024,
        peakRssMb: stats.peakRssKb / 1024,
        rssAfterMb: stats.rssKb / 1024,
        heapUsedMb: stats.memory.heapUsed / 2 ** 20,
        externalMb: stats.memory.external / 2 ** 20,
      },
    };
    say(
      `${label}: ${parallel.verdict} in ${fmt(parallel.wallSeconds)}s, slowest leg ${fmt(parallel.slowestLegSeconds)}s, overhead ${fmt(overheadSeconds)}s; ` +
        `${size.aws.perRun} AWS calls (${fmt(size.aws.perLeg, 1)}/leg); ${parallel.parentEvents} parent events; peak RSS ${fmt(size.worker.peakRssMb, 0)} MB`,
    );

    if (sequential) {
      say(`${label}: the same targets one after another...`);
      await worker.request({ type: 'reset' });
      let wall = 0;
      for (let i = 1; i <= n; i++) {
        const one = await run(`bench-n${n}-s${i}`);
        if (one.verdict !== 'passed') size.passed = false;
        wall += one.wallSeconds;
      }
      const seqStats = (await worker.request({ type: 'stats' })) as WorkerStats;
      size.sequential = {
        wallSeconds: wall,
        runs: n,
        speedUp: wall / parallel.wallSeconds,
        awsPerLeg: total(seqStats.byWorkflowType.hardwareLegWorkflow ?? {}) / n,
      };
      say(`${label}: one after another ${fmt(wall)}s (speed-up ${fmt(size.sequential.speedUp, 1)}x)`);
    }
    return size;
  } finally {
    await worker.stop();
  }
}

// ---- configuration: N targets with their own simulated hosts ------------------------------

/**
 * A copy of ops/invariants.yaml with one environment per size (`bench-n<N>`,
 * targets 1..N) and, for the sequential comparison, one per target
 * (`bench-n<N>-s<i>`). Target i is the local environment's first target for
 * odd i and its second for even i, renamed `<name>-<i>`, with a simulated
 * host of its own whose GPU detection takes `legSeconds`.
 */
function benchInvariants(
  workDir: string,
  options: Options,
): { file: string; hostsDir: string; targets: Array<{ name: string; vendor: string }> } {
  const hostsDir = path.join(workDir, 'hosts');
  cpSync(path.join(path.dirname(DEFAULT_INVARIANTS_PATH), '..', 'dev', 'simulated-hosts'), hostsDir, {
    recursive: true,
  });
  const file = parse(readFileSync(DEFAULT_INVARIANTS_PATH, 'utf8'), { merge: true }) as Json;
  delete file['x-gpu-targets'];
  const local = file.environments.local as Json;
  const bases = local.targets as Json[];
  const maxN = Math.max(...options.sizes);
  const targets = Array.from({ length: maxN }, (_, i) => {
    const base = bases[i % bases.length]!;
    const name = `${base.name}-${String(i + 1).padStart(2, '0')}`;
    cpSync(path.join(hostsDir, base.name), path.join(hostsDir, name), { recursive: true });
    return { ...base, name };
  });
  setHostStepSeconds(hostsDir, targets as Array<{ name: string; vendor: string }>, options.legSeconds);
  const environment = (name: string, envTargets: Json[]): Json => ({
    ...structuredClone(local),
    approvedDigestParameter: `/radix/${name}/agent_digest_approved`,
    executor: { kind: 'local', hostsDir },
    evidence: { ...local.evidence, location: path.join(workDir, 'evidence', name) },
    targets: envTargets,
  });
  file.temporal.taskQueue = 'sentinel-bench';
  file.environments = { dev: file.environments.dev };
  for (const n of options.sizes) {
    file.environments[`bench-n${n}`] = environment(`bench-n${n}`, targets.slice(0, n));
    if (options.sequential.includes(n)) {
      for (let i = 1; i <= n; i++)
        file.environments[`bench-n${n}-s${i}`] = environment(`bench-n${n}-s${i}`, [targets[i - 1]!]);
    }
  }
  const target = path.join(workDir, 'invariants.yaml');
  writeFileSync(target, stringify(file));
  return { file: target, hostsDir, targets: targets as Array<{ name: string; vendor: string }> };
}

/**
 * Makes the GPU detection of each target's simulated host take `seconds`:
 * the `.delay` of the recorded GPU-tool call that only GPU detection makes
 * (the agent simulation asks the tool other questions). Read at every call,
 * so it may change between runs.
 */
function setHostStepSeconds(
  hostsDir: string,
  targets: Array<{ name: string; vendor: string }>,
  seconds: number,
): void {
  for (const { name, vendor } of targets) {
    const [tool, recording] =
      vendor === 'nvidia' ? ['nvidia-smi', 'query-gpu'] : ['rocm-smi', 'driverversion'];
    const base = path.join(hostsDir, name, 'recordings', tool, recording);
    if (!existsSync(`${base}.cmd`)) throw new Error(`no recording ${recording} of ${tool} on ${name}`);
    if (seconds > 0) writeFileSync(`${base}.delay`, String(seconds));
    else rmSync(`${base}.delay`, { force: true });
  }
}

// ---- the worker, in its own process -------------------------------------------------------

interface BenchWorker {
  pid: number;
  /** Resident set once the worker polls, before any run. */
  startRssKb: number;
  request(message: WorkerRequest): Promise<unknown>;
  stop(): Promise<void>;
}

async function startWorker(
  workDir: string,
  bundleFile: string,
  stackEnv: Record<string, string>,
  name: string,
  profile: boolean,
): Promise<BenchWorker> {
  const child: ChildProcess = fork(path.join(__dirname, 'worker-process.ts'), [], {
    execArgv: [
      '--import',
      'tsx',
      ...(profile
        ? [
            '--cpu-prof',
            '--cpu-prof-dir',
            path.join(workDir, 'profiles'),
            '--cpu-prof-name',
            `worker-${name}.cpuprofile`,
          ]
        : []),
    ],
    env: {
      ...process.env,
      ...stackEnv,
      SENTINEL_WORKFLOW_BUNDLE: bundleFile,
      SENTINEL_LOCAL_WORK_ROOT: path.join(workDir, 'hosts-work', name),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { pid, rssKb: startRssKb } = await new Promise<{ pid: number; rssKb: number }>((resolve, reject) => {
    child.once('message', (m: { type: string; pid: number; rssKb: number }) =>
      m.type === 'ready' ? resolve(m) : reject(new Error(`unexpected ${m.type}`)),
    );
    child.once('exit', (code) =>
      reject(new Error(`the worker process exited (${code}) before it was ready`)),
    );
  });
  return {
    pid,
    startRssKb,
    request: (message) =>
      new Promise((resolve) => {
        child.once('message', resolve);
        child.send(message);
      }),
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ type: 'stop' } satisfies WorkerRequest);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- one run --------------------------------------------------------------------------------

interface RunRequest {
  cpu: CpuProbe;
  /** Where the parent's and the slowest leg's histories are written (with --keep). */
  historiesDir?: string;
  env: string;
  candidate: string;
  gitSha: string;
  file: string;
  dryRun: boolean;
  verbose: boolean;
  say(line: string): void;
}

let runCounter = 0;

async function measureRun(client: Client, req: RunRequest): Promise<RunFigures> {
  runCounter += 1;
  const runId = `bench-${process.pid}-${runCounter}`;
  const workflowId = runWorkflowId(req.env, runId);
  const lines: string[] = [];
  let verdictAt: number | undefined;
  const printer: Printer = {
    jsonMode: false,
    info: (line) => {
      // The verdict is the moment the CLI prints it.
      if (verdictAt === undefined && line.startsWith('verdict: ')) verdictAt = performance.now();
      lines.push(line);
      if (req.verbose) req.say(`  ${line}`);
    },
    json: () => undefined,
  };
  const cpuBefore = req.cpu.snapshot();
  const startedAt = Date.now();
  const t0 = performance.now();
  const code = await runMatrix(
    {
      env: req.env,
      digest: req.candidate,
      gitSha: req.gitSha,
      runId,
      wait: true,
      queue: true,
      invariants: req.file,
      ...(req.dryRun ? { dryRun: true } : {}),
    },
    printer,
  );
  const wallSeconds = ((verdictAt ?? performance.now()) - t0) / 1000;
  const cpu = req.cpu.since(cpuBefore);
  const finishedAt = startedAt + wallSeconds * 1000;
  const handle = client.workflow.getHandle<typeof gpuMatrixWorkflow>(workflowId);
  const result: MatrixRunResult = await handle.result();
  if (code !== 0) req.say(`${workflowId} ended ${result.verdict} (exit ${code}):\n${lines.join('\n')}`);

  const parent = await handle.fetchHistory();
  const legs = await Promise.all(
    result.legs.map(async (leg) => {
      const history = await client.workflow.getHandle(leg.workflowId).fetchHistory();
      const events = history.events ?? [];
      const start = tsToMs(events[0]!.eventTime);
      const close = tsToMs(events[events.length - 1]!.eventTime);
      return {
        target: leg.target,
        history,
        start,
        close,
        seconds: (close - start) / 1000,
        events: events.length,
      };
    }),
  );
  const slowest = legs.reduce(
    (a, b) => (b.seconds > a.seconds ? b : a),
    legs[0] ?? { target: '', history: undefined, start: startedAt, close: startedAt, seconds: 0, events: 0 },
  );
  if (req.historiesDir && !req.dryRun) {
    mkdirSync(req.historiesDir, { recursive: true });
    writeFileSync(path.join(req.historiesDir, `${workflowId}.json`), historyToJSON(parent));
    if (slowest.history)
      writeFileSync(
        path.join(req.historiesDir, `${workflowId}--slowest-leg.json`),
        historyToJSON(slowest.history),
      );
  }
  const evidence = result.evidence
    ? (JSON.parse(readFileSync(result.evidence.json, 'utf8')) as EvidenceRecord)
    : undefined;
  const phases = Object.fromEntries(
    (evidence?.legs.find((l) => l.target === slowest.target)?.phases ?? []).map((p) => [
      p.name,
      Math.round((p.durationSeconds ?? 0) * 1000) / 1000,
    ]),
  );
  return {
    workflowId,
    verdict: result.verdict,
    wallSeconds,
    slowestLegSeconds: slowest.seconds,
    fastestLegSeconds: legs.length > 0 ? Math.min(...legs.map((l) => l.seconds)) : 0,
    beforeLegsSeconds: legs.length > 0 ? (Math.min(...legs.map((l) => l.start)) - startedAt) / 1000 : 0,
    afterLegsSeconds: legs.length > 0 ? (finishedAt - Math.max(...legs.map((l) => l.close))) / 1000 : 0,
    parentEvents: parent.events?.length ?? 0,
    legEvents: slowest.events,
    slowestLegPhases: phases,
    cpu,
  };
}

// ---- CPU, by process ---------------------------------------------------------------------------

/**
 * CPU seconds (user + system) of the processes that make up a run: the
 * worker, this process (the CLI and the in-process reference control plane),
 * the Temporal dev server, moto_server and the registry; "host commands":
 * the check scripts the worker ran on simulated hosts and every tool they
 * ran (docker simulation included); "agents and rest" is the machine's total
 * minus those (the simulated agents, which outlive the commands that
 * started them, and anything else running on the machine).
 */
interface CpuProbe {
  snapshot(): Record<string, number>;
  since(before: Record<string, number>): Record<string, number>;
}

const CLOCK_TICKS = 100;

/** utime + stime of the process itself, or (children) cutime + cstime: its children it has waited for, and theirs. */
function processCpuSeconds(pid: number, children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [user, system] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
    return (Number(user) + Number(system)) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function machineCpuSeconds(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = values.map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS;
}

function cpuProbe(pids: Record<string, number | undefined>): CpuProbe {
  const snapshot = () => {
    const out: Record<string, number> = { machine: machineCpuSeconds() };
    for (const [name, pid] of Object.entries(pids))
      out[name] = pid === undefined ? 0 : processCpuSeconds(pid);
    // The check scripts and the host tools they ran (docker simulation included), once they have exited.
    if (pids.worker !== undefined) out['host commands'] = processCpuSeconds(pids.worker, true);
    return out;
  };
  return {
    snapshot,
    since(before) {
      const now = snapshot();
      const delta = Object.fromEntries(
        Object.keys(now).map((k) => [k, Math.round((now[k]! - (before[k] ?? 0)) * 100) / 100]),
      );
      const known = [...Object.keys(pids), 'host commands'].reduce((sum, k) => sum + (delta[k] ?? 0), 0);
      delta['agents and rest'] = Math.round((delta.machine! - known) * 100) / 100;
      return delta;
    },
  };
}

// ---- the report ------------------------------------------------------------------------------

function report(figures: SizeFigures[]): string {
  const head = [
    'N',
    'host step s',
    'wall s',
    'slowest leg s',
    'overhead s',
    'wall/leg',
    'one by one s',
    'speed-up',
    'AWS calls/run',
    'AWS calls/leg',
    'parent events',
    'leg events',
    'worker peak RSS MB',
  ];
  const rows = figures.map((f) => [
    String(f.n),
    fmt(f.legSeconds, 0),
    fmt(f.parallel.wallSeconds),
    fmt(f.parallel.slowestLegSeconds),
    fmt(f.overheadSeconds),
    fmt(f.ratio, 3),
    f.sequential ? fmt(f.sequential.wallSeconds, 1) : '-',
    f.sequential ? `${fmt(f.sequential.speedUp, 1)}x` : '-',
    String(f.aws.perRun),
    fmt(f.aws.perLeg, 1),
    String(f.parallel.parentEvents),
    String(f.parallel.legEvents),
    fmt(f.worker.peakRssMb, 0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  const label = (f: SizeFigures) => `N=${f.n}, ${fmt(f.legSeconds, 0)}s`;
  const out = [
    '',
    `Matrix runs on ${os.cpus().length} cores; the worker in its own process; wall = \`sentinel run\` start to its verdict`,
    '',
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
    '',
    "Overhead = wall - slowest leg: before the first leg started, after the slowest leg closed; the legs; the slowest leg's phases (s):",
    ...figures.map(
      (f) =>
        `  ${label(f)}: ${fmt(f.parallel.beforeLegsSeconds)} before, ${fmt(f.parallel.afterLegsSeconds)} after; legs ${fmt(f.parallel.fastestLegSeconds)}-${fmt(f.parallel.slowestLegSeconds)}; ` +
        Object.entries(f.parallel.slowestLegPhases)
          .map(([p, s]) => `${p} ${fmt(s)}`)
          .join(', '),
    ),
    '',
    'CPU seconds during the run, by process:',
    ...figures.map(
      (f) =>
        `  ${label(f)}: ${Object.entries(f.parallel.cpu)
          .map(([p, s]) => `${p} ${fmt(s)}`)
          .join(', ')}`,
    ),
    '',
    'Worker memory (MB): resident once polling, peak, after the run; main-thread V8 heap used and external after the run:',
    ...figures.map(
      (f) =>
        `  ${label(f)}: start ${fmt(f.worker.startRssMb, 0)}, peak ${fmt(f.worker.peakRssMb, 0)}, after ${fmt(f.worker.rssAfterMb, 0)}; heap ${fmt(f.worker.heapUsedMb, 0)}, external ${fmt(f.worker.externalMb, 0)}`,
    ),
    '',
    'AWS calls of the run by operation (made by the legs | by the run itself: preflight, janitor, promotion):',
    ...figures.map((f) => `  ${label(f)}: ${describe(f.aws.legCalls)} | ${describe(f.aws.runCalls)}`),
    '',
    'Targets:',
    ...targets(figures).map((t) => `  ${t.met ? 'met   ' : 'MISSED'}  ${t.what}: ${t.figure}`),
    '',
  ];
  return out.join('\n');
}

function targets(figures: SizeFigures[]): Array<{ what: string; figure: string; met: boolean }> {
  const out: Array<{ what: string; figure: string; met: boolean }> = [];
  const main = figures.filter((f) => f.legSeconds === figures[0]?.legSeconds);
  const at = (n: number) => main.find((f) => f.n === n);
  const small = at(2);
  if (small)
    out.push({
      what: 'overhead under 2 s at N=2',
      figure: `${fmt(small.overheadSeconds)} s`,
      met: small.overheadSeconds < 2,
    });
  const big = at(32);
  if (big) {
    out.push({
      what: 'overhead under 5 s at N=32',
      figure: `${fmt(big.overheadSeconds)} s`,
      met: big.overheadSeconds < 5,
    });
    out.push({
      what: 'wall at most 1.1 x the slowest leg at N=32',
      figure: fmt(big.ratio, 3),
      met: big.ratio <= 1.1,
    });
    out.push({
      what: 'worker RSS under 400 MB at N=32',
      figure: `${fmt(big.worker.peakRssMb, 0)} MB`,
      met: big.worker.peakRssMb < 400,
    });
  }
  if (main.length > 1) {
    const perLeg = main.map((f) => f.aws.perLeg);
    out.push({
      what: 'AWS calls per leg independent of N',
      figure: main.map((f) => `${fmt(f.aws.perLeg, 1)} at N=${f.n}`).join(', '),
      met: perLeg.every((p) => p === perLeg[0]),
    });
  }
  for (const longer of figures.filter((f) => f.legSeconds !== figures[0]?.legSeconds)) {
    const same = at(longer.n);
    if (same) {
      out.push({
        what: 'AWS calls per leg independent of leg duration',
        figure: `${fmt(same.aws.perLeg, 1)} with ${fmt(same.legSeconds, 0)}s host steps, ${fmt(longer.aws.perLeg, 1)} with ${fmt(longer.legSeconds, 0)}s`,
        met: same.aws.perLeg === longer.aws.perLeg,
      });
    }
  }
  for (const f of main) {
    const limit = 100 + 20 * f.n;
    out.push({
      what: `parent history under 100 + 20*N at N=${f.n}`,
      figure: `${f.parallel.parentEvents} < ${limit}`,
      met: f.parallel.parentEvents < limit,
    });
  }
  return out;
}

// ---- helpers -----------------------------------------------------------------------------------

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;

function fmt(value: number, digits = 2): string {
  return value.toFixed(digits);
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function sumCounts(all: Array<Record<string, number>>): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const counts of all) for (const [k, v] of Object.entries(counts)) sum[k] = (sum[k] ?? 0) + v;
  return Object.fromEntries(Object.entries(sum).sort());
}

function describe(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([op, c]) => `${op} ${c}`).join(', ');
}

function localGitSha(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
