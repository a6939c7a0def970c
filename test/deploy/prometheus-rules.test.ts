import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { PROJECT_ROOT } from '../../src/config/load';
import { promtool } from '../support/ops-tools';

type Json = Record<string, any>;

const DIR = path.join(PROJECT_ROOT, 'deploy/prometheus');
const RULES = 'sentinel-alerts.yml';
const TESTS = 'sentinel-alerts.test.yml';

function alerts(rules: Json): Json[] {
  return (rules.groups as Json[]).flatMap((g) => g.rules as Json[]).filter((r) => r.alert);
}

describe('Prometheus alert rules (deploy/prometheus)', function () {
  const rules = parse(readFileSync(path.join(DIR, RULES), 'utf8')) as Json;
  const tests = parse(readFileSync(path.join(DIR, TESTS), 'utf8')) as Json;

  it('pass `promtool check rules`', () => {
    const out = promtool(['check', 'rules', RULES], DIR);
    assert.equal(out.status, 0, `${out.display}:\n${out.stdout}${out.stderr}`);
    assert.match(out.stdout, new RegExp(`SUCCESS: ${alerts(rules).length} rules found`));
  });

  it('come with a Prometheus configuration that passes `promtool check config` and loads them', () => {
    const out = promtool(['check', 'config', 'prometheus.yml'], DIR);
    assert.equal(out.status, 0, `${out.display}:\n${out.stdout}${out.stderr}`);
    assert.match(out.stdout, /SUCCESS: 9 rules found/);
    const jobs = (parse(readFileSync(path.join(DIR, 'prometheus.yml'), 'utf8')) as Json).scrape_configs.map(
      (c: Json) => c.job_name,
    );
    for (const job of readFileSync(path.join(DIR, RULES), 'utf8').matchAll(/job="([^"]+)"/g))
      assert.ok(jobs.includes(job[1]), `the rules' job ${job[1]} is scraped`);
  });

  it('pass their unit tests (`promtool test rules`), which fire and then clear every alert', () => {
    const names = alerts(rules).map((a) => a.alert as string);
    assert.deepEqual(names.sort(), [
      'SentinelActivityFailureRateHigh',
      'SentinelGpuInstanceLeaked',
      'SentinelInstallerDown',
      'SentinelInstallerErrors',
      'SentinelInstallerPointerNotServable',
      'SentinelInstallerPointerUnattested',
      'SentinelLaneWaitHigh',
      'SentinelNightlyNotPassing',
      'SentinelWorkerDown',
    ]);
    for (const name of names) {
      const evals = (tests.tests as Json[])
        .flatMap((t) => (t.alert_rule_test ?? []) as Json[])
        .filter((e) => e.alertname === name);
      const firing = evals.findIndex((e) => (e.exp_alerts ?? []).length > 0);
      assert.ok(firing >= 0, `${name}: a test expects it to fire`);
      assert.ok(
        evals.slice(0, firing).some((e) => (e.exp_alerts ?? []).length === 0),
        `${name}: a test expects it quiet before it fires`,
      );
      assert.ok(
        evals.slice(firing + 1).some((e) => (e.exp_alerts ?? []).length === 0),
        `${name}: a test expects it to clear after it fired`,
      );
    }
    const out = promtool(['test', 'rules', TESTS], DIR);
    assert.equal(out.status, 0, `${out.display}:\n${out.stdout}${out.stderr}`);
  });

  it('the unit tests fail when any one alert can never fire', function () {
    this.timeout(120_000);
    for (const alert of alerts(rules)) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-rules-'));
      // Only the tests of this alert: the others would pass and only cost time.
      const own = {
        ...tests,
        tests: (tests.tests as Json[]).filter((t) =>
          ((t.alert_rule_test ?? []) as Json[]).some((e) => e.alertname === alert.alert),
        ),
      };
      writeFileSync(path.join(dir, TESTS), stringify(own));
      const broken = structuredClone(rules);
      for (const rule of alerts(broken)) if (rule.alert === alert.alert) rule.expr = 'vector(0) > 1';
      writeFileSync(path.join(dir, RULES), stringify(broken));
      const out = promtool(['test', 'rules', TESTS], dir);
      assert.notEqual(out.status, 0, `${alert.alert} never firing went unnoticed`);
      assert.match(
        out.stdout + out.stderr,
        new RegExp(`alertname: ${alert.alert}`),
        `the failure names ${alert.alert}`,
      );
    }
  });
});
