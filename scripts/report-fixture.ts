/**
 * Builds test/fixtures/report-evidence/ (the evidence the report's browser
 * test renders) from real evidence packs of a local run (`npm run demo`):
 *
 *   node --import tsx scripts/report-fixture.ts [<evidence dir>] [<out dir>]
 *
 * Each fixture pack is a copy of a real pack, moved to a night of six weeks
 * (Mondays, Wednesdays and Fridays), with its phase times scaled from the
 * simulated hosts' seconds to a real machine's minutes (deterministic
 * jitter, and a slow creep in amd-v520's onboarding) so the charts have
 * shapes to show. Some nights are turned into a FAILED run (a smoke job
 * failure), an INCONCLUSIVE one (a host that never came online, twice) or a
 * CANCELLED one, and the first weeks are cut back to the fields older
 * evidence versions had. The figures are not measurements.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/config/load';
import type { EvidenceRecord } from '../src/domain/evidence';
import { failureRecord } from '../src/domain/failures';

type Leg = EvidenceRecord['legs'][number];

const FIRST_NIGHT = Date.parse('2026-10-05T02:00:00Z');
const NIGHTS = [0, 2, 4]; // Monday, Wednesday, Friday
const WEEKS = 6;
const TIME_SCALE = 60; // a simulated second stands for a minute of a real machine

function prng(seed: number): () => number {
  // mulberry32: the same fixture on every machine.
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (n: number, places = 3) => Number(n.toFixed(places));
const iso = (ms: number) => new Date(ms).toISOString();

function retime(leg: Leg, startMs: number, scale: (phase: string) => number): Leg {
  let at = startMs;
  const phases = leg.phases.map((p) => {
    const seconds = round((p.durationSeconds ?? 0) * scale(p.name));
    const phase = { ...p, startedAt: iso(at), durationSeconds: seconds };
    at += seconds * 1000;
    return phase;
  });
  const out: Leg = { ...leg, phases };
  const onboardingIndex = phases.findIndex((p) => p.name === 'onboarding');
  if (leg.onboarding && onboardingIndex >= 0) {
    const toOnboarding = (Date.parse(phases[onboardingIndex]!.startedAt) - startMs) / 1000;
    const onboarding = phases[onboardingIndex]!.durationSeconds;
    out.onboarding = {
      ...leg.onboarding,
      onboardingDurationSeconds: round(onboarding * 0.9),
      timeToActiveSeconds: round(toOnboarding + onboarding),
    };
  }
  if (leg.instance) out.instance = { ...leg.instance, launchedAt: iso(startMs + 2000) };
  if (leg.cost) {
    const seconds = (at - startMs) / 1000 + 20;
    out.cost = {
      ...leg.cost,
      launchedAt: iso(startMs + 2000),
      terminatedAt: iso(at + 20_000),
      instanceSeconds: round(seconds, 1),
      leakedSeconds: 20,
      usd: round((seconds / 3600) * (leg.cost.usdPerHour ?? 1), 4),
    };
  }
  delete out.host; // setup transcripts: long, and not what the report shows
  delete out.provisionAttempts;
  return out;
}

function failAt(
  leg: Leg,
  phaseName: string,
  code: Parameters<typeof failureRecord>[0],
  detail: string,
  outcome: Leg['outcome'],
): Leg {
  const index = leg.phases.findIndex((p) => p.name === phaseName);
  const failure = failureRecord(code, detail);
  const phases = leg.phases.map((p, i) => {
    if (i < index || p.name === 'cleanup') return p;
    if (i === index)
      return {
        ...p,
        outcome: outcome === 'cancelled' ? ('cancelled' as const) : ('failed' as const),
        failure,
      };
    const { startedAt: _s, durationSeconds: _d, ...rest } = p;
    return { ...rest, outcome: 'skipped' as const };
  });
  const out: Leg = { ...leg, outcome, phases, failure };
  if (index <= leg.phases.findIndex((p) => p.name === 'onboarding')) delete out.onboarding;
  if (index <= leg.phases.findIndex((p) => p.name === 'smoke_job')) delete out.smokeJob;
  return out;
}

/** What the first evidence version carried: no preflight, janitor, cost, attestation; legs without cost or attempts. */
function firstVersion(e: EvidenceRecord): EvidenceRecord {
  const { preflight: _p, janitor: _j, cost: _c, attestation: _a, ...rest } = e;
  return {
    ...rest,
    promotion: { status: e.promotion.status, ...(e.promotion.detail ? { detail: e.promotion.detail } : {}) },
    legs: e.legs.map(({ cost: _lc, attempt: _at, earlierAttempts: _ea, ...leg }) => leg as Leg),
  };
}

