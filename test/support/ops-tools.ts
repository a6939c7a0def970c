/**
 * The deployment checkers scripts/ensure-tools.sh installs into .tools/bin:
 * Docker Compose and actionlint. A missing checker fails the test that needs
 * it with the way to install it; nothing is skipped.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';

const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'bin');

function resolve(variable: string, name: string): string {
  const explicit = process.env[variable];
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`${variable}=${explicit} does not exist`);
    return explicit;
  }
  const local = path.join(TOOLS_BIN, name);
  if (existsSync(local)) return local;
  throw new Error(
    `${name} not found: run \`bash scripts/ensure-tools.sh\` (builds it with Go into .tools/bin) or set ${variable}`,
  );
}

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The command line as run, for messages. */
  display: string;
}

function hasDockerCli(): boolean {
  try {
    execFileSync('docker', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `docker compose <args>`: through the docker CLI with the compose plugin
 * (the system's, else the one in .tools/docker/cli-plugins), or the compose
 * binary alone where no docker CLI is installed.
 */
export function dockerCompose(args: string[]): CommandResult {
  const env = { ...process.env };
  let command: string;
  let argv: string[];
  if (hasDockerCli()) {
    const system = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', env });
    if (system.status !== 0) {
      resolve('SENTINEL_DOCKER_COMPOSE', 'docker-compose');
      env.DOCKER_CONFIG = path.join(PROJECT_ROOT, '.tools', 'docker');
    }
    command = 'docker';
    argv = ['compose', ...args];
  } else {
    command = resolve('SENTINEL_DOCKER_COMPOSE', 'docker-compose');
    argv = args;
  }
  const out = spawnSync(command, argv, { cwd: PROJECT_ROOT, encoding: 'utf8', env, timeout: 60_000 });
  return {
    status: out.status,
    stdout: out.stdout ?? '',
    stderr: out.stderr ?? String(out.error ?? ''),
    display: [command, ...argv].join(' '),
  };
}

export function actionlint(files: string[]): CommandResult {
  const command = resolve('SENTINEL_ACTIONLINT', 'actionlint');
  const out = spawnSync(command, ['-no-color', ...files], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return {
    status: out.status,
    stdout: out.stdout ?? '',
    stderr: out.stderr ?? '',
    display: [command, ...files].join(' '),
  };
}

/** `promtool` (Debian's prometheus package, installed by scripts/ensure-tools.sh): SENTINEL_PROMTOOL, else PATH. */
export function promtool(args: string[], cwd = PROJECT_ROOT): CommandResult {
  let command = process.env.SENTINEL_PROMTOOL;
  if (command) {
    if (!existsSync(command)) throw new Error(`SENTINEL_PROMTOOL=${command} does not exist`);
  } else {
    const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
    if (!found)
      throw new Error(
        'promtool not found: run `bash scripts/ensure-tools.sh` as root (apt-get install prometheus), or set SENTINEL_PROMTOOL',
      );
    command = found;
  }
  const out = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return {
    status: out.status,
    stdout: out.stdout ?? '',
    stderr: out.stderr ?? String(out.error ?? ''),
    display: [command, ...args].join(' '),
  };
}
