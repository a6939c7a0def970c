/**
 * `sentinel run --junit <path>`: the run as a JUnit XML report, so CI pages
 * show which target failed in which phase. One test suite per target, one
 * test case per phase (from the evidence pack, which the run's result only
 * points to), a failed phase carrying its failure code, detail and
 * remediation; plus a `run` suite whose `verdict` case fails with the run's
 * own failure (lane busy, promotion conflict, ...).
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { XMLBuilder } from 'fast-xml-parser';
import { AwsClients } from '../aws/clients';
import { awsErrorMessage } from '../aws/errors';
import type { EvidenceRecord } from '../domain/evidence';
import type { FailureRecord } from '../domain/failures';
import type { LegResult, MatrixRunResult, PhaseRecord } from '../domain/run';

type Node = Record<string, unknown>;

interface Case {
  name: string;
  classname: string;
  seconds: number;
  failure?: FailureRecord;
  /** A phase that never ran (an earlier one failed) or was cancelled. */
  skipped?: string;
}

function failureNode(f: FailureRecord): Node {
  const text = [f.summary, f.detail ? `detail: ${f.detail}` : undefined, `remediation: ${f.remediation}`]
    .filter(Boolean)
    .join('\n');
  return { '@_type': f.code, '@_message': `${f.code}: ${f.summary}`, '#text': text };
}

function caseNode(c: Case): Node {
  return {
    '@_name': c.name,
    '@_classname': c.classname,
    '@_time': c.seconds.toFixed(3),
    ...(c.failure ? { failure: failureNode(c.failure) } : {}),
    ...(c.skipped ? { skipped: { '@_message': c.skipped } } : {}),
  };
}

function suiteNode(name: string, cases: Case[], properties: Record<string, string>): Node {
  return {
    '@_name': name,
    '@_tests': cases.length,
    '@_failures': cases.filter((c) => c.failure).length,
    '@_errors': 0,
    '@_skipped': cases.filter((c) => c.skipped).length,
    '@_time': cases.reduce((sum, c) => sum + c.seconds, 0).toFixed(3),
    properties: { property: Object.entries(properties).map(([k, v]) => ({ '@_name': k, '@_value': v })) },
    testcase: cases.map(caseNode),
  };
}

function phaseCase(classname: string, phase: PhaseRecord): Case {
  const base = { name: phase.name, classname, seconds: phase.durationSeconds ?? 0 };
  switch (phase.outcome) {
    case 'failed':
      return {
        ...base,
        failure: phase.failure ?? {
          code: 'INTERNAL_ERROR',
          summary: 'failed without a failure record',
          remediation: 'Read the evidence pack.',
        },
      };
    case 'cancelled':
      return {
        ...base,
        skipped: `cancelled${phase.failure ? `: ${phase.failure.detail ?? phase.failure.summary}` : ''}`,
      };
    case 'skipped':
      return { ...base, skipped: 'not reached: an earlier phase failed' };
    default:
      return base;
  }
}

/** The cases of one target: its phases from the evidence, or one `leg` case from the result's summary. */
function legCases(
  environment: string,
  target: string,
  leg: LegResult | undefined,
  summary: MatrixRunResult['legs'][number],
): Case[] {
  const classname = `sentinel.${environment}.${target}`;
  // Inconclusive is not failed: the leg's cases are skipped, with the infrastructure reason as the message.
  if (summary.outcome === 'inconclusive') return inconclusiveCases(classname, leg, summary);
  if (leg && leg.phases.length > 0) return leg.phases.map((p) => phaseCase(classname, p));
  const failure = leg?.failure ?? summary.failure;
  return [
    {
      name: 'leg',
      classname,
      seconds: 0,
      ...(summary.outcome === 'passed'
        ? {}
        : summary.outcome === 'cancelled'
          ? { skipped: 'cancelled' }
          : {
              failure: failure ?? {
                code: 'LEG_CRASHED',
                summary: 'the leg ended without a result',
                remediation: 'Inspect the leg workflow in Temporal.',
              },
            }),
    },
  ];
}

