/**
 * Finds the `temporal`, `moto_server` and `docker-registry` binaries the way
 * scripts/ensure-tools.sh installs them: an explicit variable, then the
 * project's .tools folder, then PATH.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function resolveTool(name: string, variable: string): string {
  const explicit = process.env[variable];
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`${variable}=${explicit} does not exist`);
    return explicit;
  }
  for (const candidate of [
    path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', name),
    path.join(PROJECT_ROOT, '.tools', 'bin', name),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  const found = onPath(name);
  if (found) return found;
  throw new Error(
    `${name} not found: run \`bash scripts/ensure-tools.sh\` (installs it into .tools/) or set ${variable}`,
  );
}

export const temporalBinary = (): string => resolveTool('temporal', 'SENTINEL_TEMPORAL_BIN');
export const motoBinary = (): string => resolveTool('moto_server', 'SENTINEL_MOTO_SERVER');
/** Debian's `docker-registry` package (apt-get install docker-registry). */
export const registryBinary = (): string => resolveTool('docker-registry', 'SENTINEL_REGISTRY_BIN');
/** cosign, built from its Go module by scripts/ensure-tools.sh; the suite checks attestations with it. */
export const cosignBinary = (): string => resolveTool('cosign', 'SENTINEL_COSIGN');
