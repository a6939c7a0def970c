import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CheckFailure, parseGpuFacts, parseRuntimeFacts, parseSetupResult } from '../../src/checks/results';
import { SETUP_DIR, setupScriptNames } from '../../src/checks/scripts';
import { DEFAULT_INVARIANTS_PATH } from '../../src/config/load';
import { MockActivityEnvironment } from '@temporalio/testing';
import { hostSetupActivities } from '../../src/activities/host-setup';
import type { HostFacts } from '../../src/domain/run';
import { Executors } from '../../src/executors';
import { bootInstance } from '../support/simulated-host';

const HOSTS = path.join(path.dirname(DEFAULT_INVARIANTS_PATH), '..', 'dev', 'simulated-hosts');

function failureOf(fn: () => unknown): CheckFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof CheckFailure) return err;
    throw err;
  }
  assert.fail('expected a check failure');
}

/** A private copy of the simulated hosts, for tests that change one. */
function hostsCopy(): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'hosts-')), 'simulated-hosts');
  cpSync(HOSTS, dir, { recursive: true });
  return dir;
}

describe('host setup scripts on simulated hosts (local executor)', function () {
  this.timeout(60_000);

  it('a stock Ubuntu g4ad has no engine and no GPU tool: the checks fail as on the real AMI', async () => {
    const amd = await bootInstance(HOSTS, 'amd-v520');
    try {
      const gpu = await amd.check('gpu-detect');
      const missing = failureOf(() => parseGpuFacts(gpu));
      assert.equal(missing.code, 'GPU_DRIVER_MISSING');
      assert.match(
        missing.detail,
        /AMD 1 GPU\(s\) \(0x1002:0x7362 at 0000:00:1e\.0\) on the PCI bus \(sysfs\)/,
      );
      // This machine's own docker client does not leak into the simulated host.
      const runtime = await amd.check('container-runtime', { RADIX_GPU_VENDOR: 'amd' });
      assert.equal(failureOf(() => parseRuntimeFacts(runtime)).code, 'CONTAINER_RUNTIME_MISSING');
    } finally {
      await amd.release();
    }
  });

  it('installs docker.io, the AWS CLI, amdgpu and rocm-smi on the AMD host, with versions; a second run finds them and changes nothing', async () => {
    const amd = await bootInstance(HOSTS, 'amd-v520');
    try {
      const docker = await amd.setup('ubuntu-docker');
      assert.equal(docker.status, 'success', docker.stderr);
      assert.deepEqual(parseSetupResult(docker.stdout, 'ubuntu-docker'), [
        { name: 'ca-certificates', version: '20240203~22.04.1', action: 'present' },
        { name: 'curl', version: '7.81.0-1ubuntu1.20', action: 'present' },
        { name: 'awscli', version: '1.22.34-1', action: 'installed' },
        { name: 'docker.io', version: '24.0.7-0ubuntu2~22.04.1', action: 'installed' },
      ]);
      const driver = await amd.setup('amdgpu-driver');
      assert.equal(driver.status, 'success', driver.stderr);
      assert.deepEqual(parseSetupResult(driver.stdout, 'amdgpu-driver'), [
        { name: 'wget', version: '1.21.2-2ubuntu1.1', action: 'present' },
        { name: 'linux-modules-extra-6.8.0-1021-aws', version: '6.8.0-1021.23~22.04.1', action: 'installed' },
        { name: 'amdgpu-install', version: '6.1.60103-1', action: 'installed' },
        { name: 'amdgpu-dkms', version: '1:6.7.0.60103-1787201.22.04', action: 'installed' },
        { name: 'rocm-smi-lib', version: '7.2.0.60103-122~22.04', action: 'installed' },
        { name: 'amdgpu-kernel-module', version: '6.7.0', action: 'loaded' },
      ]);
      // Idempotent: a retried command finds everything in place.
      const again = await amd.setup('amdgpu-driver');
      assert.deepEqual(
        parseSetupResult(again.stdout, 'amdgpu-driver').map((c) => c.action),
        ['present', 'present', 'present', 'present', 'present', 'loaded'],
      );
      assert.equal(
        parseSetupResult((await amd.setup('ubuntu-docker')).stdout, 'ubuntu-docker').find(
          (c) => c.name === 'docker.io',
        )?.action,
        'present',
      );

      assert.equal(parseGpuFacts(await amd.check('gpu-detect')).model, 'Navi 12 [Radeon Pro V520]');
      assert.deepEqual(parseRuntimeFacts(await amd.check('container-runtime', { RADIX_GPU_VENDOR: 'amd' })), {
        engine: 'docker',
        version: '24.0.7',
        gpuRuntime: 'rocm-devices',
      });
    } finally {
      await amd.release();
    }
  });

  it('a mirror out of reach is HOST_SETUP_MIRROR_UNREACHABLE; a package the mirror lacks is HOST_SETUP_FAILED', async () => {
    const hosts = hostsCopy();
    writeFileSync(path.join(hosts, 'amd-v520', 'mirror-unreachable'), '');
    const cut = await bootInstance(hosts, 'amd-v520');
    try {
      const result = await cut.setup('ubuntu-docker');
      const failure = failureOf(() => parseSetupResult(result.stdout, 'ubuntu-docker'));
      assert.equal(failure.code, 'HOST_SETUP_MIRROR_UNREACHABLE');
      assert.match(failure.detail, /Temporary failure resolving 'us-west-2\.ec2\.archive\.ubuntu\.com'/);
    } finally {
      await cut.release();
    }

    rmSync(path.join(hosts, 'amd-v520', 'mirror-unreachable'));
    rmSync(path.join(hosts, 'amd-v520', 'packages', 'rocm-smi-lib'), { recursive: true });
    const partial = await bootInstance(hosts, 'amd-v520');
    try {
      const result = await partial.setup('amdgpu-driver');
      const failure = failureOf(() => parseSetupResult(result.stdout, 'amdgpu-driver'));
      assert.equal(failure.code, 'HOST_SETUP_FAILED');
      assert.match(failure.detail, /Unable to locate package rocm-smi-lib/);
    } finally {
      await partial.release();
    }
  });

  it('on the Deep Learning AMI only asserts the driver, the container toolkit and docker, and fails when one is gone', async () => {
    const nvidia = await bootInstance(HOSTS, 'nvidia-a10g');
    try {
      const result = await nvidia.setup('dlami-nvidia-assert');
      assert.deepEqual(parseSetupResult(result.stdout, 'dlami-nvidia-assert'), [
        { name: 'nvidia-driver', version: '535.104.05', action: 'present' },
        { name: 'nvidia-container-toolkit', version: '1.14.3', action: 'present' },
        { name: 'docker', version: '24.0.7', action: 'present' },
      ]);
    } finally {
      await nvidia.release();
    }

    const hosts = hostsCopy();
    rmSync(path.join(hosts, 'nvidia-a10g', 'bin', 'nvidia-ctk'));
    const lacking = await bootInstance(hosts, 'nvidia-a10g');
    try {
      const result = await lacking.setup('dlami-nvidia-assert');
      const failure = failureOf(() => parseSetupResult(result.stdout, 'dlami-nvidia-assert'));
      assert.equal(failure.code, 'HOST_SETUP_FAILED');
      assert.match(failure.detail, /no NVIDIA Container Toolkit/);
    } finally {
      await lacking.release();
    }
  });

  it('every setup script is POSIX sh that dash parses', () => {
    assert.deepEqual(setupScriptNames(), ['amdgpu-driver', 'dlami-nvidia-assert', 'ubuntu-docker']);
    for (const file of ['lib.sh', ...setupScriptNames().map((n) => `${n}.sh`)]) {
      const parsed = spawnSync('sh', ['-n', path.join(SETUP_DIR, file)], { encoding: 'utf8' });
      assert.equal(parsed.status, 0, `${file}: ${parsed.stderr}`);
    }
  });
});