function inconclusiveCases(
  classname: string,
  leg: LegResult | undefined,
  summary: MatrixRunResult['legs'][number],
): Case[] {
  const failure = leg?.failure ?? summary.failure;
  const attempts = leg?.attempt ?? summary.attempts ?? 1;
  const skipped = `inconclusive after ${attempts} attempt(s): ${failure ? `${failure.code}: ${failure.detail ?? failure.summary}` : 'infrastructure'}; the candidate was not blamed, nothing was promoted`;
  if (!leg || leg.phases.length === 0) return [{ name: 'leg', classname, seconds: 0, skipped }];
  return leg.phases.map((p) => {
    const { failure: _failure, skipped: _skipped, ...base } = phaseCase(classname, p);
    return p.outcome === 'passed' ? base : { ...base, skipped };
  });
}

export function buildJunitReport(result: MatrixRunResult, evidence?: EvidenceRecord): string {
  const properties = {
    environment: result.environment,
    candidate: result.candidate,
    workflowId: result.workflowId,
    verdict: result.verdict,
    promotion: result.promotion.status,
    simulated: String(result.simulated),
    dryRun: String(result.dryRun),
    evidence: result.evidence?.json ?? '(none)',
    ...(result.cost
      ? {
          instanceSeconds: String(result.cost.instanceSeconds),
          leakedInstanceSeconds: String(result.cost.leakedInstanceSeconds),
          costUsd: result.cost.usd === null ? 'unpriced' : String(result.cost.usd),
        }
      : {}),
    phases: evidence ? 'from the evidence pack' : 'unavailable (evidence pack not read): one case per target',
  };
  const runCase: Case = {
    name: 'verdict',
    classname: `sentinel.${result.environment}.run`,
    seconds: Math.max(0, (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000),
    ...(result.failure && !result.legs.some((l) => l.failure?.code === result.failure?.code)
      ? { failure: result.failure }
      : {}),
    ...(result.verdict === 'inconclusive'
      ? {
          skipped:
            'inconclusive: no leg failed on the candidate, but not every target got a fair trial; nothing was promoted',
        }
      : {}),
  };
  const suites = [
    suiteNode(`${result.environment}/run`, [runCase], properties),
    ...result.legs.map((summary) => {
      const leg = evidence?.legs.find((l) => l.target === summary.target);
      return suiteNode(
        `${result.environment}/${summary.target}`,
        legCases(result.environment, summary.target, leg, summary),
        {
          vendor: summary.vendor,
          workflowId: summary.workflowId,
          ...(summary.instanceId ? { instanceId: summary.instanceId } : {}),
          ...(summary.attempts ? { attempts: String(summary.attempts) } : {}),
          ...(summary.costUsd !== undefined ? { costUsd: String(summary.costUsd) } : {}),
          ...(leg?.instance ? { instanceType: leg.instance.instanceType, ami: leg.instance.ami } : {}),
        },
      );
    }),
  ];
  const all = suites.flatMap((s) => s.testcase as Node[]);
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': `sentinel gpu matrix ${result.environment}${result.simulated ? ' (simulated)' : ''}`,
      '@_tests': all.length,
      '@_failures': all.filter((c) => 'failure' in c).length,
      '@_errors': 0,
      '@_skipped': all.filter((c) => 'skipped' in c).length,
      '@_time': runCase.seconds.toFixed(3),
      testsuite: suites,
    },
  };
  return new XMLBuilder({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    format: true,
    suppressEmptyNode: true,
  }).build(doc);
}

/** Reads the evidence pack a run points to: a local file, or an S3 object in the environment's region. */
export async function readEvidenceRecord(
  location: string,
  region: string,
  aws: AwsClients,
): Promise<EvidenceRecord> {
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!s3) return JSON.parse(readFileSync(location, 'utf8')) as EvidenceRecord;
  const out = await aws.s3(region).send(new GetObjectCommand({ Bucket: s3[1], Key: s3[2] }));
  return JSON.parse(await out.Body!.transformToString('utf8')) as EvidenceRecord;
}

/**
 * Writes the report for `result` to `file`. The evidence is read when it can
 * be; when it cannot, the report still has one case per target and says why.
 * Returns a warning for the operator, if any.
 */
export async function writeJunitReport(
  file: string,
  result: MatrixRunResult,
  region: string,
): Promise<string | undefined> {
  let evidence: EvidenceRecord | undefined;
  let warning: string | undefined;
  if (result.evidence) {
    const aws = new AwsClients();
    try {
      evidence = await readEvidenceRecord(result.evidence.json, region, aws);
    } catch (err) {
      warning = `JUnit report without phases: could not read ${result.evidence.json} (${awsErrorMessage(err)})`;
    } finally {
      aws.destroy();
    }
  }
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, buildJunitReport(result, evidence));
  return warning;
}
