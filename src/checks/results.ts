/**
 * Reading what a check printed, and judging GPU facts against a target.
 * The script reports facts; Sentinel decides, so the rules live (and are
 * unit-tested) here rather than in shell.
 */
import { z } from 'zod';
import type { TargetConfig } from '../config/schema';
import { isFailureCode, type FailureCode } from '../domain/failures';
import type { GpuFacts, RuntimeFacts, SetupComponent } from '../domain/run';

/** A check result that fails the phase, with its catalogue code. */
export class CheckFailure extends Error {
  constructor(
    readonly code: FailureCode,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'CheckFailure';
  }
}

const failed = z.object({ check: z.string(), ok: z.literal(false), code: z.string(), detail: z.string() });

const gpuFacts = z.object({
  check: z.literal('gpu_detect'),
  ok: z.literal(true),
  vendor: z.enum(['nvidia', 'amd']),
  model: z.string().min(1),
  count: z.number().int().min(0),
  driverVersion: z.string(),
  memoryMiB: z.number().nullable().optional(),
});

const runtimeFacts = z.object({
  check: z.literal('container_runtime'),
  ok: z.literal(true),
  engine: z.string().min(1),
  version: z.string().min(1),
  gpuRuntime: z.string().min(1),
});

/** Codes each check may report itself; anything else is a malformed result. */
const CODES_BY_CHECK: Record<string, readonly FailureCode[]> = {
  gpu_detect: ['GPU_TOOL_MISSING', 'GPU_DRIVER_MISSING', 'GPU_DRIVER_ERROR', 'GPU_NOT_DETECTED'],
  container_runtime: ['CONTAINER_RUNTIME_MISSING', 'CONTAINER_RUNTIME_UNAVAILABLE', 'GPU_RUNTIME_MISSING'],
};

/** The last non-empty stdout line, parsed as JSON. */
export function lastJsonLine(stdout: string): unknown {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const last = lines[lines.length - 1];
  if (last === undefined)
    throw new CheckFailure('CHECK_OUTPUT_INVALID', 'the check printed nothing on stdout');
  try {
    return JSON.parse(last);
  } catch {
    throw new CheckFailure('CHECK_OUTPUT_INVALID', `last stdout line is not JSON: ${last.slice(0, 200)}`);
  }
}

function parseResult<S extends z.ZodType>(stdout: string, check: string, schema: S): z.infer<S> {
  const value = lastJsonLine(stdout);
  const failure = failed.safeParse(value);
  if (failure.success) {
    const allowed = CODES_BY_CHECK[check] ?? [];
    const code = failure.data.code;
    if (failure.data.check === check && isFailureCode(code) && allowed.includes(code)) {
      throw new CheckFailure(code, failure.data.detail);
    }
    throw new CheckFailure(
      'CHECK_OUTPUT_INVALID',
      `${check} reported an unknown failure ${code}: ${failure.data.detail}`,
    );
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || 'result'}: ${i.message}`)
      .join('; ');
    throw new CheckFailure(
      'CHECK_OUTPUT_INVALID',
      `${check} result does not match its contract: ${problems}`,
    );
  }
  return parsed.data;
}

export function parseGpuFacts(stdout: string): GpuFacts {
  const r = parseResult(stdout, 'gpu_detect', gpuFacts);
  return {
    vendor: r.vendor,
    model: r.model,
    count: r.count,
    driverVersion: r.driverVersion,
    ...(typeof r.memoryMiB === 'number' ? { memoryMiB: r.memoryMiB } : {}),
  };
}

export function parseRuntimeFacts(stdout: string): RuntimeFacts {
  const r = parseResult(stdout, 'container_runtime', runtimeFacts);
  return { engine: r.engine, version: r.version, gpuRuntime: r.gpuRuntime };
}

/** Throws the failure that the facts show against the target's expectations, if any. */
export function judgeGpu(facts: GpuFacts, target: Pick<TargetConfig, 'name' | 'gpu'>): void {
  const want = target.gpu;
  if (facts.vendor !== want.vendor) {
    throw new CheckFailure(
      'GPU_VENDOR_MISMATCH',
      `target ${target.name} expects ${want.vendor}, host has ${facts.vendor} (${facts.model})`,
    );
  }
  if (facts.count < want.minCount) {
    throw new CheckFailure(
      'GPU_COUNT_TOO_LOW',
      `target ${target.name} expects at least ${want.minCount} GPU(s), host has ${facts.count}`,
    );
  }
  if (want.modelPattern !== undefined && !new RegExp(want.modelPattern).test(facts.model)) {
    throw new CheckFailure(
      'GPU_MODEL_MISMATCH',
      `target ${target.name} expects a model matching /${want.modelPattern}/, host has ${facts.model}`,
    );
  }
}

const installerResult = z.object({
  check: z.literal('installer'),
  ok: z.literal(true),
  exitCode: z.number().int(),
  httpStatus: z.number().int().nullable(),
  startedAtMs: z.number(),
  durationMs: z.number(),
  stderr: z.string(),
  result: z.string(),
});

export interface InstallerRun {
  exitCode: number;
  httpStatus: number | null;
  startedAtMs: number;
  durationMs: number;
  /** The installer's last stderr lines (never holds the onboarding token: the script receives it as a header only). */
  stderr: string;
  /** The installer's own result line (src/domain/installer.ts parseInstallerResult). */
  result: string;
}

CODES_BY_CHECK.installer = ['INSTALLER_DOWNLOAD_FAILED'];

export function parseInstallerRun(stdout: string): InstallerRun {
  const r = parseResult(stdout, 'installer', installerResult);
  return {
    exitCode: r.exitCode,
    httpStatus: r.httpStatus,
    startedAtMs: r.startedAtMs,
    durationMs: r.durationMs,
    stderr: r.stderr,
    result: r.result,
  };
}

const setupResult = z.object({
  check: z.literal('host_setup'),
  ok: z.literal(true),
  script: z.string().min(1),
  components: z.array(
    z.object({
      name: z.string().min(1),
      version: z.string(),
      action: z.enum(['installed', 'present', 'loaded']),
    }),
  ),
});

CODES_BY_CHECK.host_setup = ['HOST_SETUP_FAILED', 'HOST_SETUP_MIRROR_UNREACHABLE'];

/** A setup script's result: what it installed or found, with versions. */
export function parseSetupResult(stdout: string, script: string): SetupComponent[] {
  const r = parseResult(stdout, 'host_setup', setupResult);
  if (r.script !== script)
    throw new CheckFailure('CHECK_OUTPUT_INVALID', `setup script ${script} reported itself as ${r.script}`);
  return r.components.map((c) => ({ name: c.name, version: c.version, action: c.action }));
}
