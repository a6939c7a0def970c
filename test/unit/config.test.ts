import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { environmentOf, UnknownEnvironmentError } from '../../src/config/environment';
import {
  DEFAULT_INVARIANTS_PATH,
  InvariantsError,
  loadInvariants,
  parseInvariants,
} from '../../src/config/load';

type Json = Record<string, any>;

/** ops/invariants.yaml as data, edited, then parsed back as if it were the file. */
function withEdit(edit: (file: Json) => void, env: NodeJS.ProcessEnv = {}) {
  const file = parse(readFileSync(DEFAULT_INVARIANTS_PATH, 'utf8'), { merge: true }) as Json;
  delete file['x-gpu-targets'];
  edit(file);
  return parseInvariants(stringify(file), DEFAULT_INVARIANTS_PATH, env);
}

function problemsOf(edit: (file: Json) => void): string[] {
  try {
    withEdit(edit);
  } catch (err) {
    assert.ok(err instanceof InvariantsError, `expected InvariantsError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}

describe('configuration (ops/invariants.yaml)', () => {
  it('loads the shipped file with the known hardware values', () => {
    const inv = loadInvariants(undefined, {});
    const dev = inv.environments.dev!;
    assert.equal(dev.awsRegion, 'us-west-2');
    assert.equal(dev.approvedDigestParameter, '/radix/dev/agent_digest_approved');
    assert.equal(dev.image.repository, 'ghcr.io/iangreen74/radix-cluster-agent');
    assert.equal(dev.instanceProfile, 'RadixSentinelSSMProfile');
    assert.equal(dev.cleanupTtl, 4 * 3600_000);
    assert.equal(dev.executor.kind, 'ssm');
    assert.deepEqual(
      dev.targets.map((t) => [t.name, t.vendor, t.ami, t.instanceTypes]),
      [
        ['nvidia-a10g', 'nvidia', 'ami-0c2b8ca305e393e06', ['g5.xlarge']],
        ['amd-v520', 'amd', 'ami-0875d33dff2aae0d5', ['g4ad.xlarge']],
      ],
    );
    assert.match(inv.sha256, /^[0-9a-f]{64}$/);
  });

  it('lists every problem of an invalid file by its path, not just the first', () => {
    const problems = problemsOf((f) => {
      f.environments.dev.targets[1].ami = 'ubuntu-22.04';
      f.environments.dev.cleanupTtl = '4 hours';
      f.environments.dev.targets[0].instanceTypes = [];
      f.environments.dev.timeouts.provisoin = '5m';
    });
    assert.ok(
      problems.includes(
        'environments.dev.targets[1].ami: expected ami-<8 or 17 lower-case hex>, the pinned AMI id',
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith('environments.dev.cleanupTtl: expected a duration such as 30s, 5m or 4h, got "4 hours"'),
      ),
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith('environments.dev.targets[0].instanceTypes: expected at least one instance type'),
      ),
    );
    assert.ok(problems.some((p) => p.startsWith('environments.dev.timeouts: unknown key provisoin')));
  });

  it('gives each target its setup scripts and the environment a host setup budget; refuses an unknown script at its path', () => {
    const dev = loadInvariants(undefined, {}).environments.dev!;
    assert.deepEqual(
      dev.targets.map((t) => [t.name, t.setup]),
      [
        ['nvidia-a10g', ['dlami-nvidia-assert']],
        ['amd-v520', ['ubuntu-docker', 'amdgpu-driver']],
      ],
    );
    assert.equal(dev.timeouts.hostSetup, 30 * 60_000);
    const problems = problemsOf((f) => {
      f.environments.dev.targets[1].setup = ['ubuntu-docker', 'rocm-everything'];
      f.environments.dev.targets[0].setup = ['../../bin/sh'];
      f.environments.local.targets = structuredClone(f.environments.local.targets);
      delete f.environments.local.targets[0].setup;
    });
    assert.ok(
      problems.includes(
        'environments.dev.targets[0].setup[0]: expected a setup script name such as amdgpu-driver (ops/setup/<name>.sh)',
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('environments.local.targets[0].setup: required')),
      problems.join('\n'),
    );
    // Names of the right form are then checked against ops/setup/.
    const unknown = problemsOf((f) => {
      f.environments.dev.targets[1].setup = ['ubuntu-docker', 'rocm-everything'];
    });
    // (dev and local share the matrix in the shipped file, so both name it.)
    assert.ok(
      unknown.includes(
        'environments.dev.targets[1].setup[1]: unknown setup script "rocm-everything": expected one of amdgpu-driver, dlami-nvidia-assert, ubuntu-docker (ops/setup/<name>.sh)',
      ),
      unknown.join('\n'),
    );
    assert.ok(
      unknown.every((p) => p.includes('"rocm-everything"')),
      unknown.join('\n'),
    );
  });

  it('refuses the local (simulated) executor in a live environment', () => {
    const problems = problemsOf((f) => {
      f.environments.dev.executor = { kind: 'local', hostsDir: 'simulated-hosts' };
    });
    assert.ok(
      problems.some((p) =>
        p.startsWith('environments.dev.executor.kind: a live environment guards a real approved digest'),
      ),
      problems.join('\n'),
    );
  });

  it('requires dev, a per-environment pointer path, unique target names and a matching GPU vendor', () => {
    assert.ok(
      problemsOf((f) => delete f.environments.dev).some((p) =>
        p.startsWith('environments.dev: the dev environment is required'),
      ),
    );
    assert.ok(
      problemsOf(
        (f) => (f.environments.local.approvedDigestParameter = '/radix/dev/agent_digest_approved'),
      ).some((p) =>
        p.startsWith(
          'environments.local.approvedDigestParameter: expected /radix/local/agent_digest_approved',
        ),
      ),
    );
    assert.ok(
      problemsOf((f) => (f.environments.dev.targets[1].name = 'nvidia-a10g')).some((p) =>
        p.includes('duplicate target name nvidia-a10g'),
      ),
    );
    assert.ok(
      problemsOf((f) => (f.environments.dev.targets[1].gpu.vendor = 'nvidia')).some(
        (p) => p === "environments.dev.targets[1].gpu.vendor: expected amd, the target's vendor",
      ),
    );
  });

  it('reads infraRetries (default 1) and the on-demand prices with the date they were read', () => {
    const inv = loadInvariants(undefined, {});
    const dev = inv.environments.dev!;
    assert.equal(dev.infraRetries, 1);
    assert.equal(dev.prices?.readAt, '2026-07-20');
    assert.deepEqual(dev.prices?.onDemandUsdPerHour['us-west-2'], {
      'g5.xlarge': 1.006,
      'g4ad.xlarge': 0.37853,
    });
    assert.equal(withEdit((f) => delete f.environments.dev.infraRetries).environments.dev!.infraRetries, 1);
    assert.equal(withEdit((f) => (f.environments.dev.infraRetries = 0)).environments.dev!.infraRetries, 0);
  });

  it('refuses a negative infraRetries and a price for an instance type no target uses, at their paths', () => {
    const problems = problemsOf((f) => {
      f.environments.dev.infraRetries = -1;
      f.environments.dev.prices = structuredClone(f.environments.dev.prices);
      f.environments.dev.prices.onDemandUsdPerHour['us-west-2']['p4d.24xlarge'] = 32.77;
      f.environments.dev.prices.onDemandUsdPerHour['us-west-2']['g5.xlarge'] = -1;
      f.environments.dev.prices.readAt = 'July 2026';
    });
    assert.ok(
      problems.includes('environments.dev.infraRetries: expected 0 or more retries'),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith(
          'environments.dev.prices.onDemandUsdPerHour.us-west-2.p4d.24xlarge: no target of this environment uses p4d.24xlarge',
        ),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes(
        'environments.dev.prices.onDemandUsdPerHour.us-west-2.g5.xlarge: expected a price in USD per hour, more than 0',
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes('environments.dev.prices.readAt: expected the date the prices were read, YYYY-MM-DD'),
      problems.join('\n'),
    );
  });

  it('reports YAML syntax errors with their line instead of a stack trace', () => {
    assert.throws(
      () => parseInvariants('schemaVersion: 1\nenvironments: [\n', '/tmp/x.yaml'),
      (err: unknown) => err instanceof InvariantsError && /^line \d+, column \d+: /.test(err.problems[0]!),
    );
  });

  it('says where a missing file was looked for and how to point elsewhere', () => {
    assert.throws(
      () => loadInvariants('/nonexistent/invariants.yaml'),
      (err: unknown) =>
        err instanceof InvariantsError &&
        err.problems[0]!.includes('--invariants <path> or set SENTINEL_INVARIANTS'),
    );
  });

  it('reads SENTINEL_INVARIANTS when no path is given', () => {
    const inv = loadInvariants(undefined, { SENTINEL_INVARIANTS: DEFAULT_INVARIANTS_PATH });
    assert.equal(inv.file, DEFAULT_INVARIANTS_PATH);
  });

  it('lets the documented variables override control-plane connection values, and says so on error', () => {
    const inv = withEdit(() => undefined, {
      RADIX_API_URL: 'https://api.example.test',
      RADIX_COGNITO_USER_POOL_ID: 'us-west-2_Override1',
    });
    assert.equal(inv.environments.dev!.controlPlane.baseUrl, 'https://api.example.test');
    assert.equal(inv.environments.dev!.controlPlane.cognito.userPoolId, 'us-west-2_Override1');
    assert.deepEqual(inv.overrides, ['RADIX_API_URL', 'RADIX_COGNITO_USER_POOL_ID']);
    assert.throws(
      () => withEdit(() => undefined, { RADIX_API_URL: 'not a url' }),
      (err: unknown) =>
        err instanceof InvariantsError &&
        err.problems.includes(
          'environments.dev.controlPlane.baseUrl: expected an http(s) URL (value from RADIX_API_URL)',
        ),
    );
  });
});

describe('environment lookup (src/config/environment.ts)', () => {
  it('finds a configured environment and refuses any other name, naming the file and what it defines', () => {
    const inv = loadInvariants(undefined, {});
    assert.equal(environmentOf(inv, 'dev'), inv.environments.dev);
    for (const name of ['prod', 'toString', '__proto__', 'constructor']) {
      assert.throws(
        () => environmentOf(inv, name),
        (err: unknown) => {
          assert.ok(err instanceof UnknownEnvironmentError, `${name}: ${String(err)}`);
          assert.equal(
            err.message,
            `unknown environment ${JSON.stringify(name)}; ${inv.file} defines ${Object.keys(inv.environments).join(', ')}`,
          );
          return true;
        },
      );
    }
  });
});
