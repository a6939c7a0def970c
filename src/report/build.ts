/**
 * Writing the site: index.html and runs/<run>.html under the output
 * directory. Pages are written aside and renamed, so a browser open on the
 * previous report never reads half a page.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pageName } from './escape';
import { indexPage, type IndexContext } from './index-page';
import type { ReportRun } from './model';
import { runPage, type WebUi } from './run-page';

export class ReportOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportOutputError';
  }
}

export interface WrittenReport {
  index?: string;
  pages: string[];
}

/** The whole site (every run's page and the index), or with `only` just that run's page. */
export function writeReport(
  out: string,
  runs: ReportRun[],
  ctx: IndexContext,
  ui: WebUi,
  only?: ReportRun,
): WrittenReport {
  const dir = path.resolve(out);
  const pages: string[] = [];
  try {
    mkdirSync(path.join(dir, 'runs'), { recursive: true });
    for (const run of only ? [only] : runs) {
      const file = path.join(dir, 'runs', pageName(run.id));
      writeAtomically(file, runPage(run, ui));
      pages.push(file);
    }
    if (only) return { pages };
    const index = path.join(dir, 'index.html');
    writeAtomically(index, indexPage(runs, ctx));
    return { index, pages };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ReportOutputError(
      `cannot write the report under ${dir} (${code}): choose a directory you can write with --out`,
    );
  }
}

function writeAtomically(file: string, body: string): void {
  const partial = `${file}.partial-${process.pid}`;
  writeFileSync(partial, body);
  renameSync(partial, file);
}
