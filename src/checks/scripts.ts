/**
 * The check plan: the same shell scripts run through every executor. A check
 * is `ops/checks/lib.sh` + `ops/checks/<check>.sh`, preceded by its inputs as
 * exported variables, so SSM Run Command and the local executor run the very
 * same bytes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/load';

export const CHECKS_DIR = path.join(PROJECT_ROOT, 'ops', 'checks');

export type CheckName = 'gpu-detect' | 'container-runtime' | 'install-agent';

const cache = new Map<string, string>();

function readCheckFile(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    text = readFileSync(path.join(CHECKS_DIR, file), 'utf8');
    cache.set(file, text);
  }
  return text;
}

/** Single-quoted for POSIX sh: nothing inside is expanded. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function buildCheckScript(check: CheckName, inputs: Record<string, string> = {}): string {
  const exports = Object.entries(inputs).map(([name, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`check input name ${name} is not an upper-case shell variable name`);
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