describe('prepareHost (the host_setup activity)', function () {
  this.timeout(60_000);

  it("runs the target's scripts in order and returns what each did; a retried attempt skips the scripts an earlier one finished", async () => {
    const executors = new Executors({} as never, mkdtempSync(path.join(os.tmpdir(), 'instances-')));
    const { prepareHost } = hostSetupActivities({ executors });
    const host = { instanceId: `i-prep${process.pid}`, target: 'amd-v520', region: 'us-west-2' };
    const executor = { kind: 'local' as const, hostsDir: HOSTS };
    await executors.for(executor).probeReady(host);
    const request = {
      host,
      executor,
      timeoutMs: 60_000,
      polling: { initialMs: 50, maxMs: 200 },
      scripts: ['ubuntu-docker', 'amdgpu-driver'],
    };
    try {
      const first: HostFacts = await new MockActivityEnvironment().run(prepareHost, request);
      assert.deepEqual(
        first.setup.map((s) => s.script),
        ['ubuntu-docker', 'amdgpu-driver'],
      );
      assert.ok(first.setup.every((s) => s.durationSeconds > 0));

      // A second attempt whose predecessor heartbeated that ubuntu-docker was done runs only amdgpu-driver.
      const recorded = {
        script: 'ubuntu-docker',
        durationSeconds: 1,
        components: [{ name: 'docker.io', version: 'as recorded', action: 'installed' as const }],
      };
      const retried: HostFacts = await new MockActivityEnvironment({
        attempt: 2,
        heartbeatDetails: { done: [recorded] },
      }).run(prepareHost, request);
      assert.deepEqual(retried.setup[0], recorded);
      assert.equal(retried.setup[1]?.script, 'amdgpu-driver');
      assert.ok(
        retried.setup[1].components.every((c) => c.action !== 'installed'),
        'the first attempt already installed everything',
      );
    } finally {
      await executors.for(executor).release(host);
    }
  });
});
