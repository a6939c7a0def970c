import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CheckFailure, judgeGpu, parseGpuFacts, parseRuntimeFacts } from '../../src/checks/results';
import { buildCheckScript, shellQuote } from '../../src/checks/scripts';
import { DEFAULT_INVARIANTS_PATH } from '../../src/config/load';
import { recordTool } from '../support/invariants';

const HOSTS = path.join(path.dirname(DEFAULT_INVARIANTS_PATH), 'simulated-hosts');

/** Runs a check script with /bin/sh the way the local executor does, on a simulated host (or none). */
function runCheck(check: 'gpu-detect' | 'container-runtime', hostsDir: string | undefined, host: string, inputs: Record<string, string> = {}): string {
  const hostDir = hostsDir ? path.join(hostsDir, host) : undefined;
  const out = spawnSync('sh', ['-c', buildCheckScript(check, inputs)], {
    env: {
      PATH: hostDir ? `${path.join(hostDir, 'bin')}:/usr/bin:/bin` : '/usr/bin:/bin',
      RADIX_HOST_ROOT: hostDir ? path.join(hostDir, 'root') : '/nonexistent',
      RADIX_HOST_WORKDIR: mkdtempSync(path.join(os.tmpdir(), 'check-')),
    },
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout;
}

function failureOf(fn: () => unknown): CheckFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof CheckFailure) return err;
    throw err;
  }
  assert.fail('expected a check failure');
}

describe('check plan scripts and their results', () => {
  it('reads the A10G from the recorded nvidia-smi of a g5.xlarge', () => {
    const facts = parseGpuFacts(runCheck('gpu-detect', HOSTS, 'nvidia-a10g'));
    assert.deepEqual(facts, { vendor: 'nvidia', model: 'NVIDIA A10G', count: 1, driverVersion: '535.104.05', memoryMiB: 23028 });
    judgeGpu(facts, { name: 'nvidia-a10g', gpu: { vendor: 'nvidia', minCount: 1, modelPattern: 'A10G' } });
  });

  it('reads the Radeon Pro V520 from the recorded rocm-smi of a g4ad.xlarge', () => {
    const facts = parseGpuFacts(runCheck('gpu-detect', HOSTS, 'amd-v520'));
    assert.deepEqual(facts, { vendor: 'amd', model: 'Navi 12 [Radeon Pro V520]', count: 1, driverVersion: '6.7.0' });
  });

  it('names what is wrong with a host: no GPU tool, a dead driver, no device', () => {
    assert.equal(failureOf(() => parseGpuFacts(runCheck('gpu-detect', undefined, 'none'))).code, 'GPU_TOOL_MISSING');

    const broken = mkdtempSync(path.join(os.tmpdir(), 'hosts-'));
    spawnSync('cp', ['-r', path.join(HOSTS, 'nvidia-a10g'), path.join(HOSTS, 'replay.sh'), broken]);
    recordTool(broken, 'nvidia-a10g', 'nvidia-smi', {
      cmd: 'nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits',
      out: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
      exit: 9,
    });
    const driver = failureOf(() => parseGpuFacts(runCheck('gpu-detect', broken, 'nvidia-a10g')));
    assert.equal(driver.code, 'GPU_DRIVER_ERROR');
    assert.match(driver.detail, /couldn't communicate with the NVIDIA driver/);

    recordTool(broken, 'nvidia-a10g', 'nvidia-smi', {
      cmd: 'nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits',
      out: 'No devices were found\n',
      exit: 6,
    });
    assert.equal(failureOf(() => parseGpuFacts(runCheck('gpu-detect', broken, 'nvidia-a10g'))).code, 'GPU_NOT_DETECTED');
  });

  it('judges facts against the target: vendor, count, model', () => {
    const a10g = { vendor: 'nvidia' as const, model: 'NVIDIA A10G', count: 1, driverVersion: '535' };
    assert.equal(failureOf(() => judgeGpu(a10g, { name: 't', gpu: { vendor: 'amd', minCount: 1 } })).code, 'GPU_VENDOR_MISMATCH');
    assert.equal(failureOf(() => judgeGpu(a10g, { name: 't', gpu: { vendor: 'nvidia', minCount: 4 } })).code, 'GPU_COUNT_TOO_LOW');
    assert.equal(failureOf(() => judgeGpu(a10g, { name: 't', gpu: { vendor: 'nvidia', minCount: 1, modelPattern: 'H100' } })).code, 'GPU_MODEL_MISMATCH');
  });

  it('checks the container runtime: the nvidia runtime, the ROCm devices, an unreachable daemon', () => {
    assert.deepEqual(parseRuntimeFacts(runCheck('container-runtime', HOSTS, 'nvidia-a10g', { RADIX_GPU_VENDOR: 'nvidia' })), {
      engine: 'docker',
      version: '24.0.7',
      gpuRuntime: 'nvidia-container-runtime',
    });
    assert.equal(parseRuntimeFacts(runCheck('container-runtime', HOSTS, 'amd-v520', { RADIX_GPU_VENDOR: 'amd' })).gpuRuntime, 'rocm-devices');
    // The AMD host's docker has no nvidia runtime.
    assert.equal(failureOf(() => parseRuntimeFacts(runCheck('container-runtime', HOSTS, 'amd-v520', { RADIX_GPU_VENDOR: 'nvidia' }))).code, 'GPU_RUNTIME_MISSING');
  });

  it('refuses output that breaks the contract instead of guessing', () => {
    assert.equal(failureOf(() => parseGpuFacts('')).code, 'CHECK_OUTPUT_INVALID');
    assert.equal(failureOf(() => parseGpuFacts('bash: syntax error\n')).code, 'CHECK_OUTPUT_INVALID');
    assert.equal(failureOf(() => parseGpuFacts('{"check":"gpu_detect","ok":true,"vendor":"intel","model":"x","count":1,"driverVersion":"1"}')).code, 'CHECK_OUTPUT_INVALID');
    assert.equal(failureOf(() => parseGpuFacts('{"check":"gpu_detect","ok":false,"code":"PROMOTION_CONFLICT","detail":"spoofed"}')).code, 'CHECK_OUTPUT_INVALID');
  });

  it('quotes check inputs so that nothing in them is expanded', () => {
    const out = spawnSync('sh', ['-c', `x=${shellQuote("it's $(echo no) `uname` $HOME")}; printf '%s' "$x"`], { encoding: 'utf8' });
    assert.equal(out.stdout, "it's $(echo no) `uname` $HOME");
    assert.throws(() => buildCheckScript('gpu-detect', { 'bad name': 'x' }), /not an upper-case shell variable name/);
  });
});
