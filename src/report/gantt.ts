/**
 * A run's timeline: one row per leg attempt, one bar per phase at its
 * recorded start and duration, on a time axis from the run's start to its
 * end; the janitor pre-step, when the evidence has it, as a marker.
 */
import { esc } from './escape';
import type { ReportRun } from './model';
import { OUTCOME_COLOUR, phaseColour, seconds } from './svg';

const W = 880;
const LABEL = 190;
const RIGHT = 16;
const TOP = 22;
const ROW = 26;

export function ganttChart(run: ReportRun, janitorAtMs?: number): string {
  const rows = run.attempts;
  const ends = rows.flatMap((leg) =>
    leg.phases
      .filter((p) => p.startMs !== undefined)
      .map((p) => p.startMs! + (p.durationSeconds ?? 0) * 1000),
  );
  const starts = rows.flatMap((leg) =>
    leg.phases.filter((p) => p.startMs !== undefined).map((p) => p.startMs!),
  );
  const t0 = Math.min(run.startMs, ...starts, ...(janitorAtMs !== undefined ? [janitorAtMs] : []));
  const t1 = Math.max(run.finishMs, ...ends, t0 + 1000);
  const plot = W - LABEL - RIGHT;
  const px = (ms: number) => LABEL + ((ms - t0) / (t1 - t0)) * plot;
  const height = TOP + rows.length * ROW + 30;
  const parts: string[] = [];
  const span = (t1 - t0) / 1000;
  const step =
    [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find((s) => span / s <= 10) ?? 7200;
  for (let s = 0; s <= span; s += step) {
    const tx = px(t0 + s * 1000).toFixed(1);
    parts.push(
      `<line class="grid" x1="${tx}" x2="${tx}" y1="${TOP - 6}" y2="${height - 24}"/><text class="tick" x="${tx}" y="${height - 10}" text-anchor="middle">+${esc(seconds(s))}</text>`,
    );
  }
  rows.forEach((leg, i) => {
    const top = TOP + i * ROW;
    const name = `${leg.target}${rows.filter((l) => l.target === leg.target).length > 1 ? ` #${leg.attempt}` : ''}`;
    parts.push(
      `<text class="row-label" x="${LABEL - 8}" y="${top + ROW / 2}" dy="0.32em" text-anchor="end" fill="${OUTCOME_COLOUR[leg.outcomeClass]}">${esc(name)} (${esc(leg.outcome)})</text>`,
    );
    for (const phase of leg.phases) {
      if (phase.startMs === undefined) continue;
      const left = px(phase.startMs);
      const width = Math.max(1.5, px(phase.startMs + (phase.durationSeconds ?? 0) * 1000) - left);
      const stroke = phase.outcome === 'failed' ? ` stroke="${OUTCOME_COLOUR.failed}" stroke-width="2"` : '';
      const title = `${leg.target} ${phase.name}: ${phase.outcome}${phase.durationSeconds !== undefined ? `, ${seconds(phase.durationSeconds)}` : ''}${phase.failureCode ? `, ${phase.failureCode}` : ''}`;
      parts.push(
        `<rect class="bar" data-leg="${esc(leg.target)}" data-attempt="${leg.attempt}" data-phase="${esc(phase.name)}" data-outcome="${esc(phase.outcome)}" x="${left.toFixed(1)}" y="${top + 4}" width="${width.toFixed(1)}" height="${ROW - 8}" fill="${phaseColour(phase.name)}"${phase.outcome === 'skipped' || phase.outcome === 'cancelled' ? ' opacity="0.35"' : ''}${stroke}><title>${esc(title)}</title></rect>`,
      );
    }
  });
  if (janitorAtMs !== undefined) {
    const jx = px(janitorAtMs).toFixed(1);
    parts.push(
      `<line class="marker" data-marker="janitor" x1="${jx}" x2="${jx}" y1="${TOP - 10}" y2="${height - 24}"/><text class="tick" x="${jx}" y="${TOP - 12}" text-anchor="middle">janitor</text>`,
    );
  }
  const bars = rows.reduce((n, leg) => n + leg.phases.filter((p) => p.startMs !== undefined).length, 0);
  return `<svg class="chart gantt" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="phase timeline of ${esc(run.id)}" data-chart="gantt" data-bars="${bars}">${parts.join('')}</svg>`;
}
