/**
 * The control plane's installer service for tests: in this process (with its
 * log captured), or as its own process (`npm run cloud-api`), against the
 * suite's moto_server. And a TCP proxy in front of moto that a test can turn
 * into an unreachable or hanging SSM.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AwsClients } from '../../src/aws/clients';
import { PROJECT_ROOT } from '../../src/config/load';
import { buildCloudApi, resolveApiUrl, type CloudApi } from '../../src/cloud-api/server';
import { INSTALLER_PATH } from '../../src/cloud-api/installer';
import { startProcess, waitUntil, type ManagedProcess } from '../../dev/stack/process';
import type { TestEnvironment } from './invariants';
import { sharedStack, suiteDir } from './stack';

const running = new Set<{ stop(): Promise<void> }>();

export interface TestCloudApi {
  api: CloudApi;
  url: string;
  aws: AwsClients;
  /** Every log line the service wrote. */
  logs: string[];
  /** GET /v1/clusters/installer with these query parameters (and headers). */
  installer(query: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
  health(): Promise<HealthReport>;
  stop(): Promise<void>;
}

export interface HealthReport {
  status: string;
  approvedDigest: { reads: number; hits: number; shared: number; misses: number; cacheTtlMs: number };
  attestation: {
    required: boolean;
    kmsKeyId: string;
    verifications?: number;
    passed?: number;
    refused?: number;
    unavailable?: number;
    registryRequests: number;
  };
  awsCalls: Record<string, number>;
}

function installerUrl(base: string, query: Record<string, string>): string {
  const qs = new URLSearchParams(query).toString();
  return `${base}${INSTALLER_PATH}${qs ? `?${qs}` : ''}`;
}

/** The service in this process, on a free loopback port. */
export async function startTestCloudApi(
  env: TestEnvironment,
  options: { grantKey?: Uint8Array; cache?: boolean } = {},
): Promise<TestCloudApi> {
  await sharedStack(); // AWS_ENDPOINT_URL points at the suite's moto_server from here on
  const aws = new AwsClients();
  const logs: string[] = [];
  const settings = env.invariants.environments[env.name]!;
  const api = buildCloudApi({
    invariants: env.invariants,
    environment: env.name,
    apiUrl: resolveApiUrl(settings.controlPlane.baseUrl, {}),
    aws,
    cache: options.cache ?? true,
    grantKey: options.grantKey,
    logger: { level: 'info', stream: { write: (line: string) => void logs.push(line) } },
  });
  const url = await api.listen('127.0.0.1', 0);
  const handle: TestCloudApi = {
    api,
    url,
    aws,
    logs,
    installer: (query, headers = {}) => fetch(installerUrl(url, query), { headers }),
    health: async () => (await (await fetch(`${url}/healthz`)).json()) as HealthReport,
    async stop() {
      running.delete(handle);
      await api.close();
      aws.destroy();
    },
  };
  running.add(handle);
  return handle;
}

export interface CloudApiProcess {
  url: string;
  proc: ManagedProcess;
  installer(query: Record<string, string>): Promise<Response>;
  health(): Promise<HealthReport>;
  stop(): Promise<void>;
}

/** `npm run cloud-api -- --env <env> --port 0` as its own process, with extra variables (e.g. another AWS endpoint). */
export async function startCloudApiProcess(
  env: TestEnvironment,
  vars: Record<string, string>,
  logName: string,
): Promise<CloudApiProcess> {
  const stack = await sharedStack();
  const logFile = path.join(suiteDir, `${logName}.log`);
  const proc = startProcess(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(PROJECT_ROOT, 'src/cloud-api/main.ts'),
      '--env',
      env.name,
      '--invariants',
      env.file,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
    ],
    logFile,
    { ...process.env, ...stack.env, ...vars },
  );
  let url = '';
  await waitUntil(
    'cloud-api process',
    async () => {
      const line = readFileSync(logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes('"cloud-api listening"'));
      if (line) url = (JSON.parse(line) as { url: string }).url;
      return url !== '';
    },
    60_000,
    proc,
  );
  const handle: CloudApiProcess = {
    url,
    proc,
    installer: (query) => fetch(installerUrl(url, query)),
    health: async () => (await (await fetch(`${url}/healthz`)).json()) as HealthReport,
    async stop() {
      running.delete(handle);
      await proc.stop('SIGTERM');
    },
  };
  running.add(handle);
  return handle;
}

export async function stopAllCloudApis(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
}

export type ProxyMode = 'forward' | 'refuse' | 'hang';

export interface TcpProxy {
  url: string;
  /** forward to the target; refuse (reset every connection); hang (accept and never answer). Open connections are dropped. */
  set(mode: ProxyMode): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy to `target` (http://host:port). */
export async function tcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  let mode: ProxyMode = 'forward';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'hang') return;
    const upstream = net.connect(Number(port), hostname);
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    set(next) {
      mode = next;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
