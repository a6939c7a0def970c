/** runs/<run>.html: one run's timeline, legs, preflight, janitor, promotion and links to the Temporal Web UI. */
import type { EvidenceRecord } from '../domain/evidence';
import { esc, safeHref } from './escape';
import { ganttChart } from './gantt';
import { page, verdictBadge } from './layout';
import { NOT_RECORDED, type ReportRun } from './model';
import { PHASE_COLOUR, seconds, usd } from './svg';

export interface WebUi {
  /** The Temporal Web UI's base URL (TEMPORAL_UI_URL, else temporal.uiUrl in the configuration). */
  url?: string;
  namespace: string;
}

const missing = `<span class="missing">${NOT_RECORDED}</span>`;

export function webUiLink(ui: WebUi, workflowId: string, runId?: string): string | undefined {
  if (!ui.url) return undefined;
  return `${ui.url.replace(/\/$/, '')}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${encodeURIComponent(runId)}` : ''}/history`;
}

function link(ui: WebUi, text: string, workflowId: string, runId?: string): string {
  const url = webUiLink(ui, workflowId, runId);
  return url ? `<a class="webui" href="${safeHref(url)}">${esc(text)}</a>` : esc(text);
}

export function runPage(run: ReportRun, ui: WebUi): string {
  const e = run.evidence;
  const janitorAt = e.janitor?.report?.checkedAt ? Date.parse(e.janitor.report.checkedAt) : undefined;
  const body = `
<p><a href="../index.html">&larr; all runs</a></p>
<h1>${esc(run.id)} ${verdictBadge(run.verdict, run.verdictClass)}</h1>
<p class="sub">environment <strong>${esc(run.environment)}</strong>, trigger ${esc(run.trigger)}${run.dryRun ? ', dry run' : ''}${run.simulated ? ', <strong>simulated hosts</strong> (proves nothing about real hardware)' : ''}; started ${esc(new Date(run.startMs).toISOString())}, took ${esc(seconds(run.durationSeconds))}</p>
<table>
<tr><th>candidate</th><td class="mono">${esc(run.candidate)}</td></tr>
<tr><th>Temporal Web UI</th><td>${ui.url ? `${link(ui, 'the run', run.id, run.runId)}${run.legs.map((l) => ` · ${link(ui, l.target, l.workflowId)}`).join('')}${e.janitor?.workflowId ? ` · ${link(ui, 'janitor', e.janitor.workflowId)}` : ''}` : '<span class="missing">no Web UI configured (set TEMPORAL_UI_URL or temporal.uiUrl)</span>'}</td></tr>
<tr><th>git sha / CI run</th><td class="mono">${esc(e.run.gitSha)} / ${esc(e.run.ciRunId)}</td></tr>
<tr><th>evidence</th><td><code>${esc(run.source)}</code>, schema ${esc(run.schema)}${run.notRecorded.length ? `; ${NOT_RECORDED}: <span class="missing">${run.notRecorded.map(esc).join(', ')}</span>` : ''}</td></tr>
</table>
${e.failure ? `<div class="warn"><strong>${esc(e.failure.code)}</strong>: ${esc(e.failure.detail ?? e.failure.summary)}<br>remediation: ${esc(e.failure.remediation)}</div>` : ''}
${e.cancellation ? `<p class="cancellation">cancel requested by ${esc(e.cancellation.requestedBy)}: ${esc(e.cancellation.reason || '(no reason given)')}</p>` : ''}
<h2>Timeline</h2>
${run.attempts.length ? ganttChart(run, janitorAt) : '<p>no legs (a dry run, or the run ended before any leg)</p>'}
<p class="legend">${Object.entries(PHASE_COLOUR)
    .map(([p, c]) => `<span><i style="background:${c}"></i>${esc(p)}</span>`)
    .join('')}</p>
${run.attempts.some((l) => l.phases.some((p) => p.startMs === undefined && p.outcome !== 'skipped')) ? `<p class="note">Phases without a recorded start are left off the timeline.</p>` : ''}
<h2>Legs</h2>
${legsTable(run)}
<h2>Preflight</h2>
${e.preflight ? preflight(e.preflight) : missing}
<h2>Janitor</h2>
${e.janitor ? janitor(e.janitor, run.dryRun) : missing}
<h2>Promotion</h2>
${promotion(e)}
<h2>Cost</h2>
${e.cost ? `<p>${e.cost.usd === null ? 'unpriced' : esc(usd(e.cost.usd))} for ${esc(e.cost.instanceSeconds.toFixed(1))} instance-seconds (${esc(e.cost.leakedInstanceSeconds.toFixed(1))} after the legs ended)${e.cost.pricesReadAt ? `, prices read ${esc(e.cost.pricesReadAt)}` : ''}</p>` : missing}
${e.cleanupIncomplete?.length ? `<h2>Cleanup incomplete</h2><table><tr><th>target</th><th>kind</th><th>id</th><th>detail</th></tr>${e.cleanupIncomplete.map((c) => `<tr><td>${esc(c.target)}</td><td>${esc(c.kind)}</td><td class="mono">${esc(c.id)}</td><td>${esc(c.detail)}</td></tr>`).join('')}</table>` : ''}
<h2>Attestation</h2>
${e.attestation ? `<p>${esc(e.attestation.result)}, signed with <code>${esc(e.attestation.kmsKeyId)}</code>; summary manifest <code>${esc(e.attestation.summary.registryManifest)}</code></p>` : missing}
`;
  return page(`${run.id}: ${run.verdict}`, body);
}

function legsTable(run: ReportRun): string {
  const e = run.evidence;
  const rows = run.attempts.map((leg) => {
    const raw = findRawLeg(e, leg.target, leg.attempt);
    const failure = raw?.failure;
    return `<tr><td>${esc(leg.target)}${leg.attempt > 1 || run.attempts.filter((a) => a.target === leg.target).length > 1 ? ` #${leg.attempt}` : ''}</td><td>${verdictBadge(leg.outcome, leg.outcomeClass)}</td>
