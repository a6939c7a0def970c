import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT } from '../../src/cli/exit-codes';
import { PROJECT_ROOT } from '../../src/config/load';
import { sentinel } from '../support/cli';
import { testEnvironment } from '../support/invariants';
import { sharedStack } from '../support/stack';

/**
 * Bad Temporal connection settings stop the CLI and the worker before they
 * connect anywhere: one clear message, exit 3 (CONFIG_INVALID), no stack trace.
 * Before, a missing certificate file exited 2 and an unknown profile or a
 * missing config file was not noticed: the command went to localhost:7233.
 */
describe('bad Temporal connection settings at startup', function () {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-bad-temporal-'));
  const config = path.join(dir, 'temporal.toml');
  writeFileSync(config, '[profile.staging]\naddress = "staging.example:7233"\n');
  const cases: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    [
      'a missing CA file',
      { TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'missing-ca.pem') },
      /TEMPORAL_TLS_SERVER_CA_CERT_PATH=.*missing-ca\.pem: ENOENT/,
    ],
    [
      'an unknown profile',
      { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'prod' },
      /TEMPORAL_PROFILE=prod: .*temporal\.toml has no \[profile\.prod\] \(it has staging\)/,
    ],
    [
      'a config file that is not there',
      { TEMPORAL_CONFIG_FILE: path.join(dir, 'nowhere.toml'), TEMPORAL_PROFILE: '' },
      /TEMPORAL_CONFIG_FILE=.*nowhere\.toml: ENOENT/,
    ],
    [
      'a former variable name',
      { TEMPORAL_TLS_CA: path.join(dir, 'ca.pem') },
      /TEMPORAL_TLS_CA is no longer read: set TEMPORAL_TLS_SERVER_CA_CERT_PATH instead/,
    ],
  ];

  before(async () => {
    await sharedStack();
  });

  for (const [what, vars, message] of cases) {
    it(`sentinel exits 3 for ${what}`, async () => {
      const env = testEnvironment('bad-temporal');
      const run = await sentinel(['runs', 'list', '--env', env.name], env.file, vars);
      assert.equal(run.code, EXIT.CONFIG_INVALID, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
      assert.match(run.stderr, /invalid Temporal connection settings: /);
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stdout + run.stderr, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
    });
  }

  it('the worker exits 3 for an unknown profile, before it connects', async () => {
    const stack = await sharedStack();
    const env = testEnvironment('bad-temporal-worker');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/worker/main.ts')],
      {
        env: {
          ...process.env,
          ...stack.env,
          SENTINEL_INVARIANTS: env.file,
          TEMPORAL_CONFIG_FILE: config,
          TEMPORAL_PROFILE: 'prod',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    // A worker that does not refuse runs on: stop it after a generous deadline rather than leave it behind.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve)).finally(() =>
      clearTimeout(deadline),
    );
    assert.equal(code, EXIT.CONFIG_INVALID, `the worker did not stop with exit 3 (code ${code}):\n${output}`);
    assert.match(
      output,
      /invalid Temporal connection settings: TEMPORAL_PROFILE=prod: .*has no \[profile\.prod\]/,
    );
    assert.doesNotMatch(output, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
    assert.doesNotMatch(output, /sentinel worker started/);
  });
});
