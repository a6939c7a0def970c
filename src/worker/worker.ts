/**
 * Builds the Sentinel worker: one task queue, the three workflows, every
 * activity with its dependencies (configuration, AWS clients, executors, a
 * Temporal client for the lane).
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { AwsClients } from '../aws/clients';
import type { LoadedInvariants } from '../config/load';
import { ControlPlanes } from '../control-plane/clients';
import { Executors } from '../executors';
import { taskQueueOf, type TemporalConfig } from '../temporal/connection';
import {
  makeCurrentIfNone,
  workerVersioningSettings,
  type CurrentVersionOutcome,
  type WorkerVersioning,
} from './versioning';

export interface SentinelWorkerOptions {
  invariants: LoadedInvariants;
  temporal: TemporalConfig;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Where the local executor keeps simulated hosts' disks. */
  localWorkRoot?: string;
  aws?: AwsClients;
  /** Worker Versioning; by default from SENTINEL_WORKER_VERSIONING, SENTINEL_DEPLOYMENT_NAME, SENTINEL_BUILD_ID (src/worker/versioning.ts). */
  versioning?: WorkerVersioning;
}

export interface SentinelWorker {
  worker: Worker;
  aws: AwsClients;
  /** The worker's Temporal client (the lane's activities and the fleet gauges use it). */
  client: Client;
  taskQueue: string;
  versioning: WorkerVersioning;
  /**
   * Settles once the worker's version is registered: made current if the
   * deployment had none, else left to the operator ('stopped' if closed first;
   * 'stopped' at once when versioning is off).
   */
  currentVersion: Promise<CurrentVersionOutcome>;
  /** Stops polling, lets running activities finish or fail over, and closes connections. */
  close(): Promise<void>;
}

export async function createSentinelWorker(options: SentinelWorkerOptions): Promise<SentinelWorker> {
  const taskQueue = taskQueueOf(options.invariants.temporal.taskQueue);
  const versioning = options.versioning ?? workerVersioningSettings(taskQueue);
  const aws = options.aws ?? new AwsClients();
  const clientConnection = await Connection.connect(options.temporal.connectionOptions);
  const temporal = new Client({ connection: clientConnection, namespace: options.temporal.namespace });
  const connection = await NativeConnection.connect(options.temporal.connectionOptions);
  const controlPlanes = new ControlPlanes();
  const activities = createActivities({
    invariants: options.invariants,
    aws,
    executors: new Executors(aws, options.localWorkRoot),
    temporal,
    controlPlanes,
  });
  const worker = await Worker.create({
    connection,
    namespace: options.temporal.namespace,
    taskQueue,
    activities,
    // The workflows say PINNED or AUTO_UPGRADE each (src/workflows/); a type that does not is pinned.
    ...(versioning.enabled
      ? {
          workerDeploymentOptions: {
            useWorkerVersioning: true,
            version: versioning.version,
            defaultVersioningBehavior: 'PINNED',
          },
        }
      : {}),
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
  });
  const stopAdopting = new AbortController();
  const currentVersion = versioning.enabled
    ? makeCurrentIfNone(clientConnection, options.temporal.namespace, versioning.version, stopAdopting.signal)
    : Promise.resolve<CurrentVersionOutcome>('stopped');
  currentVersion.catch(() => undefined); // a caller that does not wait for it must not crash on it
  return {
    worker,
    aws,
    client: temporal,
    taskQueue,
    versioning,
    currentVersion,
    async close() {
      stopAdopting.abort();
      await currentVersion.catch(() => undefined);
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await connection.close();
      await clientConnection.close();
      controlPlanes.destroy();
      if (!options.aws) aws.destroy();
    },
  };
}
