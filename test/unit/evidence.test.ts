import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config/load';
import { EVIDENCE_SCHEMA, type EvidenceRecord } from '../../src/domain/evidence';
import { failureRecord } from '../../src/domain/failures';
import { renderEvidenceMarkdown } from '../../src/evidence/markdown';
import { evidenceJsonSchema, evidenceSchema } from '../../src/evidence/schema';

function record(overrides: Partial<EvidenceRecord> = {}): EvidenceRecord {
  return {
    schema: EVIDENCE_SCHEMA,
    simulated: false,
    verdict: 'failed',
    run: {
      workflowId: 'sentinel-run-dev-123',
      runId: 'r-1',
      environment: 'dev',
      trigger: 'ci',
      dryRun: false,
      gitSha: '0123456789abcdef0123456789abcdef01234567',
      ciRunId: '123',
      startedAt: '2026-11-25T02:00:00.000Z',
      finishedAt: '2026-11-25T02:14:30.000Z',
      durationSeconds: 870,
      executor: 'ssm',
      configFile: '/srv/ops/invariants.yaml',
      configSha256: 'e'.repeat(64),
    },
    candidate: {
      reference: 'ghcr.io/iangreen74/radix-cluster-agent@sha256:' + 'b'.repeat(64),
      repository: 'ghcr.io/iangreen74/radix-cluster-agent',
      digest: 'sha256:' + 'b'.repeat(64),
    },
    approvedDigest: {
      parameter: '/radix/dev/agent_digest_approved',
      before: { reference: 'x@sha256:' + 'a'.repeat(64), version: 3 },
      after: { reference: 'x@sha256:' + 'a'.repeat(64), version: 3 },
    },
    promotion: { status: 'not_promoted_failed', detail: 'amd-v520: GPU_DRIVER_ERROR' },
    legs: [
      {
        target: 'amd-v520',
        vendor: 'amd',
        provider: 'aws-ec2',
        workflowId: 'sentinel-run-dev-123--amd-v520',
        outcome: 'failed',
        simulated: false,
        executor: 'ssm',
        region: 'us-west-2',
        ami: 'ami-0875d33dff2aae0d5',
        instance: {
          instanceId: 'i-0abc',
          instanceType: 'g4ad.xlarge',
          ami: 'ami-0875d33dff2aae0d5',
          region: 'us-west-2',
        },
        phases: [
          {
            name: 'provision',
            outcome: 'passed',
            startedAt: '2026-11-25T02:00:01.000Z',
            durationSeconds: 12,
          },
          {
            name: 'gpu_detect',
            outcome: 'failed',
            startedAt: '2026-11-25T02:03:00.000Z',
            durationSeconds: 2,
            failure: failureRecord('GPU_DRIVER_ERROR', 'rocm-smi | <b>boom</b>\nsecond line'),
          },
        ],
        failure: failureRecord('GPU_DRIVER_ERROR', 'rocm-smi | <b>boom</b>\nsecond line'),
      },
    ],
    ...overrides,
  };
}

