/**
 * Loads ops/invariants.yaml once, validates it, and returns it typed.
 * An invalid file is reported with every problem at its path in the file,
 * never with a stack trace.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { invariantsSchema, type EnvironmentConfig, type Invariants } from './schema';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const DEFAULT_INVARIANTS_PATH = path.join(PROJECT_ROOT, 'ops', 'invariants.yaml');

export interface LoadedInvariants extends Invariants {
  /** Absolute path of the file this was read from. */
  file: string;
  /** sha256 of the file's bytes, recorded in evidence so a run names the exact configuration it used. */
  sha256: string;
  /** Environment variables that replaced values of the file (see ENV_OVERRIDES). */
  overrides: string[];
}

/**
 * Values CI may set from outside the file, for every environment of it: the
 * variable wins over the file. Only connection details of the control plane
 * are overridable; everything that decides what a run proves stays in the file.
 */
export const ENV_OVERRIDES: ReadonlyArray<{ variable: string; path: readonly string[] }> = [
  { variable: 'RADIX_API_URL', path: ['controlPlane', 'baseUrl'] },
  { variable: 'RADIX_COGNITO_REGION', path: ['controlPlane', 'cognito', 'region'] },
  { variable: 'RADIX_COGNITO_USER_POOL_ID', path: ['controlPlane', 'cognito', 'userPoolId'] },
  { variable: 'RADIX_COGNITO_CLIENT_ID', path: ['controlPlane', 'cognito', 'clientId'] },
];

export class InvariantsError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InvariantsError';
  }
}

/** `--invariants <path>` wins, then SENTINEL_INVARIANTS, then ops/invariants.yaml. */
export function resolveInvariantsPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = explicit ?? env.SENTINEL_INVARIANTS ?? DEFAULT_INVARIANTS_PATH;
  return path.resolve(chosen);
}

export function loadInvariants(
  explicitPath?: string,
  env: NodeJS.ProcessEnv = process.env,
): LoadedInvariants {
  const file = resolveInvariantsPath(explicitPath, env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new InvariantsError(file, [`${reason}; pass --invariants <path> or set SENTINEL_INVARIANTS`]);
  }
  return parseInvariants(text, file, env);
}

export function parseInvariants(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): LoadedInvariants {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InvariantsError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
      }),
    );
  }
  const data = withoutExtensions(doc.toJS());
  const overrides = applyOverrides(data, env);
  const result = invariantsSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    throw new InvariantsError(
      file,
      formatIssues(result.error.issues).map((problem, i) => {
        const issuePath = result.error.issues[i]!.path.join('.');
        const source = ENV_OVERRIDES.find(
          (o) => overrides.includes(o.variable) && issuePath.endsWith(o.path.join('.')),
        );
        return source ? `${problem} (value from ${source.variable})` : problem;
      }),
    );
  }

  const dir = path.dirname(file);
  const problems: string[] = [];
  for (const [envName, env] of Object.entries(result.data.environments)) {
    resolveLocalPaths(env, dir, `environments.${envName}`, problems);
    checkSetupScripts(env, `environments.${envName}`, problems);
  }
  if (problems.length > 0) throw new InvariantsError(file, problems);
  return { ...result.data, file, sha256: createHash('sha256').update(text).digest('hex'), overrides };
}

function applyOverrides(data: unknown, env: NodeJS.ProcessEnv): string[] {
  const applied: string[] = [];
  const environments = (data as { environments?: Record<string, unknown> } | null)?.environments;
  if (!environments || typeof environments !== 'object') return applied;
  for (const { variable, path: keys } of ENV_OVERRIDES) {
    const value = env[variable];
    if (!value) continue;
    applied.push(variable);
    for (const settings of Object.values(environments)) {
      let node = settings as Record<string, unknown> | undefined;
      for (const key of keys.slice(0, -1))
        node = (node?.[key] as Record<string, unknown> | undefined) ?? undefined;
      if (node && typeof node === 'object') node[keys[keys.length - 1]!] = value;
    }
  }
  return applied;
}

/** Top-level `x-…` keys hold YAML anchors shared between environments (as in compose files); they are not settings. */
function withoutExtensions(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([key]) => !key.startsWith('x-')));
}

/** Paths in the file are relative to the file itself, so it can be copied with its neighbours. */
function resolveLocalPaths(env: EnvironmentConfig, dir: string, where: string, problems: string[]): void {
  if (!env.evidence.location.startsWith('s3://')) {
    env.evidence.location = path.resolve(dir, env.evidence.location);
  } else if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(env.evidence.location)) {
    problems.push(`${where}.evidence.location: expected s3://<bucket>/<prefix>/ or a directory`);
  }
  if (env.executor.kind === 'local') {
    const hostsDir = path.resolve(dir, env.executor.hostsDir);
    env.executor.hostsDir = hostsDir;
    env.targets.forEach((t, i) => {
      const hostDir = path.join(hostsDir, t.name);
      if (!existsSync(hostDir) || !statSync(hostDir).isDirectory()) {
        problems.push(`${where}.targets[${i}].name: no simulated host at ${hostDir} for the local executor`);
      }
    });
  }
}

/** Setup scripts are code, not configuration: each name must be a script in ops/setup/. */
export const SETUP_SCRIPTS_DIR = path.join(PROJECT_ROOT, 'ops', 'setup');

function checkSetupScripts(env: EnvironmentConfig, where: string, problems: string[]): void {
  const known = existsSync(SETUP_SCRIPTS_DIR)
    ? readdirSync(SETUP_SCRIPTS_DIR)
        .filter((f) => f.endsWith('.sh') && f !== 'lib.sh')
        .map((f) => f.slice(0, -3))
        .sort()
    : [];
  env.targets.forEach((t, i) => {
    t.setup.forEach((name, j) => {
      if (!known.includes(name)) {
        problems.push(
          `${where}.targets[${i}].setup[${j}]: unknown setup script ${JSON.stringify(name)}: expected one of ${known.join(', ')} (ops/setup/<name>.sh)`,
        );
      }
    });
  });
}

/** `environments.dev.targets[1].ami: expected ami-…` */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const where = issue.path
      .map((part, i) =>
        typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`,
      )
      .join('');
    return `${where || '(top level)'}: ${describeIssue(issue)}`;
  });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `required (${issue.expected})` : `expected ${issue.expected}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (a typo?)`;
    default:
      return issue.message;
  }
}
