/**
 * The human half of the evidence pack: one Markdown page per run, for CI
 * artifacts and pull-request comments. Every value is escaped, so nothing a
 * host or a parameter reports can change the page's structure.
 */
import type { EvidenceRecord } from '../domain/evidence';
import type { FailureRecord } from '../domain/failures';
import type { ApprovedDigestState, LegCost, LegResult, RunCost } from '../domain/run';
import { formatDuration } from '../domain/duration';

export function renderEvidenceMarkdown(e: EvidenceRecord): string {
  const out: string[] = [];
  const title = `${e.verdict.toUpperCase().replace(/_/g, ' ')}${e.run.dryRun ? ' (dry run)' : ''}`;
  out.push(`# Sentinel GPU matrix: ${title}`, '');
  if (e.simulated) {
    out.push(
      `> **SIMULATED RUN.** The hosts of this run were simulated on the worker's machine (executor \`${e.run.executor}\`) in the sandbox environment \`${text(e.run.environment)}\`. It exercises Sentinel end to end but proves nothing about real GPU hardware, and it cannot promote a real digest.`,
      '',
    );
  }
  out.push('| | |', '|---|---|');
  const rows: Array<[string, string]> = [
    ['Verdict', `**${e.verdict}**`],
    [
      'Environment',
      `${text(e.run.environment)} (executor ${text(e.run.executor)}${e.simulated ? ', simulated' : ''})`,
    ],
    ['Candidate', code(e.candidate.reference)],
    ...(e.run.candidateSource
      ? [
          [
            'Candidate source',
            `tag ${code(e.run.candidateSource.reference)} resolved ${text(e.run.candidateSource.resolvedAt)}${e.run.candidateSource.scheduleId ? ` (schedule ${code(e.run.candidateSource.scheduleId)})` : ''}`,
          ] as [string, string],
        ]
      : []),
    ['Approved before', approved(e.approvedDigest.before)],
    ['Approved after', approved(e.approvedDigest.after)],
    ['Promotion', `${text(e.promotion.status)}${e.promotion.detail ? `: ${text(e.promotion.detail)}` : ''}`],
    ...(e.promotion.order
      ? [
          [
            'Build order',
            `candidate built ${text(e.promotion.order.candidateCreated)}; ${code(e.promotion.order.approvedReference)} built ${text(e.promotion.order.approvedCreated)}`,
          ] as [string, string],
        ]
      : []),
    ...(e.promotion.overwritten && e.promotion.overwritten.length > 0
      ? [
          [
            '**Overwritten**',
            e.promotion.overwritten
              .map(
                (o) =>
                  `${code(o.reference)} (version ${o.version}${o.description ? `: ${text(o.description)}` : ''})`,
              )
              .join('; '),
          ] as [string, string],
        ]
      : []),
    ['Approved pointer', code(e.approvedDigest.parameter)],
    ['Git SHA', code(e.run.gitSha)],
    ['CI run', text(e.run.ciRunId)],
    ['Trigger', text(e.run.trigger)],
    ['Workflow', `${code(e.run.workflowId)} run ${code(e.run.runId)}`],
    ['Started', text(e.run.startedAt)],
    ['Finished', `${text(e.run.finishedAt)} (${formatDuration(e.run.durationSeconds * 1000)})`],
    ['Configuration', `${code(e.run.configFile)} sha256 ${code(e.run.configSha256.slice(0, 16))}`],
  ];
  for (const [k, v] of rows) out.push(`| ${k} | ${v} |`);
  out.push('');
  if (e.verdict === 'inconclusive') {
    out.push(
      '> **INCONCLUSIVE.** No leg failed on the candidate, but at least one never got a fair trial: the infrastructure failed it on every attempt (see the targets below). Nothing was promoted, and the candidate is not blamed: run it again.',
      '',
    );
  }
  if (e.failure) out.push('## Run failure', '', ...failureLines(e.failure), '');
  if (e.cancellation) {
    out.push(
      `Cancel requested by ${text(e.cancellation.requestedBy)}: ${text(e.cancellation.reason || '(no reason given)')}`,
      '',
    );
  }
  if (e.cost) out.push(...costSection(e.cost, e.legs));
  if (e.preflight && e.preflight.length > 0) {
    out.push('## Preflight', '', '| Check | Outcome | Detail |', '|---|---|---|');
    for (const c of e.preflight) out.push(`| ${c.name} | **${c.outcome}** | ${text(c.detail)} |`);
    out.push('');
  }
  if (e.janitor) out.push(...janitorSection(e.janitor));
  if (e.attestation) out.push(...attestationSection(e.attestation));

  if (e.legs.length > 0) {
    out.push('## Targets', '');
    out.push(
      '| Target | Outcome | Instance | Type | AMI | GPU | Driver | Onboarding | Time to active | Smoke job | Failure |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const leg of e.legs) out.push(legRow(leg));
    out.push('');
    out.push(...phaseTimeline(e.legs));
    for (const leg of e.legs) out.push(...legSection(leg));
  }
  out.push(`<sub>${text(e.schema)}</sub>`, '');
  return out.join('\n');
}

function legRow(leg: LegResult): string {
  const gpu = leg.gpu ? `${leg.gpu.count}× ${text(leg.gpu.model)} (${leg.gpu.vendor})` : '–';
  const cells = [
    `${text(leg.target)} (${leg.vendor})`,
    `**${leg.outcome}**`,
    leg.instance ? code(leg.instance.instanceId) : '–',
    leg.instance ? text(leg.instance.instanceType) : '–',
    code(leg.ami),
    gpu,
    leg.gpu ? text(leg.gpu.driverVersion) : '–',
    leg.onboarding ? seconds(leg.onboarding.onboardingDurationSeconds) : '–',
    leg.onboarding ? seconds(leg.onboarding.timeToActiveSeconds) : '–',
    leg.smokeJob ? `${text(leg.smokeJob.status)} in ${seconds(leg.smokeJob.durationSeconds)}` : '–',
    leg.failure ? code(leg.failure.code) : '–',
  ];
  return `| ${cells.join(' | ')} |`;
}

/**
 * Every leg's phases on one time axis, as a Mermaid gantt block (GitHub
 * renders it in job summaries, comments and files). Only phases with a start
 * are drawn; names are reduced to characters Mermaid cannot misread.
 */
export function phaseTimeline(legs: LegResult[]): string[] {
  const timed = legs.map((leg) => ({
    leg,
    phases: leg.phases.filter((p) => p.startedAt !== undefined && !Number.isNaN(Date.parse(p.startedAt))),
  }));
  if (timed.every((t) => t.phases.length === 0)) return [];
  const out = ['## Timeline', '', '```mermaid', 'gantt', '  dateFormat x', '  axisFormat %H:%M:%S'];
  const TAG = { passed: 'done', failed: 'crit', cancelled: 'active', skipped: 'done' } as const;
  timed.forEach(({ leg, phases }, i) => {
    if (phases.length === 0) return;
    out.push(`  section ${mermaidName(leg.target)}`);
    for (const p of phases) {
      const start = Date.parse(p.startedAt!);
      // A phase shorter than a millisecond is drawn as one, so it stays visible.
      const end = start + Math.max(1, Math.round((p.durationSeconds ?? 0) * 1000));
      out.push(
        `  ${p.name} ${p.outcome}${p.failure ? ` ${mermaidName(p.failure.code)}` : ''} :${TAG[p.outcome]}, l${i}_${p.name}, ${start}, ${end}`,
      );
    }
  });
  out.push('```', '');
  return out;
}

/** A name inside a Mermaid gantt line: no separators (`:`, `;`, `#`), no line breaks. */
function mermaidName(value: string): string {
  return value.replace(/[^A-Za-z0-9._ -]/g, '_');
}

function legSection(leg: LegResult): string[] {
  const out = [`### ${text(leg.target)}: ${leg.outcome}`, ''];
  out.push(`Region ${text(leg.region)}, AMI ${code(leg.ami)}, workflow ${code(leg.workflowId)}.`);
  if (leg.host) out.push(...hostSetupLines(leg.host));
  if (leg.runtime)
    out.push(
      `Container runtime: ${text(leg.runtime.engine)} ${text(leg.runtime.version)}, GPU access via ${text(leg.runtime.gpuRuntime)}.`,
    );
  if (leg.onboarding)
    out.push(`Cluster ${code(leg.onboarding.clusterId)} installed ${code(leg.onboarding.installedDigest)}.`);
  if (leg.instance?.subnetId)
    out.push(
      `Placed in ${text(leg.instance.availabilityZone ?? '?')}, subnet ${code(leg.instance.subnetId)}.`,
    );
  if (leg.provisionAttempts && leg.provisionAttempts.length > 0) {
    out.push(
      '',
      'Capacity sweep (every RunInstances attempt, in order):',
      '',
      '| # | Instance type | Zone | Subnet | Result | At |',
      '|---|---|---|---|---|---|',
    );
    leg.provisionAttempts.forEach((a, i) => {
      out.push(
        `| ${i + 1} | ${text(a.instanceType)} | ${a.availabilityZone ? text(a.availabilityZone) : '–'} | ${a.subnetId ? code(a.subnetId) : '–'} | ${a.result === 'launched' ? `launched ${a.instanceId ? code(a.instanceId) : ''}` : code(a.result)} | ${text(a.at)} |`,
      );
    });
  }
  out.push('', '| Phase | Outcome | Started | Duration | Code |', '|---|---|---|---|---|');
  for (const p of leg.phases) {
    out.push(
      `| ${p.name} | ${p.outcome} | ${p.startedAt ? text(p.startedAt) : '–'} | ${p.durationSeconds === undefined ? '–' : seconds(p.durationSeconds)} | ${p.failure ? code(p.failure.code) : '–'} |`,
    );
  }
  out.push('');
  if (leg.failure) out.push(...failureLines(leg.failure), '');
  if (leg.cleanupFailure) out.push('Cleanup did not complete:', '', ...failureLines(leg.cleanupFailure), '');
  if (leg.earlierAttempts && leg.earlierAttempts.length > 0) {
    out.push(
      `This was attempt ${leg.attempt ?? leg.earlierAttempts.length + 1}; the earlier ones ended for an infrastructure reason, each on its own machine:`,
      '',
    );
    out.push('| Attempt | Workflow | Instance | Failure |', '|---|---|---|---|');
    leg.earlierAttempts.forEach((a, i) => {
      out.push(
        `| ${i + 1} | ${code(a.workflowId)} | ${a.instance ? code(a.instance.instanceId) : '–'} | ${a.failure ? `${code(a.failure.code)}: ${text(a.failure.detail ?? a.failure.summary)}` : '–'} |`,
      );
    });
    out.push('');
  }
  if (leg.leftBehind?.length)
    out.push(
      '**May be left running:**',
      '',
      ...leg.leftBehind.map((l) => `- ${l.kind} ${code(l.id)}: ${text(l.detail)}`),
      '',
    );
  return out;
}

/** What host preparation did: per script, each component with its version and whether setup installed it. */
function hostSetupLines(host: NonNullable<LegResult['host']>): string[] {
  if (host.setup.length === 0) return ['Host setup: none (a baked AMI, or setup did not get to run).'];
  const out = ['', '| Setup script | Component | Version | Action |', '|---|---|---|---|'];
  for (const run of host.setup) {
    if (run.components.length === 0) out.push(`| ${code(run.script)} | – | – | – |`);
    for (const c of run.components)
      out.push(`| ${code(run.script)} | ${text(c.name)} | ${code(c.version)} | ${c.action} |`);
  }
  out.push('');
  return out;
}

function costSection(cost: RunCost, legs: LegResult[]): string[] {
  const total = cost.usd === null ? 'unpriced' : `$${cost.usd.toFixed(4)}`;
  const out = [
    '## Cost',
    '',
    `${total} for ${seconds(cost.instanceSeconds)} of instance time (${cost.instanceSeconds.toFixed(1)} instance-seconds), of which ${cost.leakedInstanceSeconds.toFixed(1)} s leaked: machines still alive after their leg had ended.${cost.pricesReadAt ? ` On-demand prices read ${text(cost.pricesReadAt)} (${text(cost.priceSource ?? 'configured')}).` : ''}`,
    '',
    '| Target | Attempt | Instance | Type | Launched | Terminated | Instance-seconds | Leaked | USD/h | USD |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const leg of legs) {
    const attempts = [...(leg.earlierAttempts ?? []), leg];
    attempts.forEach((a, i) => {
      if (a.cost) out.push(costRow(leg.target, i + 1, a.cost));
    });
  }
  out.push('');
  return out;
}

function costRow(target: string, attempt: number, c: LegCost): string {
  const cells = [
    text(target),
    String(attempt),
    code(c.instanceId),
    text(c.instanceType),
    text(c.launchedAt),
    c.terminatedAt ? text(c.terminatedAt) : 'not seen terminated',
    c.instanceSeconds.toFixed(1),
    c.leakedSeconds.toFixed(1),
    c.usdPerHour === undefined ? '–' : String(c.usdPerHour),
    c.usd === undefined ? '–' : `$${c.usd.toFixed(4)}`,
  ];
  return `| ${cells.join(' | ')} |`;
}

function janitorSection(j: NonNullable<EvidenceRecord['janitor']>): string[] {
  const out = ['## Janitor', '', `Workflow ${code(j.workflowId)}.`];
  if (j.failure)
    return [
      ...out,
      'The janitor did not complete; the run went on without it.',
      '',
      ...failureLines(j.failure),
      '',
    ];
  const r = j.report;
  if (!r) return [...out, ''];
  const acted = r.dryRun ? r.wouldTerminate : r.terminated;
  out.push(
    `${r.seen} instance(s) seen in ${text(r.region)}; ${acted.length} ${r.dryRun ? 'would be terminated (dry run)' : 'terminated'}, ${r.spared.length} spared.`,
    '',
  );
  if (acted.length + r.spared.length > 0) {
    out.push('| Instance | Action | Age | Run | Why |', '|---|---|---|---|---|');
    for (const a of acted)
      out.push(
        `| ${code(a.instanceId)} | ${r.dryRun ? 'would terminate' : 'terminated'} | ${seconds(a.ageSeconds)} | ${a.runId ? code(a.runId) : '–'} | ${text(a.detail)} |`,
      );
    for (const s of r.spared)
      out.push(
        `| ${code(s.instanceId)} | spared | ${seconds(s.ageSeconds)} | ${s.runId ? code(s.runId) : '–'} | ${text(s.detail)} |`,
      );
    out.push('');
  }
  const c = r.clusters;
  if (c?.failure) out.push('Test clusters were not swept:', '', ...failureLines(c.failure), '');
  else if (c) {
    const removed = r.dryRun ? c.wouldDelete : c.deleted;
    out.push(
      `${c.seen} test cluster(s) of this environment's runs seen; ${removed.length} ${r.dryRun ? 'would be deleted (dry run)' : 'deleted'}, ${c.spared.length} spared.`,
      '',
    );
    for (const a of removed)
      out.push(
        `- ${r.dryRun ? 'would delete' : 'deleted'} ${code(a.name)} (${code(a.clusterId)}): ${text(a.detail)}`,
      );
    for (const a of c.spared) out.push(`- spared ${code(a.name)} (${code(a.clusterId)}): ${text(a.detail)}`);
    if (removed.length + c.spared.length > 0) out.push('');
  }
  return out;
}

function failureLines(f: FailureRecord): string[] {
  const lines = [`- **${code(f.code)}**: ${text(f.summary)}`];
  if (f.detail) lines.push(`- Detail: ${text(f.detail)}`);
  lines.push(`- Remediation: ${text(f.remediation)}`);
  return lines;
}

function approved(state: ApprovedDigestState | null): string {
  if (!state) return 'not read';
  if (state.reference === null) return '(parameter absent)';
  return `${code(state.reference)}${state.version === null ? '' : ` (version ${state.version})`}`;
}

function seconds(s: number): string {
  return formatDuration(s * 1000);
}

/** Plain text in a table cell: no pipes, no line breaks, no markup. */
function text(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').replace(/([\\`*_{}[\]<>|#!])/g, '\\$1');
}

/** Inline code: backticks cannot be escaped inside, so they are dropped. */
function code(value: string): string {
  return `\`${value.replace(/[`\r\n|]/g, '')}\``;
}

function attestationSection(a: NonNullable<EvidenceRecord['attestation']>): string[] {
  return [
    '## Attestation',
    '',
    `Verification summary **${a.result}**, signed by \`${a.kmsKeyId}\` (docs/attestations.md): \`${a.summary.file}\`, attached to the image as \`${a.summary.registryManifest}\`.`,
    `Leg results: ${a.legs.map((l) => `${l.target} \`${l.registryManifest.slice(0, 19)}…\``).join(', ')}. Public key: \`${a.publicKey}\`. Check with \`sentinel verify\` or \`cosign verify-attestation\`.`,
    '',
  ];
}
