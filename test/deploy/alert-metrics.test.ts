import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RunInstancesCommand, type Tag } from '@aws-sdk/client-ec2';
import { parse } from 'yaml';
import { PURPOSE, TAG } from '../../src/machines/tags';
import { PROJECT_ROOT } from '../../src/config/load';
import { freePort } from '../../dev/stack/process';
import { applySchedules } from '../../src/schedules/schedules';
import { instancesPastTtl, laneWaitSeconds, nightlyLastPassedSeconds } from '../../src/worker/alert-gauges';
import { SCHEDULE_KINDS, scheduleId } from '../../src/temporal/definitions';
import { aws, candidate, REGION } from '../support/aws';
import { startTestCloudApi, stopAllCloudApis } from '../support/cloud-api';
import { recordTool, slowGpuDetect, testEnvironment, type TestEnvironment } from '../support/invariants';
import { startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { eventually } from '../support/wait';
import { startWorker, startWorkerProcess } from '../support/worker';

type Json = Record<string, any>;

const RULES = path.join(PROJECT_ROOT, 'deploy/prometheus/sentinel-alerts.yml');
const TOKEN = 'onb_Zm9vYmFyLWNsdXN0ZXItMDE.sig-9f8e7d';

/** A GPU-matrix instance of the environment in the emulated account, tagged as Sentinel tags them. */
async function launch(environment: string, expiresAt: string): Promise<void> {
  const tags: Tag[] = [
    { Key: TAG.purpose, Value: PURPOSE },
    { Key: TAG.environment, Value: environment },
    { Key: TAG.target, Value: 'nvidia-a10g' },
    { Key: TAG.expiresAt, Value: expiresAt },
  ];
  await aws.ec2(REGION).send(
    new RunInstancesCommand({
      ImageId: 'ami-0c2b8ca305e393e06',
      InstanceType: 'g5.xlarge',
      MinCount: 1,
      MaxCount: 1,
      TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
    }),
  );
}

const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

async function withSchedules<T>(env: TestEnvironment, body: () => Promise<T>): Promise<T> {
  const client = await temporalClient();
  await applySchedules(
    client,
    env.name,
    env.invariants.environments[env.name]!,
    env.invariants.temporal.taskQueue,
  );
  try {
    return await body();
  } finally {
    for (const kind of SCHEDULE_KINDS)
      await client.schedule
        .getHandle(scheduleId(kind, env.name))
        .delete()
        .catch(() => undefined);
  }
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function value(all: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

/** Each metric a rule reads, with the labels the rule selects on or groups by (Prometheus' own job, instance and `up` aside). */
function metricsOfRules(): Map<string, Set<string>> {
  const rules = parse(readFileSync(RULES, 'utf8')) as Json;
  const used = new Map<string, Set<string>>();
  for (const rule of (rules.groups as Json[]).flatMap((g) => g.rules as Json[])) {
    const expr = String(rule.expr);
    const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) =>
      m[1]!.split(',').map((l) => l.trim()),
    );
    for (const m of expr.matchAll(/\b((?:sentinel|temporal)_\w+)(?:\{([^}]*)\})?/g)) {
      const labels = used.get(m[1]!) ?? new Set<string>();
      for (const l of grouped) labels.add(l);
      for (const matcher of (m[2] ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) labels.add(matcher[1]!);
      for (const l of ['job', 'instance']) labels.delete(l);
      used.set(m[1]!, labels);
    }
  }
  return used;
}

describe('the metrics the alert rules read (deploy/prometheus/sentinel-alerts.yml)', function () {
  afterEach(async () => {
    await stopAllCloudApis();
  });

  it('the alert gauges read the nightly pass, leaked instances and the lane wait from Temporal and EC2', async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    const env = testEnvironment('alert-gauges');
    const client = await temporalClient();

    // The nightly: nothing without a schedule, the schedule's creation before a pass, then the pass.
    assert.equal(
      await nightlyLastPassedSeconds(client, env.name),
      undefined,
      'no schedule, no nightly expected',
    );
    await withSchedules(env, async () => {
      const created = await nightlyLastPassedSeconds(client, env.name);
      assert.ok(
        created !== undefined && Math.abs(created - Date.now() / 1000) < 120,
        `the schedule's creation time stands in before any pass (${created})`,
      );

      // Leaks: by radix:expires-at (moto launches instances now, so the TTL by age cannot be reached here).
      assert.equal(await instancesPastTtl(aws, env.invariants, env.name, Date.now()), 0);
      await launch(env.name, iso(-60_000));
      await launch(env.name, iso(3600_000));
      assert.equal(
        await instancesPastTtl(aws, env.invariants, env.name, Date.now()),
        1,
        'only the instance past its radix:expires-at',
      );

      // A nightly-named run that passes, held long enough for a second run to queue at the lane.
      const worker = await startWorker(env.invariants);
      try {
        slowGpuDetect(env.hostsDir, 'amd-v520', 6);
        assert.equal(await laneWaitSeconds(client, env.name, Date.now()), 0, 'nobody waits');
        const nightly = await startRun(env, {
          candidate: await candidate('alert-nightly'),
          ciRunId: 'nightly-20261130-020000-ab12',
          trigger: 'schedule',
        });
        await eventually(
          'the nightly run to hold the lane',
          async () =>
            (await nightly.query<{ stage: string }>('progress')).stage === 'running_legs' ? true : undefined,
          60_000,
        );
        // A dry run: it only waits for the lane, then ends without legs.
        const queued = await startRun(env, { candidate: await candidate('alert-queued'), dryRun: true });
        const waited = await eventually(
          'a run waiting at the lane',
          async () => {
            const seconds = await laneWaitSeconds(client, env.name, Date.now() + 1000);
            return seconds >= 1 ? seconds : undefined;
          },
          60_000,
        );
        assert.ok(waited < 120, `the queued run's wait, not more (${waited} s)`);
        const passedRun = await nightly.result();
        assert.equal(passedRun.verdict, 'passed', JSON.stringify(passedRun.failure ?? passedRun.legs));
        await queued.result();
        assert.equal(
          await laneWaitSeconds(client, env.name, Date.now()),
          0,
          'nobody waits once the lane is free',
        );

        const closed = (await nightly.describe()).closeTime!.getTime() / 1000;
        const passed = await eventually(
          'the pass in visibility',
          async () => {
            const seconds = await nightlyLastPassedSeconds(client, env.name);
            return seconds !== undefined && seconds >= closed - 1 ? seconds : undefined;
          },
          30_000,
        );
        assert.ok(Math.abs(passed - closed) < 1, `the nightly's close time (${passed} vs ${closed})`);
      } finally {
        await worker.stop();
      }
    });
  });

  it('a real worker process and installer service expose every metric the rules read, with the labels they use', async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    const env = testEnvironment('alert-metrics');
    // The AMD host's driver check fails: an activity failure is counted.
    recordTool(env.hostsDir, 'amd-v520', 'rocm-smi', {
      cmd: 'rocm-smi --showproductname',
      out: 'ERROR:root:Driver not initialized (amdgpu not found in modules)\n',
      exit: 0,
    });
    await launch(env.name, iso(-60_000));
    await withSchedules(env, async () => {
      const address = `127.0.0.1:${await freePort()}`;
      const worker = await startWorkerProcess(env.file, 'alert-metrics-worker', {
        SENTINEL_METRICS_ADDRESS: address,
      });
      try {
        const result = await (await startRun(env, { candidate: await candidate('alert-metrics') })).result();
        assert.equal(result.verdict, 'failed');

        const api = await startTestCloudApi(env);
        const answer = await api.installer({ token: TOKEN });
        assert.equal(answer.headers.get('x-radix-installer-error'), 'APPROVED_DIGEST_MISSING');
        const installer = samples(await (await fetch(`${api.url}/metrics`)).text());
        const environment = { environment: env.name };
        assert.equal(
          value(installer, 'sentinel_installer_responses_total', {
            ...environment,
            status: '200',
            result: 'APPROVED_DIGEST_MISSING',
          }),
          1,
        );
        assert.equal(
          value(installer, 'sentinel_installer_responses_total', {
            ...environment,
            status: '503',
            result: 'APPROVED_DIGEST_UNAVAILABLE',
          }),
          0,
          'answers not yet given start at 0',
        );

        const scrape = async () => samples(await (await fetch(`http://${address}/metrics`)).text());
        let metrics = await scrape();
        metrics = await eventually(
          'the alert gauges of the environment',
          async () => {
            metrics = await scrape();
            return value(metrics, 'sentinel_lane_wait_seconds', environment) !== undefined
              ? metrics
              : undefined;
          },
          60_000,
        );
        assert.equal(
          value(metrics, 'sentinel_gpu_instances_past_ttl', environment),
          1,
          'the leaked instance',
        );
        assert.equal(value(metrics, 'sentinel_lane_wait_seconds', environment), 0);
        const nightly = value(metrics, 'sentinel_nightly_last_passed_timestamp_seconds', environment);
        assert.ok(
          nightly !== undefined && Math.abs(nightly - Date.now() / 1000) < 300,
          `before any pass: when the schedule was made (${nightly})`,
        );

        const all = [...metrics, ...installer];
        const used = metricsOfRules();
        assert.ok(used.size >= 6, `the rules read ${[...used.keys()].join(', ')}`);
        for (const [name, labels] of used) {
          const found = all.filter((s) => s.name === name);
          assert.ok(found.length > 0, `${name} is exposed`);
          assert.ok(
            found.some((s) => [...labels].every((l) => l in s.labels)),
            `${name} carries ${[...labels].join(', ')}; seen: ${JSON.stringify(found[0]!.labels)}`,
          );
        }
      } finally {
        await worker.stop('SIGTERM');
      }
    });
  });
});
