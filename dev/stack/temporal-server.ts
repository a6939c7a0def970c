/**
 * The real Temporal dev server (`temporal server start-dev`), with Sentinel's
 * search attributes registered, on free loopback ports.
 */
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/definitions';
import { freePort, startProcess, waitUntil, type ManagedProcess } from './process';
import { temporalBinary } from './tools';

export interface TemporalDevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface TemporalDevServerOptions {
  logFile: string;
  /** Keeps state across restarts of the server. */
  dbFile?: string;
  /** Serve the Web UI too. */
  ui?: boolean;
  port?: number;
}

const TYPE_NAMES: Record<string, string> = {
  KEYWORD: 'Keyword',
  TEXT: 'Text',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export function searchAttributeFlags(): string[] {
  return Object.values(SEARCH_ATTRIBUTES).flatMap((key) => [
    '--search-attribute',
    `${key.name}=${TYPE_NAMES[key.type]}`,
  ]);
}

export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const port = options.port ?? (await freePort());
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
    '--namespace',
    'default',
    '--log-level',
    'warn',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    // Worker Versioning (on by default in the server since 1.28): a worker's deployment defaults to its task
    // queue, and a test suite gives every test its own task queue, past the default limit of 100 per namespace.
    '--dynamic-config-value',
    'matching.maxDeployments=1000',
    ...searchAttributeFlags(),
  ];
  let uiUrl: string | undefined;
  if (options.ui) {
    const uiPort = await freePort();
    args.push('--ui-port', String(uiPort), '--ui-disable-news-fetch');
    uiUrl = `http://127.0.0.1:${uiPort}`;
  } else {
    args.push('--headless');
  }
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  const proc = startProcess(temporalBinary(), args, options.logFile);
  const address = `127.0.0.1:${port}`;
  await waitUntil(
    'temporal dev server',
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return true;
      } finally {
        await connection.close();
      }
    },
    60_000,
    proc,
  );
  return {
    address,
    namespace: 'default',
    ...(uiUrl ? { uiUrl } : {}),
    process: proc,
    stop: () => proc.stop(),
  };
}
