import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CheckFailure, judgeGpu, parseGpuFacts, parseRuntimeFacts } from '../../src/checks/results';
import { buildCheckScript, shellQuote } from '../../src/checks/scripts';
import { DEFAULT_INVARIANTS_PATH } from '../../src/config/load';
import { recordTool } from '../support/invariants';
import { bootInstance, type SimulatedInstance } from '../support/simulated-host';

const HOSTS = path.join(path.dirname(DEFAULT_INVARIANTS_PATH), '..', 'dev', 'simulated-hosts');

/** A directory with this machine's base tools only (dev/simulated-hosts/base-tools): no GPU tool, no lspci, no docker. */
function baseToolsOnly(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'base-bin-'));
  for (const tool of readFileSync(path.join(HOSTS, 'base-tools'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))) {
    const found = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((f) => existsSync(f));
    if (found) symlinkSync(found, path.join(dir, tool));
  }
  return dir;
}

/** Runs a check script with /bin/sh the way the local executor does, on a simulated host image (or none). */
function runCheck(
  check: 'gpu-detect' | 'container-runtime',
  hostsDir: string | undefined,
  host: string,
  inputs: Record<string, string> = {},
): string {
  const hostDir = hostsDir ? path.join(hostsDir, host) : undefined;
  const out = spawnSync('/bin/sh', ['-c', buildCheckScript(check, inputs)], {
    env: {
      PATH: hostDir ? `${path.join(hostDir, 'bin')}:${baseToolsOnly()}` : baseToolsOnly(),
      RADIX_HOST_ROOT: hostDir ? path.join(hostDir, 'root') : '/nonexistent',
      SIMULATED_NODE: process.execPath,
      RADIX_HOST_WORKDIR: mkdtempSync(path.join(os.tmpdir(), 'check-')),
    },
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout;
}

/** The simulated g4ad.xlarge after its setup scripts ran (stock Ubuntu has neither rocm-smi nor docker). */
async function preparedAmdHost(): Promise<SimulatedInstance> {
  const amd = await bootInstance(HOSTS, 'amd-v520');
  for (const script of ['ubuntu-docker', 'amdgpu-driver']) {
    const result = await amd.setup(script);
    assert.equal(result.status, 'success', result.stderr);
    assert.match(result.stdout, /"ok":true/, result.stdout);
  }
  return amd;
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
    assert.deepEqual(facts, {
      vendor: 'nvidia',
      model: 'NVIDIA A10G',
      count: 1,
      driverVersion: '535.104.05',
      memoryMiB: 23028,
    });
    judgeGpu(facts, { name: 'nvidia-a10g', gpu: { vendor: 'nvidia', minCount: 1, modelPattern: 'A10G' } });
  });

  it('reads the Radeon Pro V520 from the recorded rocm-smi of a g4ad.xlarge, once setup installed it', async () => {
    const amd = await preparedAmdHost();
    try {
      const facts = parseGpuFacts(await amd.check('gpu-detect'));
      assert.deepEqual(facts, {
        vendor: 'amd',
        model: 'Navi 12 [Radeon Pro V520]',
        count: 1,
        driverVersion: '6.7.0',
      });
    } finally {
      await amd.release();
    }
  });

  it('names what is wrong with a host: no GPU tool, a dead driver, no device', () => {
    assert.equal(
      failureOf(() => parseGpuFacts(runCheck('gpu-detect', undefined, 'none'))).code,
      'GPU_TOOL_MISSING',
    );

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
    // With the A10G on the PCI bus, a driver that sees no device is the driver's fault; without it, there is no GPU.
    assert.equal(
      failureOf(() => parseGpuFacts(runCheck('gpu-detect', broken, 'nvidia-a10g'))).code,
      'GPU_DRIVER_ERROR',
    );
    rmSync(path.join(broken, 'nvidia-a10g', 'root', 'sys', 'bus', 'pci', 'devices', '0000:00:1e.0'), {
      recursive: true,
    });
    assert.equal(
      failureOf(() => parseGpuFacts(runCheck('gpu-detect', broken, 'nvidia-a10g'))).code,
      'GPU_NOT_DETECTED',
    );
  });

  it('tells a missing driver from a missing GPU by the PCI view (sysfs, else lspci)', () => {
    // A g4ad.xlarge on stock Ubuntu: the V520 is on the bus, but neither amdgpu nor rocm-smi is installed.
    const bare = mkdtempSync(path.join(os.tmpdir(), 'hosts-'));
    cpSync(path.join(HOSTS, 'amd-v520', 'root', 'sys'), path.join(bare, 'stock-ubuntu', 'root', 'sys'), {
      recursive: true,
    });
    rmSync(path.join(bare, 'stock-ubuntu', 'root', 'sys', 'module'), { recursive: true, force: true });
    const missing = failureOf(() => parseGpuFacts(runCheck('gpu-detect', bare, 'stock-ubuntu')));
    assert.equal(missing.code, 'GPU_DRIVER_MISSING');
    assert.match(missing.detail, /AMD 1 GPU\(s\) \(0x1002:0x7362 at 0000:00:1e\.0\) on the PCI bus/);

    // The same host seen through lspci only (no sysfs): the recorded `lspci -Dn` of a g4ad.xlarge.
    mkdirSync(path.join(bare, 'lspci-only', 'bin'), { recursive: true });
    cpSync(path.join(HOSTS, 'replay.sh'), path.join(bare, 'replay.sh'));
    cpSync(
      path.join(HOSTS, 'amd-v520', 'recordings', 'lspci'),
      path.join(bare, 'lspci-only', 'recordings', 'lspci'),
      { recursive: true },
    );
    cpSync(path.join(HOSTS, 'amd-v520', 'bin', 'lspci'), path.join(bare, 'lspci-only', 'bin', 'lspci'));
    const viaLspci = failureOf(() => parseGpuFacts(runCheck('gpu-detect', bare, 'lspci-only')));
    assert.equal(viaLspci.code, 'GPU_DRIVER_MISSING');
    assert.match(
      viaLspci.detail,
      /AMD 1 GPU\(s\) \(0x1002:0x7362 at 0000:00:1e\.0\) on the PCI bus \(lspci\)/,
    );

    // An instance type without a GPU: only the Amazon ENA and NVMe controllers on the bus.
    const cpu = path.join(bare, 'no-gpu', 'root', 'sys', 'bus', 'pci', 'devices');
    for (const [address, vendor, device, klass] of [
      ['0000:00:05.0', '0x1d0f', '0xec20', '0x020000'],
      ['0000:00:04.0', '0x1d0f', '0x8061', '0x010802'],
    ] as const) {
      mkdirSync(path.join(cpu, address), { recursive: true });
      writeFileSync(path.join(cpu, address, 'vendor'), `${vendor}\n`);
      writeFileSync(path.join(cpu, address, 'device'), `${device}\n`);
      writeFileSync(path.join(cpu, address, 'class'), `${klass}\n`);
    }
    const none = failureOf(() => parseGpuFacts(runCheck('gpu-detect', bare, 'no-gpu')));
    assert.equal(none.code, 'GPU_NOT_DETECTED');
    assert.match(none.detail, /no NVIDIA or AMD GPU on the PCI bus/);
  });

  it('tells an installed tool without its loaded kernel module (GPU_DRIVER_MISSING) from a broken driver', async () => {
    // As after a kernel update the DKMS module was not rebuilt for: rocm-smi is there, amdgpu is not loaded.
    const amd = await preparedAmdHost();
    try {
      rmSync(path.join(amd.root, 'sys', 'module', 'amdgpu'), { recursive: true, force: true });
      const out = await amd.check('gpu-detect');
      const failure = failureOf(() => parseGpuFacts(out));
      assert.equal(failure.code, 'GPU_DRIVER_MISSING');
      assert.match(failure.detail, /amdgpu kernel module is not loaded: ERROR:root:Driver not initialized/);
    } finally {
      await amd.release();
    }
  });

  it('judges facts against the target: vendor, count, model', () => {
    const a10g = { vendor: 'nvidia' as const, model: 'NVIDIA A10G', count: 1, driverVersion: '535' };
    assert.equal(
      failureOf(() => judgeGpu(a10g, { name: 't', gpu: { vendor: 'amd', minCount: 1 } })).code,
      'GPU_VENDOR_MISMATCH',
    );
    assert.equal(
      failureOf(() => judgeGpu(a10g, { name: 't', gpu: { vendor: 'nvidia', minCount: 4 } })).code,
      'GPU_COUNT_TOO_LOW',
    );
    assert.equal(
      failureOf(() =>
        judgeGpu(a10g, { name: 't', gpu: { vendor: 'nvidia', minCount: 1, modelPattern: 'H100' } }),
      ).code,
      'GPU_MODEL_MISMATCH',
    );
  });

  it('checks the container runtime: the nvidia runtime, the ROCm devices, an unreachable daemon', async () => {
    assert.deepEqual(
      parseRuntimeFacts(runCheck('container-runtime', HOSTS, 'nvidia-a10g', { RADIX_GPU_VENDOR: 'nvidia' })),
      {
        engine: 'docker',
        version: '24.0.7',
        gpuRuntime: 'nvidia-container-runtime',
      },
    );
    const amd = await preparedAmdHost();
    try {
      assert.equal(
        parseRuntimeFacts(await amd.check('container-runtime', { RADIX_GPU_VENDOR: 'amd' })).gpuRuntime,
        'rocm-devices',
      );
      // The AMD host's docker has no nvidia runtime.
      const nvidiaOnAmd = await amd.check('container-runtime', { RADIX_GPU_VENDOR: 'nvidia' });
      assert.equal(failureOf(() => parseRuntimeFacts(nvidiaOnAmd)).code, 'GPU_RUNTIME_MISSING');
    } finally {
      await amd.release();
    }
  });

  it('refuses output that breaks the contract instead of guessing', () => {
    assert.equal(failureOf(() => parseGpuFacts('')).code, 'CHECK_OUTPUT_INVALID');
    assert.equal(failureOf(() => parseGpuFacts('bash: syntax error\n')).code, 'CHECK_OUTPUT_INVALID');
    assert.equal(
      failureOf(() =>
        parseGpuFacts(
          '{"check":"gpu_detect","ok":true,"vendor":"intel","model":"x","count":1,"driverVersion":"1"}',
        ),
      ).code,
      'CHECK_OUTPUT_INVALID',
    );
    assert.equal(
      failureOf(() =>
        parseGpuFacts('{"check":"gpu_detect","ok":false,"code":"PROMOTION_CONFLICT","detail":"spoofed"}'),
      ).code,
      'CHECK_OUTPUT_INVALID',
    );
  });

  it('quotes check inputs so that nothing in them is expanded', () => {
    const out = spawnSync(
      'sh',
      ['-c', `x=${shellQuote("it's $(echo no) `uname` $HOME")}; printf '%s' "$x"`],
      { encoding: 'utf8' },
    );
    assert.equal(out.stdout, "it's $(echo no) `uname` $HOME");
    assert.throws(
      () => buildCheckScript('gpu-detect', { 'bad name': 'x' }),
      /not an upper-case shell variable name/,
    );
  });
});
