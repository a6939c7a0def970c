import type { Client } from '@temporalio/client';
import type { AwsClients } from '../aws/clients';
import type { LoadedInvariants } from '../config/load';
import type { ControlPlanes } from '../control-plane/clients';
import type { Executors } from '../executors';

/** What the worker builds once at start and hands to every activity. */
export interface ActivityDeps {
  invariants: LoadedInvariants;
  aws: AwsClients;
  executors: Executors;
  /** For activities that talk to Temporal itself (the lane, open-run checks). */
  temporal: Client;
  /** Control-plane clients, with the worker's cache of the service user's token. */
  controlPlanes: ControlPlanes;
}
