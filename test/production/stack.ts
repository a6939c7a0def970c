/**
 * The production-shape stack: what docker-compose.temporal.yml runs, outside
 * Docker, at the versions it pins.
 *   - PostgreSQL of the compose file's major, from the machine's Debian packages;
 *   - Temporal's two databases made by deploy/temporal/setup-schema.sh (the
 *     compose's `temporal-schema` step) with temporal-sql-tool;
 *   - the Temporal server built from go.temporal.io/server at the compose's
 *     temporalio/server tag (scripts/ensure-temporal-server.sh), with the
 *     compose's dynamic config;
 *   - the namespace and search attributes by deploy/temporal/setup-namespace.sh
 *     (the compose's `temporal-setup` step), with the compose's variables;
 *   - moto, the registry and the reference control plane of the dev stack.
 * It is installed under test/support (useStack), so the suite's helpers work on it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { loadInvariants, PROJECT_ROOT } from '../../src/config/load';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '../../dev/stack/process';
import { startDevStack, type DevStack } from '../../dev/stack/stack';
import type { TemporalDevServer } from '../../dev/stack/temporal-server';
import { temporalBinary } from '../../dev/stack/tools';
import { useStack } from '../support/stack';

type Json = Record<string, any>;

export const compose = (): Json =>
  parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.temporal.yml'), 'utf8')) as Json;

/** `temporalio/server:1.30.1` → 1.30.1; `postgres:15-bookworm@sha256:…` → 15. */
export function composeVersions(): { temporal: string; postgresMajor: string } {
  const services = compose().services as Json;
  const temporal = /^temporalio\/server:(\d+\.\d+\.\d+)$/.exec(services.temporal.image)?.[1];
  const postgresMajor = /^postgres:(\d+)[\w.-]*@sha256:[0-9a-f]{64}$/.exec(services.postgresql.image)?.[1];
  if (!temporal || !postgresMajor)
    throw new Error(
      `docker-compose.temporal.yml pins no Temporal or PostgreSQL version (${services.temporal.image}, ${services.postgresql.image})`,
    );
  return { temporal, postgresMajor };
}

function required(variable: string): string {
  const value = process.env[variable];
  if (!value)
    throw new Error(
      `${variable} is not set: run the tier with \`npm run test:production\` (scripts/test-production.sh)`,
    );
  return value;
}

/** The bin directory of the machine's PostgreSQL of this major (Debian: /usr/lib/postgresql/<major>/bin). */
export function postgresBin(major: string): string {
  const dir = `/usr/lib/postgresql/${major}/bin`;
  const out = spawnSync(path.join(dir, 'postgres'), ['--version'], { encoding: 'utf8' });
  if (out.status !== 0)
    throw new Error(
      `PostgreSQL ${major} is not installed (${dir}/postgres): apt-get install postgresql-${major}`,
    );
  return dir;
}

// PostgreSQL refuses to run as root: its files and process belong to the `postgres` user.
const asPostgres = (command: string, args: string[]): [string, string[]] => [
  'setpriv',
  ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args],
];

export interface Postgres {
  port: number;
  passwordFile: string;
  version: string;
  stop(): Promise<void>;
}

