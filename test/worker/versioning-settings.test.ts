/**
 * How the worker names its Worker Deployment version (src/worker/versioning.ts,
 * docs/versioning.md), and that the image carries the build id it is given.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/config/load';
import { projectGitHead, workerVersioningSettings, WorkerVersioningError } from '../../src/worker/versioning';
import { testEnvironment } from '../support/invariants';
import { suiteDir } from '../support/stack';

const noGit = () => undefined;

describe('worker versioning settings', () => {
  it("is on by default: the deployment is the task queue, the build id the checkout's git sha", () => {
    const head = projectGitHead();
    assert.match(head ?? '', /^[0-9a-f]{40}$/, 'the suite runs from a git checkout');
    assert.deepEqual(workerVersioningSettings('sentinel-gpu-matrix', {}), {
      enabled: true,
      version: { deploymentName: 'sentinel-gpu-matrix', buildId: head },
    });
  });

  it('takes SENTINEL_BUILD_ID and SENTINEL_DEPLOYMENT_NAME over the defaults, and can be switched off', () => {
    assert.deepEqual(
      workerVersioningSettings(
        'q',
        { SENTINEL_BUILD_ID: 'abc123', SENTINEL_DEPLOYMENT_NAME: 'sentinel-prod' },
        noGit,
      ),
      {
        enabled: true,
        version: { deploymentName: 'sentinel-prod', buildId: 'abc123' },
      },
    );
    assert.deepEqual(workerVersioningSettings('q', { SENTINEL_WORKER_VERSIONING: 'off' }, noGit), {
      enabled: false,
    });
  });

  it('refuses what the worker cannot poll with, saying what to set', () => {
    assert.throws(
      () => workerVersioningSettings('q', {}, noGit),
      (err: Error) =>
        err instanceof WorkerVersioningError &&
        /SENTINEL_BUILD_ID/.test(err.message) &&
        /--build-arg/.test(err.message),
    );
    assert.throws(
      () => workerVersioningSettings('q', { SENTINEL_WORKER_VERSIONING: 'yes' }, noGit),
      /SENTINEL_WORKER_VERSIONING=yes is not understood/,
    );
    assert.throws(
      () => workerVersioningSettings('sentinel.gpu', { SENTINEL_BUILD_ID: 'a' }),
      /must not contain "\." or ":"/,
    );
    assert.throws(
      () => workerVersioningSettings('q', { SENTINEL_BUILD_ID: 'v1.2 beta' }),
      /SENTINEL_BUILD_ID="v1.2 beta" must be letters, digits/,
    );
  });

  it('the worker process without a build id nor a git checkout exits 3 with that message, no stack trace', function () {
    this.timeout(120_000);
    const env = testEnvironment('no-build-id');
    // PATH holds node only: no git, as in the image.
    const bin = path.join(suiteDir, 'node-only-bin');
    mkdirSync(bin, { recursive: true });
    try {
      symlinkSync(process.execPath, path.join(bin, 'node'));
    } catch {
      // already there from an earlier run of this test
    }
    const out = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/worker/main.ts')],
      {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        timeout: 90_000,
        env: {
          ...process.env,
          PATH: bin,
          SENTINEL_INVARIANTS: env.file,
          SENTINEL_BUILD_ID: '',
          SENTINEL_WORKER_VERSIONING: '',
        },
      },
    );
    assert.equal(out.status, 3, out.stderr);
    assert.match(out.stderr, /the worker has no build id: set SENTINEL_BUILD_ID/);
    assert.doesNotMatch(out.stderr, /\n\s+at /, 'no stack trace');
  });

  it('the image takes the build id as a build argument, and the compose build passes it', () => {
    const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    assert.match(runtime, /^ARG SENTINEL_BUILD_ID=$/m);
    assert.match(runtime, /^ENV SENTINEL_BUILD_ID=\$\{SENTINEL_BUILD_ID\}$/m);
    const compose = parse(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.temporal.yml'), 'utf8')) as {
      services: Record<string, { build?: { args?: Record<string, string> } }>;
    };
    assert.equal(
      compose.services['sentinel-worker']?.build?.args?.SENTINEL_BUILD_ID,
      '${SENTINEL_BUILD_ID:-}',
    );
  });
});
