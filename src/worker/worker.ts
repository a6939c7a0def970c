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

export interface SentinelWorkerOptions {
  invariants: LoadedInvariants;
  temporal: TemporalConfig;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Where the local executor keeps simulated hosts' disks. */
  localWorkRoot?: string;
  aws?: AwsClients;
}

export interface SentinelWorker {
  worker: Worker;
  aws: AwsClients;
  /** The worker's Temporal client (the lane's activities and the fleet gauges use it). */
  client: Client;
  taskQueue: string;
  /** Stops polling, lets running activities finish or fail over, and closes connections. */
  close(): Promise<void>;
}

export async function createSentinelWorker(options: SentinelWorkerOptions): Promise<SentinelWorker> {
  const taskQueue = taskQueueOf(options.invariants.temporal.taskQueue);
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
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
  });
  return {
    worker,
    aws,
    client: temporal,
    taskQueue,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await connection.close();
      await clientConnection.close();
      controlPlanes.destroy();
      if (!options.aws) aws.destroy();
    },
  };
}
