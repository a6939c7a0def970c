import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { XMLParser } from 'fast-xml-parser';
import { buildJunitReport } from '../../src/cli/junit';
import { failureRecord } from '../../src/domain/failures';
import type { MatrixRunResult } from '../../src/domain/run';
import { aws, candidate, REGION } from '../support/aws';
import { jsonOf, sentinelCli } from '../support/cli';
import { recordTool, testEnvironment } from '../support/invariants';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

type Json = Record<string, any>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  isArray: (name) => ['testsuite', 'testcase', 'property'].includes(name),
});

function suites(xml: string): Json[] {
  return (parser.parse(xml) as Json).testsuites.testsuite as Json[];
}

describe('sentinel run --junit', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('reports one case per target and phase, read from evidence in S3; a failed phase carries its code and remediation', async () => {
    const bucket = `sentinel-junit-${Date.now()}`;
    await aws.s3(REGION).send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: REGION },
      }),
    );
    const env = testEnvironment('junit', (e) => {
      e.evidence.location = `s3://${bucket}/gpu-matrix/`;
    });
    recordTool(env.hostsDir, 'amd-v520', 'rocm-smi', {
      cmd: 'rocm-smi --showproductname',
      out: 'ERROR:root:Driver not initialized (amdgpu not found in modules)\n',
      exit: 0,
    });
    const worker = await startWorker(env.invariants);
    try {
      const file = path.join(env.dir, 'reports', 'junit.xml');
      const run = await sentinelCli([
        '--json',
        '--invariants',
        env.file,
        'run',
        '--env',
        env.name,
        '--digest',
        await candidate('junit'),
        '--run-id',
        'junit-1',
        '--junit',
        file,
      ]);
      assert.equal(run.code, 1, run.stderr);
      const result = jsonOf(run);
      assert.match(result.evidence.json, new RegExp(`^s3://${bucket}/gpu-matrix/`));

      const report = suites(readFileSync(file, 'utf8'));
      assert.deepEqual(
        report.map((s) => s.name),
        [`${env.name}/run`, `${env.name}/nvidia-a10g`, `${env.name}/amd-v520`],
      );
      const nvidia = report[1]!;
      assert.deepEqual(
        nvidia.testcase.map((c: Json) => c.name),
        [
          'provision',
          'host_ready',
          'host_setup',
          'gpu_detect',
          'container_runtime',
          'installer',
          'onboarding',
          'smoke_job',
          'cleanup',
        ],
      );
      assert.ok(
        nvidia.testcase
          .filter((c: Json) =>
            ['provision', 'host_ready', 'host_setup', 'gpu_detect', 'container_runtime', 'cleanup'].includes(
              c.name,
            ),
          )
          .every((c: Json) => !c.failure && !c.skipped),
      );
      const amd = report[2]!;
      assert.equal(amd.failures, '1');
      const gpu = amd.testcase.find((c: Json) => c.name === 'gpu_detect');
      assert.equal(gpu.classname, `sentinel.${env.name}.amd-v520`);
      assert.equal(gpu.failure.type, 'GPU_DRIVER_ERROR');
      assert.match(gpu.failure['#text'], /remediation: .*kernel module/);
      assert.match(gpu.failure['#text'], /Driver not initialized/);
      assert.ok(
        amd.testcase.find((c: Json) => c.name === 'container_runtime').skipped,
        'phases after the failure are skipped',
      );
      assert.equal(amd.testcase.find((c: Json) => c.name === 'cleanup').failure, undefined);
      const props = Object.fromEntries(report[0]!.properties.property.map((p: Json) => [p.name, p.value]));
      assert.equal(props.verdict, 'failed');
      assert.equal(props.phases, 'from the evidence pack');
    } finally {
      await worker.stop();
    }
  });

  it('refuses --junit together with --no-wait before starting anything', async () => {
    const env = testEnvironment('junit-nowait');
    const run = await sentinelCli([
      '--invariants',
      env.file,
      'run',
      '--env',
      env.name,
      '--digest',
      await candidate('x'),
      '--no-wait',
      '--junit',
      path.join(env.dir, 'j.xml'),
    ]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--junit needs the run's verdict/);
  });

  it('falls back to one case per target when the evidence cannot be read, and escapes what hosts report', () => {
    const hostile = failureRecord('GPU_MODEL_MISMATCH', 'model "<A10G>" & </failure><injected/>');
    const result: MatrixRunResult = {
      schema: 'sentinel.run-result/v1',
      workflowId: 'w',
      runId: 'r',
      environment: 'dev',
      simulated: false,
      executor: 'ssm',
      dryRun: false,
      trigger: 'ci',
      candidate: 'ghcr.io/a/b@sha256:' + '0'.repeat(64),
      gitSha: 'unknown',
      ciRunId: '1',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:10:00.000Z',
      verdict: 'failed',
      approvedBefore: null,
      approvedAfter: null,
      promotion: { status: 'not_promoted_failed' },
      legs: [
        {
          target: 'nvidia-a10g',
          vendor: 'nvidia',
          workflowId: 'w--nvidia-a10g',
          outcome: 'failed',
          failure: hostile,
        },
        { target: 'amd-v520', vendor: 'amd', workflowId: 'w--amd-v520', outcome: 'passed' },
      ],
    };
    const xml = buildJunitReport(result);
    assert.doesNotMatch(xml, /<injected\/>/);
    const report = suites(xml);
    assert.equal(report.length, 3);
    assert.equal(report[1]!.testcase[0].name, 'leg');
    assert.equal(report[1]!.testcase[0].failure.type, 'GPU_MODEL_MISMATCH');
    assert.match(report[1]!.testcase[0].failure['#text'], /model "<A10G>" & <\/failure><injected\/>/);
    assert.equal(report[2]!.testcase[0].failure, undefined);
    assert.equal(
      report[0]!.testcase[0].failure,
      undefined,
      'a leg failure is reported on its leg, not again on the run',
    );
  });

  it('reports an inconclusive target as skipped with its reason, not failed, even without the evidence', () => {
    const result: MatrixRunResult = {
      schema: 'sentinel.run-result/v1',
      workflowId: 'w',
      runId: 'r',
      environment: 'dev',
      simulated: false,
      executor: 'ssm',
      dryRun: false,
      trigger: 'ci',
      candidate: 'ghcr.io/a/b@sha256:' + '0'.repeat(64),
      gitSha: 'unknown',
      ciRunId: '1',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:10:00.000Z',
      verdict: 'inconclusive',
      approvedBefore: null,
      approvedAfter: null,
      promotion: { status: 'not_promoted_failed', detail: 'amd-v520: HOST_READY_TIMEOUT' },
      legs: [
        {
          target: 'nvidia-a10g',
          vendor: 'nvidia',
          workflowId: 'w--nvidia-a10g',
          outcome: 'passed',
          costUsd: 0.2,
        },
        {
          target: 'amd-v520',
          vendor: 'amd',
          workflowId: 'w--amd-v520--attempt-2',
          outcome: 'inconclusive',
          attempts: 2,
          failure: failureRecord('HOST_READY_TIMEOUT', 'not online after 20m'),
        },
      ],
      cost: {
        instanceSeconds: 1200,
        leakedInstanceSeconds: 30,
        usd: 0.3,
        unpricedInstances: 0,
        pricesReadAt: '2026-07-20',
      },
    };
    const xml = buildJunitReport(result);
    const doc = parser.parse(xml) as Json;
    assert.equal(doc.testsuites.failures, '0');
    const report = suites(xml);
    const amd = report[2]!.testcase[0];
    assert.equal(amd.failure, undefined);
    assert.match(
      amd.skipped.message,
      /^inconclusive after 2 attempt\(s\): HOST_READY_TIMEOUT: not online after 20m; the candidate was not blamed, nothing was promoted$/,
    );
    assert.match(report[0]!.testcase[0].skipped.message, /^inconclusive/);
    const props = Object.fromEntries(report[0]!.properties.property.map((p: Json) => [p.name, p.value]));
    assert.equal(props.verdict, 'inconclusive');
    assert.equal(props.costUsd, '0.3');
    assert.equal(props.leakedInstanceSeconds, '30');
  });
});
