/**
 * `npm run worker`: the Sentinel worker process. Configured by
 * ops/invariants.yaml (or SENTINEL_INVARIANTS), Temporal's client configuration
 * (a profile and the TEMPORAL_* variables, src/temporal/connection.ts) and the observability variables
 * (src/worker/telemetry.ts: SENTINEL_METRICS_ADDRESS, SENTINEL_LOG_LEVEL).
 * SENTINEL_WORKFLOW_BUNDLE names a pre-built workflow bundle (the image has one).
 * Worker Versioning: SENTINEL_WORKER_VERSIONING, SENTINEL_DEPLOYMENT_NAME,
 * SENTINEL_BUILD_ID (src/worker/versioning.ts, docs/versioning.md).
 */
import { Runtime } from '@temporalio/worker';
import { InvariantsError, loadInvariants } from '../config/load';
import { loadTemporalConfig, TemporalConfigError } from '../temporal/connection';
import { startAlertGauges } from './alert-gauges';
import { installTelemetry, startFleetGauges, telemetrySettings } from './telemetry';
import { versionId, WorkerVersioningError } from './versioning';
import { createSentinelWorker } from './worker';

async function main(): Promise<void> {
  const telemetry = telemetrySettings();
  installTelemetry(telemetry);
  const invariants = loadInvariants();
  const settings = loadTemporalConfig();
  const sentinel = await createSentinelWorker({
    invariants,
    temporal: settings,
    ...(process.env.SENTINEL_LOCAL_WORK_ROOT ? { localWorkRoot: process.env.SENTINEL_LOCAL_WORK_ROOT } : {}),
    ...(process.env.SENTINEL_WORKFLOW_BUNDLE
      ? { workflowBundle: { codePath: process.env.SENTINEL_WORKFLOW_BUNDLE } }
      : {}),
  });
  const gauges = telemetry.metricsAddress ? startFleetGauges(sentinel.client, sentinel.taskQueue) : undefined;
  const alertGauges = telemetry.metricsAddress
    ? startAlertGauges({ client: sentinel.client, aws: sentinel.aws, invariants })
    : undefined;
  Runtime.instance().logger.info('sentinel worker started', {
    taskQueue: sentinel.taskQueue,
    address: settings.address,
    namespace: settings.namespace,
    invariants: invariants.file,
    workerVersion: sentinel.versioning.enabled ? versionId(sentinel.versioning.version) : 'unversioned',
    ...(telemetry.metricsAddress ? { metrics: `http://${telemetry.metricsAddress}/metrics` } : {}),
  });
  if (sentinel.versioning.enabled) {
    const version = versionId(sentinel.versioning.version);
    sentinel.currentVersion.then(
      (outcome) => {
        if (outcome !== 'stopped')
          Runtime.instance().logger.info(`worker version ${outcome}`, { workerVersion: version, outcome });
      },
      (err) => {
        Runtime.instance().logger.error("could not look up the worker deployment's current version", {
          workerVersion: version,
          error: err instanceof Error ? err.message : String(err),
        });
      },
    );
  }
  await sentinel.worker.run();
  gauges?.stop();
  alertGauges?.stop();
  await sentinel.close();
}

main().catch((err) => {
  if (err instanceof InvariantsError || err instanceof WorkerVersioningError) {
    console.error(err.message);
    process.exit(3);
  }
  if (err instanceof TemporalConfigError) {
    console.error(`invalid Temporal connection settings: ${err.message}`);
    process.exit(3);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
