import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadInvariants, PROJECT_ROOT } from '../../src/config/load';
import { actionlint } from '../support/ops-tools';

type Json = Record<string, any>;

const FILE = '.github/workflows/sentinel-gpu-matrix-and-promote-dev.yml';
const ALLOWED_SECRETS = [
  'RADIX_TEST_PASSWORD',
  'RADIX_TEST_USERNAME',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_API_KEY',
  'TEMPORAL_NAMESPACE',
];

describe('the GPU-matrix CI workflow', () => {
  const text = readFileSync(path.join(PROJECT_ROOT, FILE), 'utf8');
  const workflow = parse(text) as Json;
  const job = Object.values<Json>(workflow.jobs)[0]!;
  const steps = job.steps as Json[];
  const step = (predicate: (s: Json) => boolean, what: string): Json => {
    const found = steps.find(predicate);
    assert.ok(found, `no step ${what}`);
    return found;
  };

  it('passes actionlint', () => {
    const out = actionlint([FILE]);
    assert.equal(out.status, 0, `${out.display}:\n${out.stdout}${out.stderr}`);
  });

  it('appends the evidence Markdown to the job summary, whatever the verdict', () => {
    const fetch = step(
      (s) => typeof s.run === 'string' && s.run.includes('GITHUB_STEP_SUMMARY'),
      'writing the job summary',
    );
    assert.equal(fetch.if, 'always()', 'a failed run has the most to show');
    assert.match(
      fetch.run,
      /for md in "\$out"\/evidence\/\*\.md; do\n\s+\[ -f "\$md" \] && cat "\$md" >> "\$GITHUB_STEP_SUMMARY"/,
    );
    assert.match(fetch.run, /no evidence Markdown could be fetched[^\n]*>> "\$GITHUB_STEP_SUMMARY"/);
  });

  it('has a dry_run input and one non-cancelling concurrency group per environment', () => {
    assert.equal(workflow.on.workflow_dispatch.inputs.dry_run.type, 'boolean');
    assert.equal(workflow.on.workflow_dispatch.inputs.dry_run.default, false);
    assert.equal(workflow.concurrency['cancel-in-progress'], false);
    assert.match(workflow.concurrency.group, new RegExp(`-${workflow.env.SENTINEL_ENV}$`));
    assert.equal(Object.keys(workflow.jobs).length, 1);
  });

  it('uses only the control-plane account and the Temporal connection as secrets', () => {
    const used = [
      ...new Set([...text.matchAll(/secrets\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!)),
    ].sort();
    assert.deepEqual(used, ALLOWED_SECRETS);
    assert.doesNotMatch(
      text,
      /AWS_SECRET_ACCESS_KEY|aws-secret-access-key/,
      'AWS access comes through OIDC, never a stored key',
    );
    assert.equal(workflow.permissions['id-token'], 'write');
  });

  it('builds and pushes the candidate of the configured repository and runs the matrix on its digest', () => {
    const invariants = loadInvariants();
    const env = invariants.environments[workflow.env.SENTINEL_ENV]!;
    assert.ok(env, `environment ${workflow.env.SENTINEL_ENV} exists in ops/invariants.yaml`);
    assert.equal(workflow.env.IMAGE_REPOSITORY, env.image.repository);
    const build = step(
      (s) => String(s.uses ?? '').startsWith('docker/build-push-action@'),
      'building the image',
    );
    assert.equal(build.with.push, true);
    const run = step((s) => /bin\/sentinel\.js/.test(String(s.run ?? '')), 'running sentinel');
    assert.match(run.run, /--json run/);
    assert.match(run.run, /--env "\$SENTINEL_ENV"/);
    assert.match(run.run, /--digest "\$IMAGE_REPOSITORY@\$DIGEST"/);
    assert.match(run.run, /--junit "\$out\/junit\.xml"/);
    assert.match(run.run, /--dry-run/);
    assert.equal(run.env.DIGEST, `\${{ steps.${build.id}.outputs.digest }}`);
  });

  it('uploads the evidence pack for 90 days and publishes the JUnit report, even when the run failed', () => {
    const upload = step(
      (s) => String(s.uses ?? '').startsWith('actions/upload-artifact@'),
      'uploading the evidence',
    );
    assert.equal(upload.if, 'always()');
    assert.equal(upload.with['retention-days'], 90);
    const fetch = step((s) => /aws s3 cp/.test(String(s.run ?? '')), 'fetching the evidence');
    assert.equal(fetch.if, 'always()');
    const junit = step(
      (s) => String(s.uses ?? '').startsWith('mikepenz/action-junit-report@'),
      'publishing JUnit',
    );
    assert.equal(junit.if, 'always()');
    assert.match(junit.with.report_paths, /junit\.xml$/);
  });

  it('pins every action to a commit', () => {
    for (const s of steps) {
      if (s.uses) assert.match(s.uses, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/, `${s.uses} is pinned by commit`);
    }
  });
});
