/**
 * Where check scripts run. Production runs them on the EC2 host through SSM
 * Run Command; the demo and the tests run them on this machine against a
 * simulated host. Both get the same script bytes (src/checks/scripts.ts).
 */
export interface HostRef {
  instanceId: string;
  target: string;
  region: string;
}

/** What a waiting executor needs from its caller: cancellation-aware sleep and heartbeats. */
export interface WaitContext {
  sleep(ms: number): Promise<void>;
  heartbeat(details?: unknown): void;
  signal: AbortSignal;
}

export interface RunScriptOptions {
  /** Name for logs and SSM's comment, e.g. `gpu-detect`. */
  name: string;
  timeoutMs: number;
  wait: WaitContext;
  polling: { initialMs: number; maxMs: number };
  /** A command already started by an earlier attempt of the same activity, to follow instead of starting anew. */
  resumeCommandId?: string;
  /** Called with the command's id once started, so a retried activity can resume it. */
  onStarted?(commandId: string): void;
  /**
   * Values the script needs that must never be in the command's text or any process's arguments
   * (NAME → value); the script reads them with `load_secrets` (ops/checks/lib.sh). Each executor
   * delivers them its own way (src/executors/secrets.ts).
   */
  secrets?: Record<string, string>;
}

export interface ScriptResult {
  status: 'success' | 'failed' | 'timed_out';
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  commandId: string;
}

export interface Readiness {
  ready: boolean;
  /** Why not yet, for heartbeats and timeout messages. */
  detail: string;
}

export interface HostExecutor {
  readonly kind: 'ssm' | 'local';
  /** One readiness probe; the caller polls. */
  probeReady(host: HostRef): Promise<Readiness>;
  runScript(host: HostRef, script: string, options: RunScriptOptions): Promise<ScriptResult>;
  /** Frees whatever the executor holds for the host (called at cleanup, idempotent). */
  release(host: HostRef): Promise<void>;
}

/** Polls `probe` with exponential backoff (doubling up to `maxMs`) until it returns a value. */
export async function pollWithBackoff<T>(
  wait: WaitContext,
  polling: { initialMs: number; maxMs: number },
  probe: (attempt: number) => Promise<T | undefined>,
): Promise<T> {
  let delay = polling.initialMs;
  for (let attempt = 1; ; attempt++) {
    const value = await probe(attempt);
    if (value !== undefined) return value;
    await wait.sleep(delay);
    delay = Math.min(delay * 2, polling.maxMs);
  }
}
