/** index.html: every run in a filterable table, then per target the charts over time. */
import { legLabel, outcomeChart, phaseChart, valueChart, type ChartPoint, type PhaseBar } from './charts';
import { esc, pageName } from './escape';
import { page, verdictBadge } from './layout';
import { NOT_RECORDED, type ReportLeg, type ReportRun } from './model';
import {
  niceMaxSeconds,
  OUTCOME_COLOUR,
  PHASE_COLOUR,
  seconds,
  timeDomain,
  usd,
  type TimeDomain,
} from './svg';

export interface IndexContext {
  environment: string;
  location: string;
  since?: string;
  generatedAt: Date;
  warnings: string[];
}

export function indexPage(runs: ReportRun[], ctx: IndexContext): string {
  const targets = [...new Set(runs.flatMap((r) => r.legs.map((l) => l.target)))].sort();
  const verdicts = [...new Set(runs.map((r) => r.verdict))].sort();
  const domain = timeDomain(runs.map((r) => r.startMs));
  const span = runs.length
    ? `${isoMinute(runs[runs.length - 1]!.startMs)} to ${isoMinute(runs[0]!.startMs)}`
    : 'no runs';
  const body = `
<h1>Sentinel report: ${esc(ctx.environment)}</h1>
<p class="sub">${runs.length} run(s), ${esc(span)}${ctx.since ? `, started within ${esc(ctx.since)}` : ''}; evidence from <code>${esc(ctx.location)}</code>; built ${esc(ctx.generatedAt.toISOString())}</p>
${ctx.warnings.length ? `<div class="warn" id="warnings"><strong>${ctx.warnings.length} evidence file(s) skipped:</strong><ul>${ctx.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></div>` : ''}
<h2>Runs</h2>
<div class="filters">
<label>verdict <select id="f-verdict"><option value="">all</option>${verdicts.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join('')}</select></label>
<label>target <select id="f-target"><option value="">all</option>${targets.map((t) => `<option value="${esc(t)}">${esc(t)}</option>`).join('')}</select></label>
<span id="shown">${runs.length}</span> shown
</div>
${runsTable(runs, targets)}
<h2>Over time</h2>
${
  runs.length === 0
    ? '<p>No evidence pack of this environment in the store (or within --since) yet.</p>'
    : `<p class="legend">${Object.entries(OUTCOME_COLOUR)
        .map(([o, c]) => `<span><i style="background:${c}"></i>${esc(o)}</span>`)
        .join('')}</p>
${wholeRuns(runs, domain)}
${targets.map((t) => targetCharts(t, runs, domain)).join('\n')}`
}
`;
  return page(`Sentinel report: ${ctx.environment}`, body, FILTER_SCRIPT);
}

function runsTable(runs: ReportRun[], targets: string[]): string {
  const rows = runs.map((run) => {
    const byTarget = new Map(run.legs.map((l) => [l.target, l]));
    const cells = targets
      .map((t) => {
        const leg = byTarget.get(t);
        return leg
          ? `<td>${verdictBadge(leg.outcome, leg.outcomeClass)}${leg.attempt > 1 ? ` <small>${leg.attempt} attempts</small>` : ''}</td>`
          : '<td>-</td>';
      })
      .join('');
    const digest = run.candidate.split('@sha256:')[1]?.slice(0, 12) ?? run.candidate;
    return `<tr data-verdict="${esc(run.verdict)}" data-targets="${esc(run.legs.map((l) => l.target).join(' '))}">
<td class="mono">${esc(isoMinute(run.startMs))}</td><td><a href="runs/${esc(pageName(run.id))}">${esc(run.id)}</a>${run.dryRun ? ' <small>dry run</small>' : ''}${run.simulated ? ' <small>simulated</small>' : ''}</td>
<td>${verdictBadge(run.verdict, run.verdictClass)}</td><td>${esc(run.trigger)}</td><td class="mono" title="${esc(run.candidate)}">${esc(digest)}</td>
<td class="num">${esc(seconds(run.durationSeconds))}</td>${cells}<td class="num">${run.usd !== undefined ? esc(usd(run.usd)) : run.notRecorded.includes('cost') ? `<span class="missing" title="${NOT_RECORDED}">n/r</span>` : '-'}</td></tr>`;
  });
  return `<table id="runs"><thead><tr><th>started (UTC)</th><th>run</th><th>verdict</th><th>trigger</th><th>candidate</th><th>duration</th>${targets.map((t) => `<th>${esc(t)}</th>`).join('')}<th>cost</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
<p class="sub"><span class="missing">n/r</span>: ${NOT_RECORDED}.</p>`;
}

function box(title: string, svg: string, note = ''): string {
  return `<div class="chart-box"><h3>${esc(title)}</h3>${svg}${note ? `<p class="note">${note}</p>` : ''}</div>`;
}

function notRecordedNote(missing: number, what: string): string {
  return missing > 0 ? `<span class="missing">${missing} run(s): ${esc(what)} ${NOT_RECORDED}</span>` : '';
}

function wholeRuns(runs: ReportRun[], domain: TimeDomain): string {
  const label = (r: ReportRun) => `${isoMinute(r.startMs)} ${r.id} (${r.verdict})`;
  const priced = runs.filter((r) => r.usd !== undefined);
  return `<section class="target" data-target="">
<h2>All targets</h2><div class="charts">
${box(
  'verdicts',
  outcomeChart(
    'all',
    domain,
    runs.map((r) => ({ ms: r.startMs, run: r.id, outcome: r.verdictClass, label: label(r) })),
  ),
)}
${box(
  'cost per run (USD)',
  valueChart(
    'run-cost',
    'all',
    domain,
    priced.map((r) => ({
      ms: r.startMs,
      run: r.id,
      value: r.usd!,
      outcome: r.verdictClass,
      label: label(r),
    })),
    usd,
  ),
  notRecordedNote(runs.length - priced.length, 'cost'),
)}
</div></section>`;
}

function targetCharts(target: string, runs: ReportRun[], domain: TimeDomain): string {
  const legs = runs.flatMap((run) =>
    run.legs.filter((l) => l.target === target).map((leg) => ({ run, leg })),
  );
  const points = (value: (leg: ReportLeg) => number | undefined): ChartPoint[] =>
    legs.flatMap(({ run, leg }) => {
      const v = value(leg);
      return v === undefined
        ? []
        : [{ ms: run.startMs, run: run.id, value: v, outcome: leg.outcomeClass, label: legLabel(run, leg) }];
    });
  const tta = points((l) => l.timeToActiveSeconds);
  const duration = points((l) => l.durationSeconds);
  const cost = points((l) => l.usd);
  const bars: PhaseBar[] = legs
    .filter(({ leg }) => leg.phases.some((p) => p.durationSeconds !== undefined))
    .map(({ run, leg }) => ({
      ms: run.startMs,
      run: run.id,
      label: legLabel(run, leg),
      phases: leg.phases
        .filter((p) => p.durationSeconds !== undefined)
        .map((p) => ({ name: p.name, seconds: p.durationSeconds! })),
    }));
  const costMissing = legs.filter(
    ({ run, leg }) => leg.usd === undefined && run.notRecorded.includes('cost'),
  ).length;
  const ttaMissing = legs.filter(({ leg }) => leg.timeToActiveSeconds === undefined).length;
  return `<section class="target" data-target="${esc(target)}">
<h2>${esc(target)}</h2>
<div class="charts">
${box('time to active', valueChart('time-to-active', target, domain, tta, seconds, niceMaxSeconds), ttaMissing ? `${ttaMissing} run(s) without a time to active (the leg ended before onboarding, or ${NOT_RECORDED})` : '')}
${box('leg duration', valueChart('leg-duration', target, domain, duration, seconds, niceMaxSeconds))}
${box(
  'duration of each phase',
  phaseChart(target, domain, bars),
  `<span class="legend">${Object.entries(PHASE_COLOUR)
    .map(([p, c]) => `<span><i style="background:${c}"></i>${esc(p)}</span>`)
    .join('')}</span>`,
)}
${box(
  'pass / fail / inconclusive',
  outcomeChart(
    target,
    domain,
    legs.map(({ run, leg }) => ({
      ms: run.startMs,
      run: run.id,
      outcome: leg.outcomeClass,
      label: legLabel(run, leg),
    })),
  ),
  rateNote(legs.map((l) => l.leg)),
)}
${box('cost per run (USD, every attempt)', valueChart('leg-cost', target, domain, cost, usd), notRecordedNote(costMissing, 'cost'))}
</div></section>`;
}

function rateNote(legs: ReportLeg[]): string {
  const count = (c: string) => legs.filter((l) => l.outcomeClass === c).length;
  const pct = (n: number) => (legs.length ? Math.round((n / legs.length) * 100) : 0);
  return `${legs.length} run(s): ${count('passed')} passed (${pct(count('passed'))}%), ${count('failed')} failed (${pct(count('failed'))}%), ${count('inconclusive')} inconclusive (${pct(count('inconclusive'))}%)${count('cancelled') ? `, ${count('cancelled')} cancelled` : ''}`;
}

function isoMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

// Filters the table by verdict and target; the target filter also shows only that target's charts.
const FILTER_SCRIPT = `
(function () {
  var verdict = document.getElementById('f-verdict');
  var target = document.getElementById('f-target');
  function apply() {
    var shown = 0;
    document.querySelectorAll('#runs tbody tr').forEach(function (row) {
      var ok = (!verdict.value || row.dataset.verdict === verdict.value) && (!target.value || row.dataset.targets.split(' ').indexOf(target.value) >= 0);
      row.hidden = !ok;
      if (ok) shown++;
    });
    document.querySelectorAll('section.target').forEach(function (section) {
      section.hidden = Boolean(target.value) && section.dataset.target !== '' && section.dataset.target !== target.value;
    });
    document.getElementById('shown').textContent = String(shown);
  }
  verdict.addEventListener('change', apply);
  target.addEventListener('change', apply);
  apply();
})();
`;
