import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { DEFAULT_INVARIANTS_PATH, InvariantsError, parseInvariants } from '../../src/config/load';

/** ops/invariants.yaml with one edit, parsed as the worker and the CLI parse it. */
function withEdit(edit: (file: any) => void) {
  const file = parse(readFileSync(DEFAULT_INVARIANTS_PATH, 'utf8'), { merge: true });
  edit(file);
  return () => parseInvariants(stringify(file), DEFAULT_INVARIANTS_PATH);
}

function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof InvariantsError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration: schedules and the preflight timeout', () => {
  it('reads the nightly and janitor schedules of both environments', () => {
    const invariants = withEdit(() => undefined)();
    for (const name of ['dev', 'local']) {
      const env = invariants.environments[name]!;
      assert.deepEqual(env.schedules, {
        nightly: { at: '02:00', timezone: 'America/Los_Angeles', candidate: { tag: 'latest' } },
        janitor: { every: 3600_000 },
      });
      assert.ok(env.timeouts.preflight > 0);
    }
  });

  it('reports each wrong schedule setting at its path, with what is expected', () => {
    const found = problems(
      withEdit((file) => {
        file.environments.dev.schedules = {
          nightly: { at: '2am', timezone: 'Pacific/Nowhere', candidate: { tag: 'has space' } },
          janitor: { every: '30s' },
        };
      }),
    );
    assert.deepEqual(found, [
      'environments.dev.schedules.nightly.at: expected a 24-hour time of day such as 02:00',
      'environments.dev.schedules.nightly.timezone: expected an IANA time zone such as America/Los_Angeles or UTC',
      'environments.dev.schedules.nightly.candidate.tag: expected an image tag such as latest or main (letters, digits, _ . -; at most 128)',
      'environments.dev.schedules.janitor.every: expected at least 1m',
    ]);
  });

  it('needs timeouts.preflight', () => {
    assert.deepEqual(problems(withEdit((file) => delete file.environments.local.timeouts.preflight)), [
      'environments.local.timeouts.preflight: required (string)',
    ]);
  });
});
