/**
 * What the live view prints for one leg: every phase the leg has started
 * since the last answer, in order, then its end. Polling alone would show
 * only the phase current at each poll, and a phase shorter than the poll
 * interval would never appear; the leg's query carries every phase record,
 * so none is lost.
 */
import type { LegProgress } from '../domain/run';

export type LegView = Pick<LegProgress, 'target' | 'phase' | 'phases' | 'outcome' | 'instanceId'>;

/** The lines not printed yet for this leg; `printed` remembers what was (one set per leg). */
export function newLegLines(progress: LegView, printed: Set<string>): string[] {
  const lines: string[] = [];
  const instance = progress.instanceId ? ` (${progress.instanceId})` : '';
  const say = (key: string, text: string) => {
    if (printed.has(key)) return;
    printed.add(key);
    lines.push(`${progress.target}: ${text}${instance}`);
  };
  for (const phase of progress.phases) {
    const started = phase.startedAt !== undefined || phase.name === progress.phase;
    if (started) say(phase.name, phase.name);
  }
  if (progress.phase === 'done') say('done', `done: ${progress.outcome ?? 'unknown'}`);
  return lines;
}
