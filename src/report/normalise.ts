/**
 * One evidence document (already parsed JSON, of any evidence version) to a
 * ReportRun, or the reason it is not an evidence pack the report can show.
 * Checked structurally, not with the current schema's validator: older
 * versions lack fields the current one has, and must still render.
 */
import type { EvidenceRecord } from '../domain/evidence';
import { outcomeClass, type ReportLeg, type ReportPhase, type ReportRun } from './model';

/** Fields the evidence gained after its first version (all optional in the schema). */
const LATER_FIELDS = ['preflight', 'janitor', 'cost', 'attestation'] as const;
const KNOWN_SCHEMA = /^sentinel\.evidence\/v1$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const time = (v: unknown): number | undefined =>
  typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : undefined;

export function normaliseEvidence(doc: unknown, source: string): { run: ReportRun } | { problem: string } {
  if (!isObject(doc)) return { problem: 'not a JSON object' };
  if (typeof doc.schema !== 'string' || !doc.schema.startsWith('sentinel.evidence/'))
    return { problem: 'not an evidence pack (no "schema": "sentinel.evidence/…")' };
  if (!KNOWN_SCHEMA.test(doc.schema))
    return {
      problem: `evidence schema ${doc.schema} is newer than this sentinel knows (sentinel.evidence/v1): build the report with a newer sentinel`,
    };
  const run = doc.run;
  if (!isObject(run) || typeof run.workflowId !== 'string') return { problem: 'no run.workflowId' };
  const startMs = time(run.startedAt);
  if (startMs === undefined) return { problem: 'run.startedAt is missing or not a date' };
  if (typeof doc.verdict !== 'string') return { problem: 'no verdict' };
  if (
    !Array.isArray(doc.legs) ||
    !doc.legs.every((leg) => isObject(leg) && typeof leg.target === 'string' && Array.isArray(leg.phases))
  ) {
    return { problem: 'legs is not a list of legs with a target and phases' };
  }
  const evidence = doc as unknown as EvidenceRecord;
  const finishMs = time(run.finishedAt) ?? startMs;
  const attempts: ReportLeg[] = [];
  const legs: ReportLeg[] = [];
  for (const raw of evidence.legs) {
    const earlier = (raw.earlierAttempts ?? []).map((leg, i) => reportLeg(leg, i + 1));
    const last = reportLeg(raw, raw.attempt ?? earlier.length + 1);
    attempts.push(...earlier, last);
    const costs = [...earlier, last].map((l) => l.usd).filter((u): u is number => u !== undefined);
    const { usd: _own, ...rest } = last;
    legs.push({ ...rest, ...(costs.length ? { usd: costs.reduce((a, b) => a + b, 0) } : {}) });
  }
  const usd = num(isObject(doc.cost) ? doc.cost.usd : undefined);
  return {
    run: {
      id: run.workflowId,
      runId: text(run.runId),
      ciRunId: text(run.ciRunId),
      environment: text(run.environment),
      verdict: doc.verdict,
      verdictClass: outcomeClass(doc.verdict),
      trigger: text(run.trigger),
      startMs,
      finishMs,
      durationSeconds: num(run.durationSeconds) ?? (finishMs - startMs) / 1000,
      candidate: isObject(doc.candidate) ? text(doc.candidate.reference) : '',
      simulated: doc.simulated === true,
      dryRun: run.dryRun === true,
      schema: doc.schema,
      attempts,
      legs,
      ...(usd !== undefined ? { usd } : {}),
      notRecorded: LATER_FIELDS.filter((field) => doc[field] === undefined),
      source,
      evidence,
    },
  };
}

function reportLeg(raw: EvidenceRecord['legs'][number], attempt: number): ReportLeg {
  const phases: ReportPhase[] = (raw.phases ?? []).map((p) => {
    const startMs = time(p.startedAt);
    const durationSeconds = num(p.durationSeconds);
    return {
      name: String(p.name),
      outcome: String(p.outcome),
      ...(startMs !== undefined ? { startMs } : {}),
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
      ...(p.failure?.code ? { failureCode: p.failure.code } : {}),
    };
  });
  const timed = phases.filter((p) => p.startMs !== undefined && p.durationSeconds !== undefined);
  const summed = phases.reduce((total, p) => total + (p.durationSeconds ?? 0), 0);
  const durationSeconds = timed.length
    ? (Math.max(...timed.map((p) => p.startMs! + p.durationSeconds! * 1000)) -
        Math.min(...timed.map((p) => p.startMs!))) /
      1000
    : phases.some((p) => p.durationSeconds !== undefined)
      ? summed
      : undefined;
  const timeToActive = num(raw.onboarding?.timeToActiveSeconds);
  const usd = num(raw.cost?.usd);
  return {
    target: raw.target,
    vendor: String(raw.vendor ?? ''),
    workflowId: String(raw.workflowId ?? ''),
    outcome: String(raw.outcome),
    outcomeClass: outcomeClass(String(raw.outcome)),
    attempt,
    phases,
    ...(timeToActive !== undefined ? { timeToActiveSeconds: timeToActive } : {}),
    ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    ...(usd !== undefined ? { usd } : {}),
    ...(raw.failure?.code ? { failureCode: raw.failure.code } : {}),
  };
}

/** A field of an evidence pack of any version as text: a string or number as it is, anything else empty. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}
