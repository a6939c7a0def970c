/**
 * Replays recorded workflow histories against Sentinel's workflow code, to
 * reproduce a failed run or to prove a change to the workflows is safe for
 * the runs in flight (docs/replay.md).
 *
 *   temporal workflow show --workflow-id <id> --output json > run.json
 *   npm run replay -- run.json [more.json ...] [--workflows <module>] [--bundle <file>]
 *
 * --workflows  the workflows module to replay against (default: src/workflows)
 * --bundle     a pre-built bundle instead (the image's dist/workflow-bundle.js)
 * Exit 0: every history replays; 1: at least one does not (the reason is
 * printed, TMPRL1100 for a determinism violation); 2: bad usage or input.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';

interface Args {
  files: string[];
  workflowsPath: string;
  bundle?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { files: [], workflowsPath: path.resolve(__dirname, '..', 'src', 'workflows') };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--workflows') args.workflowsPath = path.resolve(argv[++i] ?? '');
    else if (arg === '--bundle') args.bundle = path.resolve(argv[++i] ?? '');
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else args.files.push(arg);
  }
  if (args.files.length === 0)
    throw new Error('usage: npm run replay -- <history.json>... [--workflows <module>] [--bundle <file>]');
  return args;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`replay: ${(err as Error).message}\n`);
    return 2;
  }
  const histories = [];
  const names = new Map<string, string>();
  for (const file of args.files) {
    try {
      const json = JSON.parse(readFileSync(file, 'utf8')) as {
        events?: Array<{ workflowExecutionStartedEventAttributes?: { workflowId?: string } }>;
      };
      // Workflows derive ids from their own (child legs: <run id>--<target>): replay under the recorded id.
      const workflowId =
        json.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId ?? path.basename(file, '.json');
      histories.push({ workflowId, history: historyFromJSON(json) });
      names.set(workflowId, file);
    } catch (err) {
      process.stderr.write(
        `replay: ${file} is not a workflow history in JSON (temporal workflow show --output json): ${(err as Error).message}\n`,
      );
      return 2;
    }
  }
  const options: ReplayWorkerOptions = {
    replayName: 'sentinel-replay',
    ...(args.bundle ? { workflowBundle: { codePath: args.bundle } } : { workflowsPath: args.workflowsPath }),
  };
  let failed = 0;
  for await (const result of Worker.runReplayHistories(options, histories)) {
    if (result.error) {
      failed += 1;
      process.stdout.write(
        `FAIL ${result.workflowId} (${names.get(result.workflowId)}): ${result.error.name}: ${result.error.message.split('\n')[0]}\n`,
      );
    } else {
      process.stdout.write(`ok   ${result.workflowId} (${names.get(result.workflowId)})\n`);
    }
  }
  process.stdout.write(`${histories.length - failed} replayed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`replay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
