/** Sentinel's own version (package.json), as a verifier names itself in its summaries. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/load';

let version: string | undefined;

export function sentinelVersion(): string {
  version ??= (
    JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
  ).version;
  return version;
}