export async function startPostgres(logDir: string, major: string): Promise<Postgres> {
  const bin = postgresBin(major);
  const base = mkdtempSync(path.join(os.tmpdir(), 'sentinel-pg-'));
  const owner = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const group = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(base, owner, group);
  const passwordFile = path.join(base, 'postgres_password');
  writeFileSync(passwordFile, `${Math.random().toString(36).slice(2)}${Date.now().toString(36)}\n`, {
    mode: 0o600,
  });
  chownSync(passwordFile, owner, group);
  const data = path.join(base, 'data');
  const [initdb, initArgs] = asPostgres(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'temporal',
    '--pwfile',
    passwordFile,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
  ]);
  execFileSync(initdb, initArgs, { stdio: 'ignore' });
  const port = await freePort();
  const [command, args] = asPostgres(path.join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    base,
    '-c',
    'listen_addresses=127.0.0.1',
  ]);
  const proc = startProcess(command, args, path.join(logDir, 'postgresql.log'));
  await waitUntil(
    'PostgreSQL',
    async () => spawnSync(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).status === 0,
    60_000,
    proc,
  );
  const version = execFileSync(path.join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  return {
    port,
    passwordFile,
    version,
    async stop() {
      await proc.stop('SIGINT'); // PostgreSQL's fast shutdown
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** A folder for PATH with temporal-sql-tool (the module's `sql`) and an `nc -z` for setup-schema.sh's wait. */
function adminToolsPath(workDir: string): string {
  const dir = path.join(workDir, 'admin-tools-bin');
  mkdirSync(dir, { recursive: true });
  rmSync(path.join(dir, 'temporal-sql-tool'), { force: true });
  execFileSync('ln', [
    '-s',
    path.join(required('SENTINEL_TEMPORAL_SERVER_DIR'), 'sql'),
    path.join(dir, 'temporal-sql-tool'),
  ]);
  // setup-schema.sh only asks `nc -z -w 5 <host> <port>`: answered by bash's /dev/tcp.
  writeFileSync(
    path.join(dir, 'nc'),
    '#!/usr/bin/env bash\nhost="${@: -2:1}" port="${@: -1}"\nexec timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port"\n',
    { mode: 0o755 },
  );
  rmSync(path.join(dir, 'temporal'), { force: true });
  execFileSync('ln', ['-s', temporalBinary(), path.join(dir, 'temporal')]);
  return dir;
}

function runScript(script: string, env: NodeJS.ProcessEnv, logFile: string): void {
  const out = spawnSync('sh', [path.join(PROJECT_ROOT, 'deploy/temporal', script)], {
    env,
    encoding: 'utf8',
    timeout: 300_000,
  });
  writeFileSync(logFile, `${out.stdout ?? ''}${out.stderr ?? ''}`);
  if (out.status !== 0)
    throw new Error(
      `deploy/temporal/${script} failed (exit ${out.status}); see ${logFile}:\n${out.stdout}${out.stderr}`,
    );
}

/** A free loopback port below the ephemeral range (which starts at 32768 on Linux). */
async function freeLowPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export interface ProductionTemporal extends TemporalDevServer {
  version: string;
  /** SIGKILL, as a crashed host would. */
  kill(): Promise<void>;
  /** Starts the server again on the same database and ports. */
  start(): Promise<void>;
}

async function startTemporalServer(workDir: string, postgres: Postgres): Promise<ProductionTemporal> {
  const serverDir = required('SENTINEL_TEMPORAL_SERVER_DIR');
  const bin = path.join(serverDir, 'server');
  const version =
    /version (\S+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  const password = readFileSync(postgres.passwordFile, 'utf8').trim();
  // The cluster-membership table keeps ports as smallint: every port stays below 32768.
  const ports: number[] = [];
  while (ports.length < 10) {
    const p = await freeLowPort();
    if (!ports.includes(p)) ports.push(p);
  }
  const [
    frontend,
    frontendMembership,
    frontendHttp,
    history,
    historyMembership,
    matching,
    matchingMembership,
    worker,
    workerMembership,
    metrics,
  ] = ports as [number, number, number, number, number, number, number, number, number, number];
  const store = (db: string, conns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: db,
      connectAddr: `127.0.0.1:${postgres.port}`,
      connectProtocol: 'tcp',
      user: 'temporal',
      password,
      maxConns: conns,
      maxIdleConns: conns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, extra: Json = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra },
  });
  // The shape of the server image's config for DB=postgres12 (NUM_HISTORY_SHARDS 4), on loopback ports.
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: {
        'postgres-default': store('temporal', 20),
        'postgres-visibility': store('temporal_visibility', 10),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: {
        prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${metrics}` },
      },
    },
    services: {
      frontend: rpc(frontend, frontendMembership, { httpPort: frontendHttp }),
      matching: rpc(matching, matchingMembership),
      history: rpc(history, historyMembership),
      worker: rpc(worker, workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    // The compose's DYNAMIC_CONFIG_FILE_PATH.
    dynamicConfigClient: {
      filepath: path.join(PROJECT_ROOT, 'deploy/temporal/dynamicconfig.yaml'),
      pollInterval: '10s',
    },
  };
  const configFile = path.join(workDir, 'temporal-server.yaml');
  writeFileSync(configFile, stringify(config), { mode: 0o600 });
  const address = `127.0.0.1:${frontend}`;
  let proc: ManagedProcess | undefined;
  const handle: ProductionTemporal = {
    address,
    namespace: 'default',
    version,
    get process() {
      return proc!;
    },
    async start() {
      proc = startProcess(
        bin,
        ['--config-file', configFile, '--allow-no-auth', 'start'],
        path.join(workDir, 'temporal-server.log'),
      );
      await waitUntil(
        'Temporal server',
        async () => {
          const connection = await Connection.connect({ address, connectTimeout: 1_000 });
          try {
            await connection.workflowService.getSystemInfo({});
            return true;
          } finally {
            await connection.close();
          }
        },
        180_000,
        proc,
      );
    },
    async kill() {
      await proc?.stop('SIGKILL');
    },
    async stop() {
      await proc?.stop('SIGTERM');
    },
  };
  await handle.start();
  return handle;
}

/** Until the namespace answers a visibility count (its cache refreshes some seconds after creation). */
async function namespaceServed(address: string, namespace: string): Promise<void> {
  await waitUntil(
    `namespace ${namespace}`,
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.countWorkflowExecutions({ namespace, query: '' });
        return true;
      } finally {
        await connection.close();
      }
    },
    60_000,
  );
}

export interface ProductionStack extends DevStack {
  temporal: ProductionTemporal;
  postgres: Postgres;
}

let current: ProductionStack | undefined;

export function productionStack(): ProductionStack {
  if (!current) throw new Error('the production stack is not running');
  return current;
}

/** Makes test/support's shared stack this one. */
export function useProductionStack(): void {
  useStack(async (workDir) => {
    mkdirSync(workDir, { recursive: true });
    const versions = composeVersions();
    const postgres = await startPostgres(workDir, versions.postgresMajor);
    try {
      const tools = adminToolsPath(workDir);
      const PATH = `${tools}${path.delimiter}${process.env.PATH ?? ''}`;
      const schema = compose().services['temporal-schema'].environment as Json;
      runScript(
        'setup-schema.sh',
        {
          ...process.env,
          PATH,
          POSTGRES_SEEDS: '127.0.0.1',
          DB_PORT: String(postgres.port),
          POSTGRES_USER: schema.POSTGRES_USER,
          POSTGRES_PASSWORD_FILE: postgres.passwordFile,
          TEMPORAL_SCHEMA_DIR: required('TEMPORAL_SCHEMA_DIR'),
        },
        path.join(workDir, 'setup-schema.log'),
      );
      const temporal = await startTemporalServer(workDir, postgres);
      const setup = compose().services['temporal-setup'].environment as Json;
      // The compose file restarts this one-shot on failure (a namespace just created is not served at once): so does this.
      for (let attempt = 1; ; attempt++) {
        try {
          runScript(
            'setup-namespace.sh',
            { ...process.env, ...setup, PATH, TEMPORAL_ADDRESS: temporal.address },
            path.join(workDir, `setup-namespace-${attempt}.log`),
          );
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 3_000));
        }
      }
      await namespaceServed(temporal.address, setup.SENTINEL_NAMESPACE);
      const stack = await startDevStack({ invariants: loadInvariants(), workDir, temporal });
      const stop = stack.stop.bind(stack);
      current = {
        ...stack,
        temporal,
        postgres,
        async stop() {
          await stop();
          await postgres.stop();
          current = undefined;
        },
      };
      return current;
    } catch (err) {
      await postgres.stop();
      throw err;
    }
  });
}
