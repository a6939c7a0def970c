/**
 * Test configurations derived from the real ops/invariants.yaml: the `local`
 * environment under a fresh name (so its lane, approved pointer and
 * instances belong to one test), its own task queue, evidence directory and
 * simulated hosts, and whatever edit the test needs.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_INVARIANTS_PATH, loadInvariants, type LoadedInvariants } from '../../src/config/load';
import { suiteDir } from './stack';

let counter = 0;

export interface TestEnvironment {
  name: string;
  dir: string;
  file: string;
  invariants: LoadedInvariants;
  hostsDir: string;
  evidenceDir: string;
}

type Json = Record<string, any>;

export function testEnvironment(slug: string, edit?: (env: Json, file: Json) => void): TestEnvironment {
  counter += 1;
  const name = `t${counter}-${slug}`.slice(0, 40).replace(/-+$/, '');
  const dir = path.join(suiteDir, name);
  const hostsDir = path.join(dir, 'hosts');
  const evidenceDir = path.join(dir, 'evidence');
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(path.dirname(DEFAULT_INVARIANTS_PATH), '..', 'dev', 'simulated-hosts'), hostsDir, {
    recursive: true,
  });

  const file = parse(readFileSync(DEFAULT_INVARIANTS_PATH, 'utf8'), { merge: true }) as Json;
  delete file['x-gpu-targets'];
  const env = structuredClone(file.environments.local) as Json;
  env.approvedDigestParameter = `/radix/${name}/agent_digest_approved`;
  env.executor = { kind: 'local', hostsDir };
  env.evidence = { ...env.evidence, location: evidenceDir };
  file.temporal.taskQueue = `sentinel-test-${name}`;
  file.environments = { dev: file.environments.dev, [name]: env };
  edit?.(env, file);
  const target = path.join(dir, 'invariants.yaml');
  writeFileSync(target, stringify(file));
  return { name, dir, file: target, invariants: loadInvariants(target), hostsDir, evidenceDir };
}

/** Makes a simulated host's recorded tool answer differently (e.g. a broken driver). */
export function recordTool(
  hostsDir: string,
  host: string,
  tool: string,
  record: { cmd: string; out?: string; err?: string; exit?: number; delaySeconds?: number },
  name = 'override',
): void {
  const dir = path.join(hostsDir, host, 'recordings', tool);
  mkdirSync(dir, { recursive: true });
  // Replaces any recording of the same command line.
  for (const existing of readdirSync(dir)) {
    if (existing.endsWith('.cmd') && readFileSync(path.join(dir, existing), 'utf8') === record.cmd) {
      for (const ext of ['.cmd', '.out', '.err', '.exit', '.delay'])
        rmSync(path.join(dir, existing.replace(/\.cmd$/, ext)), { force: true });
    }
  }
  writeFileSync(path.join(dir, `${name}.cmd`), record.cmd);
  if (record.out !== undefined) writeFileSync(path.join(dir, `${name}.out`), record.out);
  if (record.err !== undefined) writeFileSync(path.join(dir, `${name}.err`), record.err);
  if (record.exit !== undefined) writeFileSync(path.join(dir, `${name}.exit`), String(record.exit));
  if (record.delaySeconds !== undefined)
    writeFileSync(path.join(dir, `${name}.delay`), String(record.delaySeconds));
}

/** Slows a host's GPU detection down by `seconds`, keeping its recorded answer. */
/** Holds the host's GPU detection until the returned release is called: the leg stays in gpu_detect exactly that long. */
export function holdGpuDetect(hostsDir: string, host: 'nvidia-a10g' | 'amd-v520'): () => void {
  const [tool, file] = host === 'nvidia-a10g' ? ['nvidia-smi', 'query-gpu'] : ['rocm-smi', 'productname'];
  const hold = path.join(hostsDir, host, 'recordings', tool, `${file}.hold`);
  writeFileSync(hold, 'held by a test\n');
  return () => rmSync(hold, { force: true });
}

export function slowGpuDetect(hostsDir: string, host: 'nvidia-a10g' | 'amd-v520', seconds: number): void {
  const [tool, file] = host === 'nvidia-a10g' ? ['nvidia-smi', 'query-gpu'] : ['rocm-smi', 'productname'];
  writeFileSync(path.join(hostsDir, host, 'recordings', tool, `${file}.delay`), String(seconds));
}