/** Preflight and janitor came before cost and attestations. */
function secondVersion(e: EvidenceRecord): EvidenceRecord {
  const { cost: _c, attestation: _a, ...rest } = e;
  return { ...rest, legs: e.legs.map(({ cost: _lc, ...leg }) => leg as Leg) };
}

function main(): void {
  const from = path.resolve(process.argv[2] ?? path.join(PROJECT_ROOT, '.sentinel', 'evidence', 'local'));
  const to = path.resolve(process.argv[3] ?? path.join(PROJECT_ROOT, 'test', 'fixtures', 'report-evidence'));
  const seeds = readdirSync(from)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(from, f), 'utf8')) as EvidenceRecord)
    .filter((e) => e.schema === 'sentinel.evidence/v1' && e.verdict === 'passed' && e.legs.length >= 2);
  if (seeds.length === 0)
    throw new Error(`no passed evidence pack with two legs in ${from}: run npm run demo first`);
  const random = prng(15);
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  let previous: string | null = null;
  let night = 0;
  for (let week = 0; week < WEEKS; week++) {
    for (const day of NIGHTS) {
      const seed = seeds[night % seeds.length]!;
      const start = FIRST_NIGHT + (week * 7 + day) * 86_400_000 + Math.floor(random() * 600_000);
      const ciRunId = `nightly-${iso(start).slice(0, 10)}`;
      const workflowId = `sentinel-run-local-${ciRunId}`;
      const digest = `sha256:${createHash('sha256').update(`${seed.candidate.digest}/${night}`).digest('hex')}`;
      const reference = `${seed.candidate.repository}@${digest}`;
      // From the third week a third target joins the matrix (a copy of the NVIDIA leg on another type).
      const template =
        week >= 2
          ? [
              ...seed.legs,
              {
                ...seed.legs.find((l) => l.vendor === 'nvidia')!,
                target: 'nvidia-l4',
                instance: {
                  ...seed.legs.find((l) => l.vendor === 'nvidia')!.instance!,
                  instanceType: 'g6.xlarge',
                },
              },
            ]
          : seed.legs;
      let legs = template.map((leg) => {
        const creep = leg.vendor === 'amd' ? 1 + night * 0.035 : 1;
        const legStart = start + 1500 + Math.floor(random() * 1500);
        const jitter = () => 0.85 + random() * 0.3;
        const scaled = retime(
          {
            ...leg,
            workflowId: `${workflowId}--${leg.target}`,
            ...(leg.onboarding ? { onboarding: { ...leg.onboarding, installedDigest: digest } } : {}),
          },
          legStart,
          (phase) => TIME_SCALE * jitter() * (phase === 'onboarding' || phase === 'host_setup' ? creep : 1),
        );
        return scaled;
      });
      let verdict: EvidenceRecord['verdict'] = 'passed';
      if (night % 7 === 3) {
        verdict = 'failed';
        legs = legs.map((l) =>
          l.vendor === 'amd'
            ? failAt(l, 'smoke_job', 'SMOKE_JOB_FAILED', 'job exited 1: hipErrorNoBinaryForGpu', 'failed')
            : l,
        );
      } else if (night % 7 === 5) {
        verdict = 'inconclusive';
        legs = legs.map((l) => {
          if (l.target !== 'nvidia-a10g') return l;
          const first = failAt(
            l,
            'host_ready',
            'HOST_READY_TIMEOUT',
            'not Online in SSM after 10m',
            'failed',
          );
          const earlier = { ...first, attempt: 1 };
          const laterStart = Date.parse(l.phases[0]!.startedAt!) + 700_000;
          const last = failAt(
            retime(l, laterStart, () => 1),
            'host_ready',
            'HOST_READY_TIMEOUT',
            'not Online in SSM after 10m',
            'inconclusive',
          );
          return { ...last, attempt: 2, earlierAttempts: [earlier] };
        });
      } else if (night === 16) {
        verdict = 'cancelled';
        legs = legs.map((l) =>
          failAt(
            l,
            'installer',
            'LEG_CANCELLED',
            'cancelled by sentinel runs cancel: wrong candidate',
            'cancelled',
          ),
        );
      }
      const end =
        Math.max(
          ...legs.flatMap((l) =>
            [...(l.earlierAttempts ?? []), l].flatMap((a) =>
              a.phases
                .filter((p) => p.startedAt)
                .map((p) => Date.parse(p.startedAt!) + (p.durationSeconds ?? 0) * 1000),
            ),
          ),
        ) + 4000;
      const promoted = verdict === 'passed';
      const legUsd = legs
        .flatMap((l) => [...(l.earlierAttempts ?? []), l])
        .reduce((t, l) => t + (l.cost?.usd ?? 0), 0);
      const legSeconds = legs
        .flatMap((l) => [...(l.earlierAttempts ?? []), l])
        .reduce((t, l) => t + (l.cost?.instanceSeconds ?? 0), 0);
      let evidence: EvidenceRecord = {
        ...seed,
        verdict,
        run: {
          ...seed.run,
          workflowId,
          runId: `0192${night.toString(16).padStart(4, '0')}-7a1e-7c00-9f00-00000000${night.toString(16).padStart(4, '0')}`,
          trigger: 'schedule',
          ciRunId,
          startedAt: iso(start),
          finishedAt: iso(end),
          durationSeconds: round((end - start) / 1000),
          configFile: 'ops/invariants.yaml',
        },
        candidate: { ...seed.candidate, reference, digest },
        approvedDigest: {
          ...seed.approvedDigest,
          before: { reference: previous, version: previous ? night : null },
          after: promoted
            ? { reference, version: night + 1 }
            : { reference: previous, version: previous ? night : null },
        },
        promotion: promoted
          ? { status: 'promoted' }
          : {
              status: 'not_promoted_failed',
              detail: verdict === 'inconclusive' ? 'a leg never got a fair trial' : 'a leg did not pass',
            },
        legs,
        ...(seed.janitor
          ? {
              janitor: {
                ...seed.janitor,
                workflowId: `${workflowId}/janitor`,
                ...(seed.janitor.report
                  ? { report: { ...seed.janitor.report, checkedAt: iso(start + 800) } }
                  : {}),
              },
            }
          : {}),
        ...(seed.cost
          ? {
              cost: {
                ...seed.cost,
                instanceSeconds: round(legSeconds, 1),
                leakedInstanceSeconds: 20 * legs.length,
                usd: round(legUsd, 4),
              },
            }
          : {}),
      };
      if (evidence.attestation) {
        const files = (name: string) => `attestations/${workflowId}/${name}.intoto.dsse.json`;
        evidence.attestation = {
          ...evidence.attestation,
          result: promoted ? 'PASSED' : 'FAILED',
          summary: { ...evidence.attestation.summary, file: files('summary') },
          legs: legs.map((l) => ({
            ...evidence.attestation!.legs[0]!,
            target: l.target,
            file: files(l.target),
          })),
        };
      }
      if (week < 2) evidence = firstVersion(evidence);
      else if (week < 3) evidence = secondVersion(evidence);
      if (promoted) previous = reference;
      writeFileSync(path.join(to, `${workflowId}.json`), `${JSON.stringify(evidence, null, 2)}\n`);
      night += 1;
    }
  }
  process.stdout.write(`report-fixture: ${night} evidence packs in ${to}\n`);
}

main();
