import { strict as assert } from 'node:assert';
import { newLegLines, type LegView } from '../../src/cli/leg-progress-lines';

const view = (phase: LegView['phase'], started: string[], outcome?: LegView['outcome']): LegView => ({
  target: 'amd-v520',
  phase,
  instanceId: 'i-0abc',
  outcome,
  phases: ['provision', 'host_setup', 'installer', 'gpu_detect'].map((name) => ({
    name: name as LegView['phases'][number]['name'],
    outcome: started.includes(name) ? 'passed' : 'skipped',
    ...(started.includes(name) ? { startedAt: '2026-11-30T10:00:00Z' } : {}),
  })),
});

describe('the live view of a leg', () => {
  it('shows a phase that started and ended between two polls', () => {
    const printed = new Set<string>();
    assert.deepEqual(newLegLines(view('provision', ['provision']), printed), [
      'amd-v520: provision (i-0abc)',
    ]);
    // The next answer comes when host setup has already passed and the installer runs.
    assert.deepEqual(newLegLines(view('installer', ['provision', 'host_setup', 'installer']), printed), [
      'amd-v520: host_setup (i-0abc)',
      'amd-v520: installer (i-0abc)',
    ]);
  });

  it('prints nothing when nothing moved, and the end once', () => {
    const printed = new Set<string>();
    newLegLines(view('installer', ['provision', 'host_setup', 'installer']), printed);
    assert.deepEqual(newLegLines(view('installer', ['provision', 'host_setup', 'installer']), printed), []);
    const done = view('done', ['provision', 'host_setup', 'installer', 'gpu_detect'], 'passed');
    assert.deepEqual(newLegLines(done, printed), [
      'amd-v520: gpu_detect (i-0abc)',
      'amd-v520: done: passed (i-0abc)',
    ]);
    assert.deepEqual(newLegLines(done, printed), []);
  });
});
