/**
 * The check plan: the same shell scripts run through every executor. A check
 * is `ops/checks/lib.sh` + `ops/checks/<check>.sh`, preceded by its inputs as
 * exported variables, so SSM Run Command and the local executor run the very
 * same bytes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, SETUP_SCRIPTS_DIR } from '../config/load';

export const CHECKS_DIR = path.join(PROJECT_ROOT, 'ops', 'checks');
/** Host preparation scripts a target's `setup` list names (`ops/setup/<name>.sh`). */
export const SETUP_DIR = SETUP_SCRIPTS_DIR;

export type CheckName = 'gpu-detect' | 'container-runtime' | 'install-agent';

const cache = new Map<string, string>();

function readCheckFile(file: string, dir = CHECKS_DIR): string {
  const key = path.join(dir, file);
  let text = cache.get(key);
  if (text === undefined) {
    text = readFileSync(key, 'utf8');
    cache.set(key, text);
  }
  return text;
}

/** Single-quoted for POSIX sh: nothing inside is expanded. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function buildCheckScript(check: CheckName, inputs: Record<string, string> = {}): string {
  const exports = Object.entries(inputs).map(([name, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name))
      throw new Error(`check input name ${name} is not an upper-case shell variable name`);
    return `export ${name}=${shellQuote(value)}`;
  });
  return [
    '#!/bin/sh',
    `# Sentinel check: ${check}`,
    ...exports,
    readCheckFile('lib.sh'),
    readCheckFile(`${check}.sh`),
  ].join('\n');
}

/** The setup scripts there are (`ops/setup/*.sh` but the shared lib.sh), by name. */
export function setupScriptNames(): string[] {
  if (!existsSync(SETUP_DIR)) return [];
  return readdirSync(SETUP_DIR)
    .filter((f) => f.endsWith('.sh') && f !== 'lib.sh')
    .map((f) => f.slice(0, -3))
    .sort();
}

/** A setup script as it runs on the host: the check helpers, the setup helpers, then the script. */
export function buildSetupScript(name: string): string {
  if (!setupScriptNames().includes(name))
    throw new Error(`unknown setup script ${name} (no ops/setup/${name}.sh)`);
  return [
    '#!/bin/sh',
    `# Sentinel host setup: ${name}`,
    `export RADIX_SETUP_SCRIPT=${shellQuote(name)}`,
    readCheckFile('lib.sh'),
    readCheckFile('lib.sh', SETUP_DIR),
    readCheckFile(`${name}.sh`, SETUP_DIR),
  ].join('\n');
}
