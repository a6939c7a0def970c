/**
 * `sentinel report` on bad input: each case a clear message naming the
 * problem and its fix, its own exit code, never a stack trace, nothing
 * half-written; and evidence strings never become markup.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { strict as assert } from 'node:assert';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AwsClients } from '../../src/aws/clients';
import { EXIT } from '../../src/cli/exit-codes';
import { sentinel } from '../support/cli';
import { sharedStack } from '../support/stack';
import { assertNoStackTrace, FIXTURE, fixturePacks, sentinelReport } from './support';

const rowsIn = (html: string) => (html.match(/<tr data-verdict=/g) ?? []).length;

function evidenceDir(count: number): { dir: string; ids: string[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-report-'));
  const files = readdirSync(FIXTURE)
    .filter((f) => f.endsWith('.json'))
    .slice(0, count);
  for (const f of files) copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  return { dir, ids: files.map((f) => f.replace(/\.json$/, '')) };
}

describe('sentinel report: bad input', function () {
  this.timeout(60_000);

  it('a corrupt JSON file is skipped with a warning naming it; the report is still built (exit 30)', async () => {
    const { dir } = evidenceDir(3);
    writeFileSync(
      path.join(dir, 'sentinel-run-local-torn.json'),
      '{"schema": "sentinel.evidence/v1", "run": {',
    );
    writeFileSync(path.join(dir, 'notes.json'), '{"hello": "not evidence"}');
    mkdirSync(path.join(dir, 'attestations', 'r1'), { recursive: true });
    writeFileSync(path.join(dir, 'attestations', 'r1', 'summary.intoto.dsse.json'), '{}');
    const out = path.join(dir, 'site');
    const run = await sentinelReport(['--env', 'local', '--out', out, '--evidence', dir]);
    assert.equal(run.code, EXIT.REPORT_EVIDENCE_SKIPPED, run.stderr);
    assert.equal(EXIT.REPORT_EVIDENCE_SKIPPED, 30);
    assert.match(
      run.stderr,
      new RegExp(
        `warning: skipped ${path.join(dir, 'sentinel-run-local-torn.json')}: not valid JSON .*fix or remove the file`,
      ),
    );
    assert.match(run.stderr, /warning: skipped .*notes\.json: not an evidence pack/);
    assert.doesNotMatch(run.stderr, /attestations/, 'files below the store are not evidence packs');
    assert.match(run.stdout, /2 evidence file\(s\) skipped/);
    assertNoStackTrace(run.stdout + run.stderr);
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.equal(rowsIn(html), 3);
    assert.match(html, /2 evidence file\(s\) skipped/);
    assert.match(html, /sentinel-run-local-torn\.json/);
    assert.equal(readdirSync(path.join(out, 'runs')).length, 3);
  });

  it('--run with an unknown run id: exit 31, nothing written', async () => {
    const { dir, ids } = evidenceDir(2);
    const out = path.join(dir, 'site');
    const run = await sentinelReport([
      '--env',
      'local',
      '--out',
      out,
      '--evidence',
      dir,
      '--run',
      'no-such-run',
    ]);
    assert.equal(run.code, EXIT.REPORT_RUN_UNKNOWN);
    assert.equal(EXIT.REPORT_RUN_UNKNOWN, 31);
    assert.match(
      run.stderr,
      /^sentinel: no evidence pack for run "no-such-run" of environment local in .*: name it by its workflow id, run id or CI run id/m,
    );
    assert.match(run.stderr, new RegExp(ids[1]!));
    assertNoStackTrace(run.stdout + run.stderr);
    assert.equal(existsSync(out), false);

    // A known one, by its CI run id: that page only.
    const pack = JSON.parse(readFileSync(path.join(dir, `${ids[0]}.json`), 'utf8'));
    const one = await sentinelReport([
      '--env',
      'local',
      '--out',
      out,
      '--evidence',
      dir,
      '--run',
      pack.run.ciRunId,
    ]);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(readdirSync(out), ['runs']);
    assert.deepEqual(readdirSync(path.join(out, 'runs')), [`${ids[0]}.html`]);
  });

  it('--since in a bad format: exit 32 before reading anything; a good one keeps only the recent runs', async () => {
    const { dir } = evidenceDir(18);
    const out = path.join(dir, 'site');
    for (const since of ['30days', '0d', '-3d', '1w']) {
      const run = await sentinelReport(['--env', 'local', '--out', out, '--evidence', dir, '--since', since]);
      assert.equal(run.code, EXIT.REPORT_SINCE_INVALID, `${since}: ${run.stderr}`);
      assert.match(
        run.stderr,
        new RegExp(
          `^sentinel: --since "${since}" is not an age: give a number and a unit \\(m, h or d\\), e\\.g\\. --since 12h or --since 30d`,
          'm',
        ),
      );
      assertNoStackTrace(run.stdout + run.stderr);
    }
    assert.equal(EXIT.REPORT_SINCE_INVALID, 32);
    assert.equal(existsSync(out), false);

    const days = Math.ceil((Date.now() - Date.parse('2026-11-01T00:00:00Z')) / 86_400_000);
    const recent = fixturePacks(dir).filter(
      (p) => Date.parse(p.run.startedAt) >= Date.now() - days * 86_400_000,
    );
    assert.ok(recent.length > 0 && recent.length < 18);
    const run = await sentinelReport([
      '--env',
      'local',
      '--out',
      out,
      '--evidence',
      dir,
      '--since',
      `${days}d`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(rowsIn(readFileSync(path.join(out, 'index.html'), 'utf8')), recent.length);
  });

  it('an output directory that cannot be written: exit 34', async () => {
    const { dir } = evidenceDir(1);
    writeFileSync(path.join(dir, 'a-file'), '');
    const run = await sentinelReport([
      '--env',
      'local',
      '--out',
      path.join(dir, 'a-file', 'site'),
      '--evidence',
      dir,
    ]);
    assert.equal(run.code, EXIT.REPORT_OUTPUT_UNWRITABLE, run.stderr);
    assert.match(
      run.stderr,
      /^sentinel: cannot write the report under .*a-file\/site \(ENOTDIR\): choose a directory you can write with --out/m,
    );
    assertNoStackTrace(run.stdout + run.stderr);
  });

  it('a local evidence directory that does not exist: exit 33', async () => {
    const run = await sentinelReport([
      '--env',
      'local',
      '--out',
      path.join(os.tmpdir(), 'never-written'),
      '--evidence',
      '/nonexistent/evidence',
    ]);
    assert.equal(run.code, EXIT.REPORT_EVIDENCE_UNREADABLE, run.stderr);
    assert.match(
      run.stderr,
      /^sentinel: cannot read the evidence directory \/nonexistent\/evidence \(ENOENT\): check the path/m,
    );
    assertNoStackTrace(run.stdout + run.stderr);
  });

  it('an empty evidence store: an index that says so, exit 0', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-report-empty-'));
    const run = await sentinelReport(['--env', 'local', '--out', path.join(dir, 'site'), '--evidence', dir]);
    assert.equal(run.code, 0, run.stderr);
    const html = readFileSync(path.join(dir, 'site', 'index.html'), 'utf8');
    assert.equal(rowsIn(html), 0);
    assert.match(html, /No evidence pack of this environment in the store/);
    assert.doesNotMatch(html, /<svg/);
  });

  it('evidence strings are escaped: a hostile target name or failure detail stays text', async () => {
    const { dir, ids } = evidenceDir(1);
    const file = path.join(dir, `${ids[0]}.json`);
    const pack = JSON.parse(readFileSync(file, 'utf8'));
    pack.legs[0].target = '<img src=x onerror="document.title=1">';
    pack.legs[0].phases[0].failure = {
      code: 'PROVISION_FAILED',
      summary: 's',
      remediation: '</td><script>alert(1)</script>',
      detail: 'd',
    };
    pack.legs[0].failure = pack.legs[0].phases[0].failure;
    pack.run.workflowId = '../../escape"me';
    pack.cancellation = { reason: '<b>withdrawn</b>', requestedBy: 'sentinel runs cancel (ops@host)' };
    writeFileSync(file, JSON.stringify(pack));
    const out = path.join(dir, 'site');
    const run = await sentinelReport(['--env', 'local', '--out', out, '--evidence', dir]);
    assert.equal(run.code, 0, run.stderr);
    const pages = [
      readFileSync(path.join(out, 'index.html'), 'utf8'),
      ...readdirSync(path.join(out, 'runs')).map((f) => readFileSync(path.join(out, 'runs', f), 'utf8')),
    ];
    assert.deepEqual(
      readdirSync(path.join(out, 'runs')),
      ['__.._escape_me.html'],
      'the page stays inside runs/, not hidden',
    );
    for (const html of pages) {
      assert.doesNotMatch(html, /<img src=x|<script>alert/);
      assert.match(html, /&lt;img src=x onerror=&quot;document\.title=1&quot;&gt;/);
    }
    assert.match(pages[1]!, /&lt;\/td&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(
      pages[1]!,
      /cancel requested by sentinel runs cancel \(ops@host\): &lt;b&gt;withdrawn&lt;\/b&gt;/,
    );
  });

  describe('S3 (moto)', () => {
    const bucket = 'sentinel-report-evidence';

    before(async () => {
      await sharedStack();
    });

    it('reads the packs under an S3 prefix (not the attestations below it), skipping a corrupt one', async () => {
      const s3 = new AwsClients().s3('us-west-2');
      await s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          CreateBucketConfiguration: { LocationConstraint: 'us-west-2' },
        }),
      );
      const files = readdirSync(FIXTURE)
        .filter((f) => f.endsWith('.json'))
        .slice(0, 4);
      for (const f of files)
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `gpu-matrix/${f}`,
            Body: readFileSync(path.join(FIXTURE, f)),
          }),
        );
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'gpu-matrix/broken.json', Body: 'not json' }),
      );
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'gpu-matrix/attestations/r/summary.intoto.dsse.json',
          Body: '{}',
        }),
      );
      const out = mkdtempSync(path.join(os.tmpdir(), 'sentinel-report-s3-'));
      const run = await sentinel([
        'report',
        '--env',
        'local',
        '--out',
        out,
        '--evidence',
        `s3://${bucket}/gpu-matrix`,
      ]);
      assert.equal(run.code, EXIT.REPORT_EVIDENCE_SKIPPED, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(`warning: skipped s3://${bucket}/gpu-matrix/broken\\.json: not valid JSON`),
      );
      assert.equal(rowsIn(readFileSync(path.join(out, 'index.html'), 'utf8')), 4);
    });

    it('an S3 bucket that does not exist: exit 33, naming the bucket and the fix', async () => {
      const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'sentinel-report-s3-')), 'site');
      const run = await sentinel([
        'report',
        '--env',
        'local',
        '--out',
        out,
        '--evidence',
        's3://sentinel-no-such-bucket/gpu-matrix/',
      ]);
      assert.equal(run.code, EXIT.REPORT_EVIDENCE_UNREADABLE, run.stderr);
      assert.equal(EXIT.REPORT_EVIDENCE_UNREADABLE, 33);
      assert.match(
        run.stderr,
        /^sentinel: cannot list the evidence at s3:\/\/sentinel-no-such-bucket\/gpu-matrix\/ \(NoSuchBucket: .*\): the bucket does not exist; check the bucket name/m,
      );
      assertNoStackTrace(run.stdout + run.stderr);
      assert.equal(existsSync(out), false);
    });
  });
});
