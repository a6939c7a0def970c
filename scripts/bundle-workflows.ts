/**
 * Bundles Sentinel's workflows into one file, the exact code a worker runs
 * (and replays) when started with SENTINEL_WORKFLOW_BUNDLE=<file>. The image
 * build runs it, so a deployed worker never bundles at start.
 *
 *   node --import tsx scripts/bundle-workflows.ts dist/workflow-bundle.js
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(out: string | undefined): Promise<void> {
  if (!out) throw new Error('usage: bundle-workflows.ts <output file>');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows') });
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(out, code);
  process.stdout.write(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB)\n`);
}

main(process.argv[2]).catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