describe('evidence pack', () => {
  it('validates against the published v1 schema, which is committed as JSON Schema', () => {
    evidenceSchema.parse(record());
    const committed = JSON.parse(
      readFileSync(path.join(PROJECT_ROOT, 'docs', 'evidence-v1.schema.json'), 'utf8'),
    );
    assert.deepEqual(
      committed,
      evidenceJsonSchema(),
      'docs/evidence-v1.schema.json is stale: run `npm run evidence-schema`',
    );
    assert.throws(() => evidenceSchema.parse({ ...record(), verdict: 'maybe' }));
  });

  it('renders the verdict, digests, failure code and remediation in Markdown', () => {
    const md = renderEvidenceMarkdown(record());
    assert.match(md, /^# Sentinel GPU matrix: FAILED/);
    assert.match(md, /\| Approved before \| `x@sha256:a{64}` \(version 3\) \|/);
    assert.match(md, /\*\*`GPU_DRIVER_ERROR`\*\*: The GPU tool is installed but cannot talk to the driver/);
    assert.match(md, /Remediation: The kernel module is not loaded/);
    assert.doesNotMatch(md, /SIMULATED/);
  });

  it('escapes what hosts report, so a value cannot break the table or inject markup', () => {
    const md = renderEvidenceMarkdown(record());
    assert.match(md, /rocm-smi \\\| \\<b\\>boom\\<\/b\\> second line/);
    assert.doesNotMatch(md, /<b>boom/);
  });

  it("records an inconclusive leg with its earlier attempts and each machine's cost, and says so in Markdown", () => {
    const base = record().legs[0]!;
    const cost = {
      instanceId: 'i-0abc',
      instanceType: 'g4ad.xlarge',
      launchedAt: '2026-11-25T02:00:05.000Z',
      terminatedAt: '2026-11-25T02:10:05.000Z',
      terminationObserved: true,
      instanceSeconds: 600,
      leakedSeconds: 42,
      usdPerHour: 0.37853,
      usd: 0.0631,
    };
    const earlier = {
      ...base,
      workflowId: 'sentinel-run-dev-123--amd-v520',
      failure: failureRecord('HOST_READY_TIMEOUT'),
      cost,
    };
    const inconclusive = record({
      verdict: 'inconclusive',
      legs: [
        {
          ...base,
          workflowId: 'sentinel-run-dev-123--amd-v520--attempt-2',
          outcome: 'inconclusive',
          attempt: 2,
          earlierAttempts: [earlier],
          failure: failureRecord('INSTANCE_CAPACITY_UNAVAILABLE', 'no g4ad.xlarge in us-west-2a'),
        },
      ],
      cost: {
        instanceSeconds: 600,
        leakedInstanceSeconds: 42,
        usd: 0.0631,
        unpricedInstances: 0,
        pricesReadAt: '2026-07-20',
        priceSource: 'Karpenter',
      },
    });
    evidenceSchema.parse(inconclusive);
    assert.throws(() =>
      evidenceSchema.parse({ ...inconclusive, legs: [{ ...inconclusive.legs[0], outcome: 'flaky' }] }),
    );
    const md = renderEvidenceMarkdown(inconclusive);
    assert.match(md, /^# Sentinel GPU matrix: INCONCLUSIVE/);
    assert.match(md, /\*\*INCONCLUSIVE\.\*\* No leg failed on the candidate/);
    assert.match(
      md,
      /## Cost\n\n\$0\.0631 for 10m of instance time \(600\.0 instance-seconds\), of which 42\.0 s leaked/,
    );
    assert.match(
      md,
      /\| amd-v520 \| 1 \| `i-0abc` \| g4ad\.xlarge \| .* \| 600\.0 \| 42\.0 \| 0\.37853 \| \$0\.0631 \|/,
    );
    assert.match(md, /This was attempt 2; the earlier ones ended for an infrastructure reason/);
    assert.match(md, /\| 1 \| `sentinel-run-dev-123--amd-v520` \| `i-0abc` \| `HOST_READY_TIMEOUT`/);
  });

  it("draws every leg's timed phases as a Mermaid gantt block, failed phases marked critical", () => {
    const base = record();
    const nvidia = {
      ...base.legs[0]!,
      target: 'nvidia:a10g#1',
      vendor: 'nvidia' as const,
      outcome: 'passed' as const,
      failure: undefined,
      phases: [
        {
          name: 'provision' as const,
          outcome: 'passed' as const,
          startedAt: '2026-11-25T02:00:02.000Z',
          durationSeconds: 20.5,
        },
        { name: 'smoke_job' as const, outcome: 'skipped' as const },
      ],
    };
    const md = renderEvidenceMarkdown(record({ legs: [base.legs[0]!, nvidia] }));
    const block = /## Timeline\n\n```mermaid\n([\s\S]*?)\n```/.exec(md);
    assert.ok(block, md);
    const lines = block[1]!.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['gantt', '  dateFormat x', '  axisFormat %H:%M:%S']);
    const start = Date.parse('2026-11-25T02:00:01.000Z');
    assert.ok(lines.includes('  section amd-v520'));
    assert.ok(
      lines.includes(`  provision passed :done, l0_provision, ${start}, ${start + 12_000}`),
      lines.join('\n'),
    );
    const detect = Date.parse('2026-11-25T02:03:00.000Z');
    assert.ok(
      lines.includes(
        `  gpu_detect failed GPU_DRIVER_ERROR :crit, l0_gpu_detect, ${detect}, ${detect + 2_000}`,
      ),
      lines.join('\n'),
    );
    assert.ok(lines.includes('  section nvidia_a10g_1'), 'a name cannot break the block');
    assert.ok(!lines.some((l) => l.includes('smoke_job')), 'a phase that never started is not drawn');
    assert.ok(md.indexOf('## Timeline') > md.indexOf('## Targets'));
  });

  it('draws no timeline when no phase has a start time', () => {
    const base = record();
    const md = renderEvidenceMarkdown(
      record({ legs: [{ ...base.legs[0]!, phases: [{ name: 'provision', outcome: 'skipped' }] }] }),
    );
    assert.ok(!md.includes('```mermaid'));
  });

  it('marks simulated runs as such at the top', () => {
    const md = renderEvidenceMarkdown(record({ simulated: true }));
    assert.match(md.split('\n').slice(0, 4).join('\n'), /SIMULATED RUN/);
  });
});
