/**
 * The small SVG toolkit the report draws with: a time axis shared by every
 * chart of a report, a value axis, and the colours of outcomes and phases.
 * Pure string building; every label goes through esc().
 */
import { esc } from './escape';
import type { OutcomeClass } from './model';

export const WIDTH = 640;
export const HEIGHT = 200;
export const MARGIN = { left: 72, right: 14, top: 14, bottom: 30 };
export const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
export const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

export const OUTCOME_COLOUR: Record<OutcomeClass, string> = {
  passed: '#2e7d32',
  failed: '#c62828',
  inconclusive: '#ef8f00',
  cancelled: '#757575',
  other: '#5e35b1',
};

export const PHASE_COLOUR: Record<string, string> = {
  provision: '#1f77b4',
  host_ready: '#17becf',
  host_setup: '#9467bd',
  gpu_detect: '#8c564b',
  container_runtime: '#e377c2',
  installer: '#bcbd22',
  onboarding: '#ff7f0e',
  smoke_job: '#2ca02c',
  cleanup: '#7f7f7f',
};

export function phaseColour(name: string): string {
  return PHASE_COLOUR[name] ?? '#444444';
}

export interface TimeDomain {
  startMs: number;
  endMs: number;
}

/** The span of the runs, padded so the first and last points are not on the frame. */
export function timeDomain(times: number[]): TimeDomain {
  if (times.length === 0) return { startMs: 0, endMs: 1 };
  const min = Math.min(...times);
  const max = Math.max(...times);
  const pad = Math.max((max - min) * 0.03, 3_600_000);
  return { startMs: min - pad, endMs: max + pad };
}

export function x(domain: TimeDomain, ms: number): number {
  return MARGIN.left + ((ms - domain.startMs) / (domain.endMs - domain.startMs)) * PLOT_W;
}

export function y(max: number, value: number): number {
  return MARGIN.top + PLOT_H - (max > 0 ? (value / max) * PLOT_H : 0);
}

/** A round upper bound for a value axis: 1, 2 or 5 times a power of ten. */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** A round upper bound for durations: whole minutes once they pass two minutes, so the ticks read 2.5m, 5m, not 2.1m. */
export function niceMaxSeconds(value: number): number {
  return value > 120 ? niceMax(value / 60) * 60 : niceMax(value);
}

const TIME_STEPS = [3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000, 28 * 86_400_000, 91 * 86_400_000];

function timeTicks(domain: TimeDomain): { ms: number; label: string }[] {
  const span = domain.endMs - domain.startMs;
  const step = TIME_STEPS.find((s) => span / s <= 7) ?? TIME_STEPS[TIME_STEPS.length - 1]!;
  const first = Math.ceil(domain.startMs / step) * step;
  const ticks: { ms: number; label: string }[] = [];
  for (let ms = first; ms <= domain.endMs; ms += step) {
    const iso = new Date(ms).toISOString();
    ticks.push({
      ms,
      label: step < 86_400_000 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10),
    });
  }
  return ticks;
}

/** Frame, time ticks along the bottom and (given a format) value ticks up the left. */
export function axes(domain: TimeDomain, yMax: number, format?: (v: number) => string): string {
  const parts: string[] = [];
  const bottom = MARGIN.top + PLOT_H;
  for (const tick of timeTicks(domain)) {
    const tx = x(domain, tick.ms).toFixed(1);
    parts.push(`<line class="grid" x1="${tx}" x2="${tx}" y1="${MARGIN.top}" y2="${bottom}"/>`);
    parts.push(
      `<text class="tick" x="${tx}" y="${bottom + 16}" text-anchor="middle">${esc(tick.label)}</text>`,
    );
  }
  for (let i = 0; format && i <= 4; i++) {
    const value = (yMax * i) / 4;
    const ty = y(yMax, value).toFixed(1);
    parts.push(`<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${ty}" y2="${ty}"/>`);
    parts.push(
      `<text class="tick" x="${MARGIN.left - 6}" y="${ty}" dy="0.32em" text-anchor="end">${esc(format(value))}</text>`,
    );
  }
  parts.push(
    `<rect class="frame" x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}"/>`,
  );
  return parts.join('');
}

/** The opening tag of a chart: data attributes name it for tests and scripts. */
export function svgOpen(attrs: Record<string, string | number>, label: string, height = HEIGHT): string {
  const data = Object.entries(attrs)
    .map(([k, v]) => ` data-${k}="${esc(v)}"`)
    .join('');
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${esc(label)}"${data}>`;
}

export function seconds(value: number): string {
  if (value >= 3600) return `${Number((value / 3600).toFixed(1))}h`;
  if (value >= 60) return `${Number((value / 60).toFixed(1))}m`;
  return `${Number(value.toFixed(value < 10 ? 2 : 1))}s`;
}

export function usd(value: number): string {
  return `$${value < 1 ? value.toFixed(4) : value.toFixed(2)}`;
}
