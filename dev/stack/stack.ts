/**
 * The dev stack the demo, the tests and the benchmarks run on: a real
 * Temporal dev server, moto_server and an OCI registry (docker-registry),
 * all on free loopback ports, and an
 * emulated AWS account with the sandbox's network (./network.ts), bootstrapped for the sandbox environment with the
 * same code operators use (`sentinel bootstrap --apply`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { clientConfigToToml } from '@temporalio/envconfig';
import path from 'node:path';
import { AwsClients } from '../../src/aws/clients';
import { bootstrapEnvironment } from '../../src/bootstrap/bootstrap';
import { environmentOf } from '../../src/config/environment';
import type { LoadedInvariants } from '../../src/config/load';
import { startReferenceControlPlane, type ReferenceControlPlane } from '../control-plane/server';
import { createServiceUser, type EmulatedServiceUser } from './cognito';
import { startMoto, type MotoServer } from './moto';
import { ensureSandboxNetwork, type EmulatedNetwork } from './network';
import { startRegistry, type LocalRegistry } from './registry';
import { startTemporalDevServer, type TemporalDevServer } from './temporal-server';
import { createSandboxSigningKeys } from './kms';

export interface DevStack {
  temporal: TemporalDevServer;
  moto: MotoServer;
  controlPlane: ReferenceControlPlane;
  serviceUser: EmulatedServiceUser;
  /** The sandbox's VPC, subnets and security group in moto (the `local` environment names them). */
  network: EmulatedNetwork;
  /** Where candidate images are pushed (devstack/registry.ts pushImage); SENTINEL_REGISTRY_URL in `env`. */
  registry: LocalRegistry;
  /**
   * Variables that point AWS SDKs and Temporal clients at this stack: for
   * Temporal, a profile in a config file of the stack's own
   * (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), as the `temporal` CLI reads it too.
   */
  env: Record<string, string>;
  /** Prepares the emulated account for one environment (instance profile, evidence store). */
  bootstrap(environment: string): Promise<void>;
  stop(): Promise<void>;
}

export interface DevStackOptions {
  invariants: LoadedInvariants;
  /** The sandbox environment whose settings the reference control plane serves (default: local). */
  environment?: string;
  /** Where logs and state go. */
  workDir: string;
  ui?: boolean;
  temporalDbFile?: string;
  /** An already running Temporal to use instead of a dev server (the production-shape tier's); stop() stops it too. */
  temporal?: TemporalDevServer;
}

/** The profile of the stack's Temporal config file. */
export const DEV_STACK_PROFILE = 'devstack';

/** Credentials for the emulator only: moto accepts any. */
export const EMULATOR_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'emulator',
  AWS_SECRET_ACCESS_KEY: 'emulator',
} as const;

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  mkdirSync(options.workDir, { recursive: true });
  const [temporal, moto, registry] = await Promise.all([
    options.temporal ??
      startTemporalDevServer({
        logFile: path.join(options.workDir, 'temporal.log'),
        ...(options.ui ? { ui: true } : {}),
        ...(options.temporalDbFile ? { dbFile: options.temporalDbFile } : {}),
      }),
    startMoto({
      logFile: path.join(options.workDir, 'moto.log'),
      amisFile: path.join(options.workDir, 'moto-amis.json'),
      invariants: options.invariants,
    }),
    startRegistry({
      workDir: path.join(options.workDir, 'registry'),
      logFile: path.join(options.workDir, 'registry.log'),
    }),
  ]);
  const sandbox = environmentOf(options.invariants, options.environment ?? 'local');
  const serviceUser = await createServiceUser(sandbox.controlPlane.cognito.region, moto.endpoint);
  await createSandboxSigningKeys(options.invariants, moto.endpoint, {
    accessKeyId: EMULATOR_CREDENTIALS.AWS_ACCESS_KEY_ID,
    secretAccessKey: EMULATOR_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
  });
  const temporalConfigFile = path.join(options.workDir, 'temporal.toml');
  writeFileSync(
    temporalConfigFile,
    clientConfigToToml({
      profiles: { [DEV_STACK_PROFILE]: { address: temporal.address, namespace: temporal.namespace } },
    }),
  );
  const env: Record<string, string> = {
    TEMPORAL_CONFIG_FILE: temporalConfigFile,
    TEMPORAL_PROFILE: DEV_STACK_PROFILE,
    AWS_ENDPOINT_URL: moto.endpoint,
    SENTINEL_REGISTRY_URL: registry.url,
    ...EMULATOR_CREDENTIALS,
    ...serviceUser.env,
  };
  if (temporal.uiUrl) env.TEMPORAL_UI_URL = temporal.uiUrl;
  const controlPlaneAws = new AwsClients({
    endpoint: moto.endpoint,
    credentials: {
      accessKeyId: EMULATOR_CREDENTIALS.AWS_ACCESS_KEY_ID,
      secretAccessKey: EMULATOR_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
    },
  });
  const network = await ensureSandboxNetwork(controlPlaneAws.ec2(sandbox.awsRegion), sandbox.awsRegion);
  const controlPlane = await startReferenceControlPlane({
    invariants: options.invariants,
    environment: options.environment ?? 'local',
    aws: controlPlaneAws,
    cognito: {
      region: serviceUser.region,
      userPoolId: serviceUser.userPoolId,
      clientId: serviceUser.clientId,
    },
    onboardingTokenTtlMs: sandbox.timeouts.installer,
    env: { ...process.env, ...env },
  });
  env.RADIX_API_URL = controlPlane.url;
  return {
    temporal,
    moto,
    controlPlane,
    serviceUser,
    network,
    registry,
    env,
    async bootstrap(environment: string) {
      const settings = environmentOf(options.invariants, environment);
      const saved = { ...process.env };
      Object.assign(process.env, env);
      const aws = new AwsClients();
      try {
        const report = await bootstrapEnvironment(aws, environment, settings, { apply: true });
        const broken = report.items.filter(
          (i) => i.item !== 'approved-digest' && i.status !== 'present' && i.status !== 'created',
        );
        if (broken.length > 0)
          throw new Error(
            `bootstrap of ${environment} incomplete: ${broken.map((i) => `${i.item}: ${i.detail}`).join('; ')}`,
          );
      } finally {
        aws.destroy();
        for (const key of Object.keys(env)) {
          if (saved[key] === undefined) delete process.env[key];
          else process.env[key] = saved[key];
        }
      }
    },
    async stop() {
      await controlPlane.stop();
      controlPlaneAws.destroy();
      await Promise.all([temporal.stop(), moto.stop(), registry.stop()]);
    },
  };
}
