/**
 * Local executor: runs the check plan on this machine against a simulated
 * host (dev/simulated-hosts/<target>/). Used by the demo and the tests, and
 * only in sandbox environments: everything it reports is marked simulated.
 *
 * Each leg gets its own working directory, standing in for the instance's
 * disk; the environment of a check is built from scratch (no variable of the
 * worker leaks to the "host", as none would on a real instance).
 *
 * At boot (the first readiness probe) the instance gets its own root, a copy
 * of the simulated host's `root/` (what the AMI holds), which setup scripts
 * change as they would a real disk, and a base system of this machine's
 * standard tools (dev/simulated-hosts/base-tools). A script's PATH is the
 * instance's installed tools, then the AMI's simulated tools (`bin/`), then
 * that base: nothing else of this machine is reachable.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { secretAssignments, withSecretSource } from './secrets';
import type { HostExecutor, HostRef, Readiness, RunScriptOptions, ScriptResult } from './types';

const OUTPUT_LIMIT = 1 << 20;

export class LocalExecutor implements HostExecutor {
  readonly kind = 'local' as const;
  private sequence = 0;

  constructor(
    private readonly hostsDir: string,
    private readonly workRoot = path.join(os.tmpdir(), 'sentinel-hosts'),
  ) {}

  hostDir(host: HostRef): string {
    return path.join(this.hostsDir, host.target);
  }

  workDir(host: HostRef): string {
    return path.join(this.workRoot, host.instanceId);
  }

  /** The instance's own root filesystem (RADIX_HOST_ROOT of its scripts). */
  rootDir(host: HostRef): string {
    return path.join(this.workDir(host), 'root');
  }

  async probeReady(host: HostRef): Promise<Readiness> {
    if (!existsSync(this.hostDir(host)))
      return { ready: false, detail: `no simulated host at ${this.hostDir(host)}` };
    await this.boot(host);
    return { ready: true, detail: `simulated host ${host.target} ready` };
  }

  /** First boot of the instance: its root from the AMI's, and the base system. Idempotent. */
  private async boot(host: HostRef): Promise<void> {
    const workDir = this.workDir(host);
    const booted = path.join(workDir, '.booted');
    if (existsSync(booted)) return;
    await mkdir(workDir, { recursive: true });
    const image = path.join(this.hostDir(host), 'root');
    if (existsSync(image)) await cp(image, this.rootDir(host), { recursive: true, force: true });
    else await mkdir(this.rootDir(host), { recursive: true });
    const base = path.join(workDir, 'base-bin');
    await mkdir(base, { recursive: true });
    for (const tool of baseTools(this.hostsDir)) {
      const found = onMachinePath(tool);
      if (found && !existsSync(path.join(base, tool))) await symlink(found, path.join(base, tool));
    }
    await writeFile(booted, new Date().toISOString());
  }

  async runScript(host: HostRef, script: string, options: RunScriptOptions): Promise<ScriptResult> {
    const workDir = this.workDir(host);
    await this.boot(host);
    const commandId = `local-${process.pid}-${Date.now()}-${++this.sequence}`;
    const file = path.join(workDir, `${options.name}.sh`);
    // Secrets go to a file only the host's user can read, named in the script; the script removes it once read.
    const secretsFile = options.secrets ? path.join(workDir, `${options.name}.secrets`) : undefined;
    if (secretsFile) {
      await rm(secretsFile, { force: true });
      await writeFile(secretsFile, `${secretAssignments(options.secrets!)}\n`, { mode: 0o600, flag: 'wx' });
    }
    await writeFile(
      file,
      secretsFile ? withSecretSource(script, { RADIX_SECRETS_FILE: secretsFile }) : script,
      { mode: 0o700 },
    );
    const hostDir = this.hostDir(host);
    const root = this.rootDir(host);
    const env: NodeJS.ProcessEnv = {
      PATH: [
        path.join(root, 'usr', 'local', 'bin'),
        path.join(root, 'usr', 'sbin'),
        path.join(root, 'usr', 'bin'),
        path.join(hostDir, 'bin'),
        path.join(workDir, 'base-bin'),
      ].join(':'),
      HOME: workDir,
      TMPDIR: workDir,
      LANG: 'C.UTF-8',
      RADIX_HOST_ROOT: root,
      RADIX_HOST_WORKDIR: workDir,
      SENTINEL_INSTANCE_ID: host.instanceId,
      // The simulation's own machinery (the recorded tools and the package side, see dev/simulated-hosts/README.md).
      SIMULATED_HOST_DIR: hostDir,
      SIMULATED_NODE: process.execPath,
    };
    options.onStarted?.(commandId);
    const started = Date.now();
    const child = spawn(path.join(workDir, 'base-bin', 'sh'), [file], {
      cwd: workDir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += chunk.toString('utf8');
    });
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    const heartbeat = setInterval(
      () => options.wait.heartbeat({ commandId, elapsedMs: Date.now() - started }),
      1000,
    );
    options.wait.signal.addEventListener('abort', killGroup, { once: true });
    try {
      const exitCode = await new Promise<number | null>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => resolve(code));
      });
      return {
        status: timedOut ? 'timed_out' : exitCode === 0 ? 'success' : 'failed',
        exitCode,
        stdout,
        stderr,
        durationMs: Date.now() - started,
        commandId,
      };
    } finally {
      clearTimeout(timer);
      clearInterval(heartbeat);
      options.wait.signal.removeEventListener('abort', killGroup);
      if (secretsFile) await rm(secretsFile, { force: true });
    }
  }

  /** Stops what the host still runs (processes that wrote `*.pid` files in its work dir) and removes its disk. */
  async release(host: HostRef): Promise<void> {
    const workDir = this.workDir(host);
    if (!existsSync(workDir)) return;
    for (const entry of await readdir(workDir)) {
      if (!entry.endsWith('.pid')) continue;
      const pid = Number((await readFile(path.join(workDir, entry), 'utf8')).trim());
      if (Number.isInteger(pid) && pid > 1) {
        for (const target of [-pid, pid]) {
          try {
            process.kill(target, 'SIGKILL');
          } catch {
            // not running
          }
        }
      }
    }
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The base system's tool names: `<hostsDir>/base-tools`, comments and blank lines skipped. */
function baseTools(hostsDir: string): string[] {
  const file = path.join(hostsDir, 'base-tools');
  if (!existsSync(file)) throw new Error(`no ${file}: the simulated hosts directory is incomplete`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#'));
}

/** Where this machine has `tool` on the worker's own PATH. */
function onMachinePath(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, tool);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
