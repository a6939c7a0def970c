/**
 * `npm run worker`: the Sentinel worker process. Configured by
 * ops/invariants.yaml (or SENTINEL_INVARIANTS) and the TEMPORAL_* variables.
 */
import { InvariantsError, loadInvariants } from '../config/load';
import { temporalSettings } from '../temporal/connection';
import { createSentinelWorker } from './worker';

async function main(): Promise<void> {
  const invariants = loadInvariants();
  const settings = temporalSettings();
  const sentinel = await createSentinelWorker({
    invariants,
    temporal: settings,
    ...(process.env.SENTINEL_LOCAL_WORK_ROOT ? { localWorkRoot: process.env.SENTINEL_LOCAL_WORK_ROOT } : {}),
  });
  console.log(
    JSON.stringify({ level: 'info', message: 'sentinel worker started', taskQueue: sentinel.taskQueue, address: settings.address, namespace: settings.namespace, invariants: invariants.file }),
  );
  await sentinel.worker.run();
  await sentinel.close();
}

main().catch((err) => {
  if (err instanceof InvariantsError) {
    console.error(err.message);
    process.exit(3);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
