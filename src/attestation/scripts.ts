/**
 * What an attestation says was sent to the hosts: the sha256 of every check
 * script (and, once targets name them, setup script) exactly as shipped.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/load';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** `ops/checks/<file>` and `ops/setup/<file>` → sha256 hex. */
export function hostScriptDigests(): Record<string, string> {
  const digests: Record<string, string> = {};
  for (const dir of ['ops/checks', 'ops/setup']) {
    const abs = path.join(PROJECT_ROOT, dir);
    if (!existsSync(abs)) continue;
    for (const file of readdirSync(abs).sort()) {
      if (file.endsWith('.sh')) digests[`${dir}/${file}`] = sha256(readFileSync(path.join(abs, file)));
    }
  }
  return digests;
}

/** A target's configuration as the run captured it, hashed in a stable key order. */
export function configDigest(value: unknown): string {
  const stable = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(stable)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, x]) => [k, stable(x)]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(stable(value)))
    .digest('hex');
}