<td class="mono">${raw?.instance ? `${esc(raw.instance.instanceId)} ${esc(raw.instance.instanceType)}${raw.instance.availabilityZone ? ` ${esc(raw.instance.availabilityZone)}` : ''}` : '-'}</td>
<td class="num">${leg.timeToActiveSeconds !== undefined ? esc(seconds(leg.timeToActiveSeconds)) : '-'}</td><td class="num">${leg.durationSeconds !== undefined ? esc(seconds(leg.durationSeconds)) : '-'}</td>
<td class="num">${raw?.cost ? (raw.cost.usd !== undefined ? esc(usd(raw.cost.usd)) : 'unpriced') : missing}</td>
<td>${failure ? `<strong>${esc(failure.code)}</strong>: ${esc(failure.detail ?? failure.summary)}<br><small>remediation: ${esc(failure.remediation)}</small>` : ''}${raw?.cleanupFailure ? `<br>cleanup: <strong>${esc(raw.cleanupFailure.code)}</strong> ${esc(raw.cleanupFailure.detail ?? raw.cleanupFailure.summary)}` : ''}</td></tr>`;
  });
  return rows.length
    ? `<table><tr><th>target</th><th>outcome</th><th>machine</th><th>time to active</th><th>duration</th><th>cost</th><th>failure</th></tr>${rows.join('')}</table>`
    : '<p>no legs</p>';
}

type RawLeg = EvidenceRecord['legs'][number];

function findRawLeg(e: EvidenceRecord, target: string, attempt: number): RawLeg | undefined {
  for (const leg of e.legs) {
    if (leg.target !== target) continue;
    const all = [...(leg.earlierAttempts ?? []), leg];
    return all.find((l, i) => (l.attempt ?? i + 1) === attempt) ?? all[attempt - 1];
  }
  return undefined;
}

function preflight(checks: NonNullable<EvidenceRecord['preflight']>): string {
  return `<table><tr><th>check</th><th>outcome</th><th>detail</th></tr>${checks.map((c) => `<tr><td>${esc(c.name)}</td><td>${verdictBadge(c.outcome, c.outcome === 'passed' ? 'passed' : 'failed')}</td><td>${esc(c.detail)}${c.failure ? `<br><strong>${esc(c.failure.code)}</strong>: ${esc(c.failure.remediation)}` : ''}</td></tr>`).join('')}</table>`;
}

function janitor(j: NonNullable<EvidenceRecord['janitor']>, dryRun: boolean): string {
  if (j.failure)
    return `<p>did not complete: <strong>${esc(j.failure.code)}</strong> ${esc(j.failure.detail ?? j.failure.summary)}; the run went on</p>`;
  const r = j.report;
  if (!r) return `<p>workflow <code>${esc(j.workflowId)}</code>; ${missing}</p>`;
  const acted = dryRun || r.dryRun ? r.wouldTerminate : r.terminated;
  return `<p>checked ${esc(r.checkedAt)} in ${esc(r.region)}: ${r.seen} instance(s) seen, ${acted.length} ${dryRun || r.dryRun ? 'would be terminated' : 'terminated'}, ${r.spared.length} spared${r.clusters ? `; test clusters: ${r.clusters.seen} seen, ${r.clusters.deleted.length} deleted, ${r.clusters.spared.length} spared` : ''}</p>
${acted.length ? `<table><tr><th>instance</th><th>age</th><th>why</th></tr>${acted.map((a) => `<tr><td class="mono">${esc(a.instanceId)}</td><td class="num">${esc(seconds(a.ageSeconds))}</td><td>${esc(a.detail)}</td></tr>`).join('')}</table>` : ''}`;
}

function promotion(e: EvidenceRecord): string {
  const pointer = (state: EvidenceRecord['approvedDigest']['before']) =>
    state?.reference
      ? `<code>${esc(state.reference)}</code>${state.version !== null ? ` (version ${esc(state.version)})` : ''}`
      : '(none)';
  const moved = (e.approvedDigest.before?.reference ?? null) !== (e.approvedDigest.after?.reference ?? null);
  return `<table>
<tr><th>status</th><td><strong>${esc(e.promotion.status)}</strong>${e.promotion.detail ? ` (${esc(e.promotion.detail)})` : ''}</td></tr>
<tr><th>pointer</th><td class="mono">${esc(e.approvedDigest.parameter)}</td></tr>
<tr><th>before</th><td>${pointer(e.approvedDigest.before)}</td></tr>
<tr><th>after</th><td>${pointer(e.approvedDigest.after)}${moved ? ' <strong>(moved)</strong>' : ' (unchanged)'}</td></tr>
${e.promotion.overwritten?.length ? `<tr><th>overwritten</th><td>${e.promotion.overwritten.map((o) => `<code>${esc(o.reference)}</code> (version ${esc(o.version)})`).join('<br>')}</td></tr>` : ''}
</table>`;
}
