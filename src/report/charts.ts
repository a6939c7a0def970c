/**
 * The index's charts, per target over time: one point (circle or bar, class
 * "point", data-run naming the run) for every run whose evidence recorded the
 * value. A run that did not record it is counted under the chart instead.
 */
import { esc } from './escape';
import type { OutcomeClass, ReportLeg, ReportRun } from './model';
import {
  axes,
  MARGIN,
  niceMax,
  niceMaxSeconds,
  OUTCOME_COLOUR,
  phaseColour,
  PLOT_H,
  PLOT_W,
  seconds,
  svgOpen,
  WIDTH,
  x,
  y,
  type TimeDomain,
} from './svg';

export interface ChartPoint {
  ms: number;
  run: string;
  value: number;
  outcome: OutcomeClass;
  label: string;
}

/** A value over time: a line through one circle per run. */
export function valueChart(
  chart: string,
  target: string,
  domain: TimeDomain,
  points: ChartPoint[],
  format: (v: number) => string,
  roundUp: (v: number) => number = niceMax,
): string {
  const sorted = [...points].sort((a, b) => a.ms - b.ms);
  const yMax = roundUp(Math.max(0, ...sorted.map((p) => p.value)) * 1.05);
  const line = sorted.map((p) => `${x(domain, p.ms).toFixed(1)},${y(yMax, p.value).toFixed(1)}`).join(' ');
  const circles = sorted
    .map(
      (p) =>
        `<circle class="point" data-run="${esc(p.run)}" data-value="${p.value}" cx="${x(domain, p.ms).toFixed(1)}" cy="${y(yMax, p.value).toFixed(1)}" r="3.5" fill="${OUTCOME_COLOUR[p.outcome]}"><title>${esc(p.label)}: ${esc(format(p.value))}</title></circle>`,
    )
    .join('');
  return `${svgOpen({ chart, target, points: sorted.length }, `${chart} of ${target}`)}${axes(domain, yMax, format)}${sorted.length > 1 ? `<polyline class="series" points="${line}"/>` : ''}${circles}</svg>`;
}

export interface PhaseBar {
  ms: number;
  run: string;
  label: string;
  phases: { name: string; seconds: number }[];
}

/** Each phase's duration: one stacked bar per run, a segment per phase. */
export function phaseChart(target: string, domain: TimeDomain, bars: PhaseBar[]): string {
  const yMax = niceMaxSeconds(
    Math.max(0, ...bars.map((b) => b.phases.reduce((t, p) => t + p.seconds, 0))) * 1.05,
  );
  const width = Math.max(2, Math.min(10, PLOT_W / Math.max(1, bars.length) - 1));
  const drawn = [...bars]
    .sort((a, b) => a.ms - b.ms)
    .map((bar) => {
      let base = 0;
      const left = (x(domain, bar.ms) - width / 2).toFixed(1);
      const segments = bar.phases
        .map((phase) => {
          const top = y(yMax, base + phase.seconds);
          const height = y(yMax, base) - top;
          base += phase.seconds;
          return `<rect data-phase="${esc(phase.name)}" x="${left}" y="${top.toFixed(1)}" width="${width.toFixed(1)}" height="${Math.max(0, height).toFixed(1)}" fill="${phaseColour(phase.name)}"><title>${esc(bar.label)}: ${esc(phase.name)} ${esc(seconds(phase.seconds))}</title></rect>`;
        })
        .join('');
      return `<g class="point" data-run="${esc(bar.run)}" data-value="${base}">${segments}</g>`;
    })
    .join('');
  return `${svgOpen({ chart: 'phase-durations', target, points: bars.length }, `phase durations of ${target}`)}${axes(domain, yMax, seconds)}${drawn}</svg>`;
}

const RATE_ROWS: OutcomeClass[] = ['passed', 'failed', 'inconclusive', 'cancelled'];

/** Pass / fail / inconclusive: one dot per run in its outcome's row, over weekly bars of the rate. */
export function outcomeChart(
  target: string,
  domain: TimeDomain,
  points: Omit<ChartPoint, 'value'>[],
): string {
  const rowY = (outcome: OutcomeClass) =>
    MARGIN.top +
    14 +
    Math.max(0, RATE_ROWS.indexOf(outcome === 'other' ? 'failed' : outcome)) *
      ((PLOT_H - 28) / (RATE_ROWS.length - 1));
  const week = 7 * 86_400_000;
  const weeks = new Map<number, OutcomeClass[]>();
  for (const p of points) {
    // Weeks start on Monday (1970-01-05 was one).
    const start = Math.floor((p.ms - 4 * 86_400_000) / week) * week + 4 * 86_400_000;
    weeks.set(start, [...(weeks.get(start) ?? []), p.outcome]);
  }
  const bars = [...weeks.entries()]
    .map(([start, outcomes]) => {
      const left = Math.max(MARGIN.left, x(domain, start));
      const right = Math.min(WIDTH - MARGIN.right, x(domain, start + week));
      let top = MARGIN.top;
      return RATE_ROWS.map((outcome) => {
        const share =
          outcomes.filter((o) => o === outcome || (outcome === 'failed' && o === 'other')).length /
          outcomes.length;
        const height = share * PLOT_H;
        const rect =
          share > 0
            ? `<rect class="rate" data-week="${new Date(start).toISOString().slice(0, 10)}" data-outcome="${outcome}" x="${left.toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(0, right - left - 1).toFixed(1)}" height="${height.toFixed(1)}" fill="${OUTCOME_COLOUR[outcome]}" opacity="0.18"><title>week of ${new Date(start).toISOString().slice(0, 10)}: ${Math.round(share * 100)}% ${outcome} (${outcomes.length} runs)</title></rect>`
            : '';
        top += height;
        return rect;
      }).join('');
    })
    .join('');
  const labels = RATE_ROWS.map(
    (o) =>
      `<text class="tick" x="${MARGIN.left - 6}" y="${rowY(o).toFixed(1)}" dy="0.32em" text-anchor="end">${o}</text>`,
  ).join('');
  const dots = [...points]
    .sort((a, b) => a.ms - b.ms)
    .map(
      (p) =>
        `<circle class="point" data-run="${esc(p.run)}" data-outcome="${p.outcome}" cx="${x(domain, p.ms).toFixed(1)}" cy="${rowY(p.outcome).toFixed(1)}" r="3.5" fill="${OUTCOME_COLOUR[p.outcome]}"><title>${esc(p.label)}: ${esc(p.outcome)}</title></circle>`,
    )
    .join('');
  return `${svgOpen({ chart: 'outcomes', target, points: points.length }, `outcomes of ${target}`)}${bars}${axes(domain, 1)}${labels}${dots}</svg>`;
}

/** The per-target figures for one leg, as chart points. */
export function legLabel(run: ReportRun, leg: ReportLeg): string {
  return `${new Date(run.startMs).toISOString().slice(0, 16).replace('T', ' ')} ${run.id} (${leg.outcome})`;
}
