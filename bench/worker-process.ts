/**
 * The Sentinel worker of `npm run bench` (bench/matrix.ts), in a process of
 * its own so that its peak RSS (VmHWM) is the worker's alone.
 *
 * It is the real worker (src/worker/worker.ts), configured like
 * `npm run worker` (SENTINEL_INVARIANTS, TEMPORAL_* or a profile, SENTINEL_LOCAL_WORK_ROOT,
 * SENTINEL_WORKFLOW_BUNDLE), with one addition: every AWS call is also
 * attributed to the workflow type of the activity that made it, so the
 * benchmark can tell a leg's calls from its run's. Started with an IPC
 * channel (child_process.fork); it answers `stats` and `reset` messages and
 * stops on `stop`.
 */
import { Context } from '@temporalio/activity';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { AwsClients } from '../src/aws/clients';
import { loadInvariants } from '../src/config/load';
import { loadTemporalConfig } from '../src/temporal/connection';
import { createSentinelWorker } from '../src/worker/worker';

export type WorkerRequest = { type: 'stats' } | { type: 'reset' } | { type: 'stop' };

export interface WorkerStats {
  type: 'stats';
  /** `Service.Operation` → calls, as AwsClients counts them. */
  calls: Record<string, number>;
  /** `<workflow type>` → `Service.Operation` → calls. */
  byWorkflowType: Record<string, Record<string, number>>;
  /** Resident set now and at its peak since the process started (kB, from /proc/self/status). */
  rssKb: number;
  peakRssKb: number;
  /** The main thread's V8 heap and off-heap memory now (bytes), for telling where the resident set goes. */
  memory: NodeJS.MemoryUsage;
}

function procStatusKb(field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : 0;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const invariants = loadInvariants();
  const aws = new AwsClients();
  const attributed = new Map<string, Map<string, number>>();

  // The clients of every region the configuration names, created now so the attribution can be added to each.
  const regions = new Set(Object.values(invariants.environments).map((env) => env.awsRegion));
  for (const region of regions) {
    for (const [service, client] of [
      ['EC2', aws.ec2(region)],
      ['EC2', aws.ec2Launch(region)],
      ['SSM', aws.ssm(region)],
      ['S3', aws.s3(region)],
      ['IAM', aws.iam(region)],
    ] as const) {
      (client.middlewareStack as ReturnType<AwsClients['ec2']>['middlewareStack']).add(
        (next, context) => async (args) => {
          let workflowType = 'outside an activity';
          try {
            workflowType = Context.current().info.workflowType ?? workflowType;
          } catch {
            // not called from an activity
          }
          const key = `${service}.${String(context.commandName ?? 'Unknown').replace(/Command$/, '')}`;
          const counts = attributed.get(workflowType) ?? new Map<string, number>();
          counts.set(key, (counts.get(key) ?? 0) + 1);
          attributed.set(workflowType, counts);
          return next(args);
        },
        { step: 'initialize', name: 'benchCallAttribution' },
      );
    }
  }

  const bundle = process.env.SENTINEL_WORKFLOW_BUNDLE;
  const sentinel = await createSentinelWorker({
    invariants,
    temporal: loadTemporalConfig(),
    aws,
    ...(bundle ? { workflowBundle: { codePath: bundle } } : {}),
    ...(process.env.SENTINEL_LOCAL_WORK_ROOT ? { localWorkRoot: process.env.SENTINEL_LOCAL_WORK_ROOT } : {}),
  });
  const running = sentinel.worker.run();

  process.on('message', (message: WorkerRequest) => {
    if (message.type === 'stats') {
      const stats: WorkerStats = {
        type: 'stats',
        calls: aws.callCounts(),
        byWorkflowType: Object.fromEntries(
          [...attributed].map(([type, counts]) => [type, Object.fromEntries([...counts].sort())]),
        ),
        rssKb: procStatusKb('VmRSS'),
        peakRssKb: procStatusKb('VmHWM'),
        memory: process.memoryUsage(),
      };
      process.send!(stats);
    } else if (message.type === 'reset') {
      aws.resetCallCounts();
      attributed.clear();
      process.send!({ type: 'reset' });
    } else if (message.type === 'stop') {
      sentinel.worker.shutdown();
    }
  });
  // The benchmark is gone (ended, killed): so is the reason to run.
  process.once('disconnect', () => {
    if (sentinel.worker.getState() === 'RUNNING') sentinel.worker.shutdown();
    setTimeout(() => process.exit(1), 10_000).unref();
  });
  process.send!({ type: 'ready', pid: process.pid, rssKb: procStatusKb('VmRSS') });
  await running;
  await sentinel.close();
  aws.destroy();
  if (process.connected) process.disconnect();
}

main().catch((err) => {
  process.stderr.write(`bench worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
