/**
 * The production-shape tier (`npm run test:production`): Sentinel on the
 * Temporal server and PostgreSQL the compose file pins, set up by the compose
 * file's own scripts, with the worker started as the image starts it. See
 * test/production/stack.ts and docs/deploy.md.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, startProcess } from '../../dev/stack/process';
import { startTestCloudApi } from '../support/cloud-api';
import type { Client } from '@temporalio/client';
import { decodeVersioningBehavior } from '@temporalio/common';
import { PURPOSE, TAG } from '../../src/machines/tags';
import { PROJECT_ROOT } from '../../src/config/load';
import type { MatrixRunResult } from '../../src/domain/run';
import { applySchedules } from '../../src/schedules/schedules';
import { nightlyLastPassedSeconds } from '../../src/worker/alert-gauges';
import { projectGitHead } from '../../src/worker/versioning';
import { SCHEDULE_KINDS, SEARCH_ATTRIBUTES, scheduleId } from '../../src/temporal/definitions';
import { candidate, instancesTagged, REPOSITORY } from '../support/aws';
import { recordTool, slowGpuDetect, testEnvironment, type TestEnvironment } from '../support/invariants';
import { legReachesPhase, startRun, temporalClient } from '../support/runs';
import { sharedStack, suiteDir } from '../support/stack';
import { eventually } from '../support/wait';
import { imageCommand, startImageWorker, type ImageWorker } from './image-worker';
import { composeVersions, productionStack, useProductionStack } from './stack';

useProductionStack();

/** Each metric a rule reads, with the labels it selects on or groups by (job, instance and `up` are Prometheus' own). */
function metricsOfRules(file: string): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const doc = parse(readFileSync(file, 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
  for (const rule of doc.groups.flatMap((g) => g.rules)) {
    const grouped = [...rule.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) =>
      m[1]!.split(',').map((l) => l.trim()),
    );
    for (const m of rule.expr.matchAll(/\b((?:sentinel|temporal)_\w+)(?:\{([^}]*)\})?/g)) {
      const labels = used.get(m[1]!) ?? new Set<string>();
      for (const l of grouped) labels.add(l);
      for (const matcher of (m[2] ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) labels.add(matcher[1]!);
      for (const l of ['job', 'instance']) labels.delete(l);
      used.set(m[1]!, labels);
    }
  }
  return used;
}

/** Every instance the run launched: exactly one per target, none left running. */
async function oneInstancePerLegAllTerminated(result: MatrixRunResult): Promise<void> {
  const instances = await instancesTagged(TAG.runId, result.workflowId);
  const targets = instances.map((i) => i.Tags?.find((t) => t.Key === TAG.target)?.Value).sort();
  assert.deepEqual(
    targets,
    result.legs.map((l) => l.target).sort(),
    `one instance per leg: ${JSON.stringify(targets)}`,
  );
  for (const i of instances) {
    assert.equal(i.Tags?.find((t) => t.Key === TAG.purpose)?.Value, PURPOSE);
    assert.ok(
      ['terminated', 'shutting-down'].includes(i.State?.Name ?? ''),
      `${i.InstanceId} is ${i.State?.Name}`,
    );
  }
}

async function worker(env: TestEnvironment, name: string): Promise<ImageWorker> {
  const stack = await sharedStack();
  return startImageWorker(path.join(suiteDir, `${name}.log`), {
    ...stack.env,
    // The compose file's worker names its server `temporal:7233`; here that server listens on loopback.
    TEMPORAL_ADDRESS: stack.temporal.address,
    TEMPORAL_NAMESPACE: stack.temporal.namespace,
    SENTINEL_INVARIANTS: env.file,
    SENTINEL_LOCAL_WORK_ROOT: path.join(suiteDir, 'hosts-work'),
  });
}

describe('production shape: the compose stack outside Docker', function () {
  this.timeout(600_000);
  const runs: MatrixRunResult[] = [];
  let client: Client;

  before(async function () {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    client = await temporalClient();
  });

  it('runs the Temporal server and PostgreSQL versions the compose file pins, with the worker as the image starts it', async () => {
    const versions = composeVersions();
    const stack = productionStack();
    assert.equal(
      stack.temporal.version,
      versions.temporal,
      "the server built is the compose file's temporalio/server tag",
    );
    assert.match(
      stack.postgres.version,
      new RegExp(`\\(PostgreSQL\\) ${versions.postgresMajor}\\.`),
      "PostgreSQL of the compose file's major",
    );
    const system = await client.workflowService.getSystemInfo({});
    assert.equal(system.serverVersion, versions.temporal);
    const image = imageCommand();
    assert.deepEqual(
      image.command,
      ['node', 'dist/worker/main.js'],
      "the image's CMD, run from the project folder as from /app",
    );
    assert.equal(image.env.NODE_ENV, 'production');
    assert.equal(image.env.SENTINEL_WORKFLOW_BUNDLE, path.join(PROJECT_ROOT, 'dist/workflow-bundle.js'));
    // The worker is started with this process's `node` (image-worker.ts): it must be the image's major.
    const imageNode = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(
      readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8'),
    )?.[1];
    assert.ok(imageNode, 'the Dockerfile pins NODE_IMAGE=node:<major>-...');
    assert.equal(
      process.versions.node.split('.')[0],
      imageNode,
      `the tier runs on Node ${process.version}; the image runs Node ${imageNode} (scripts/use-node24.sh)`,
    );
    assert.equal(
      image.env.SENTINEL_BUILD_ID,
      projectGitHead(),
      'the build id the compose build passes: the git sha',
    );
  });

  it('passes one full local matrix run, with one instance per leg', async () => {
    const env = testEnvironment('prod-run');
    const w = await worker(env, 'prod-run-worker');
    try {
      const result = await (await startRun(env, { candidate: await candidate('prod-run') })).result();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.failure ?? result.legs));
      await oneInstancePerLegAllTerminated(result);
      // Worker Versioning on the production server: the run was pinned to the worker's build (docs/versioning.md).
      const versioning = (await client.workflow.getHandle(result.workflowId).describe()).raw
        .workflowExecutionInfo?.versioningInfo;
      assert.deepEqual(
        {
          deploymentName: versioning?.deploymentVersion?.deploymentName,
          buildId: versioning?.deploymentVersion?.buildId,
          behavior: decodeVersioningBehavior(versioning?.behavior),
        },
        { deploymentName: env.invariants.temporal.taskQueue, buildId: projectGitHead(), behavior: 'PINNED' },
      );
      runs.push(result);
    } finally {
      await w.stop();
    }
  });

  it('finishes a run through a SIGKILL of the Temporal server and its restart, with one instance per leg and nothing leaked', async () => {
    const env = testEnvironment('prod-server-kill');
    slowGpuDetect(env.hostsDir, 'amd-v520', 15);
    const w = await worker(env, 'prod-server-kill-worker');
    try {
      const handle = await startRun(env, { candidate: await candidate('prod-server-kill') });
      await legReachesPhase(handle.workflowId, 'amd-v520', 'gpu_detect', 120_000);
      const temporal = productionStack().temporal;
      await temporal.kill();
      await new Promise((r) => setTimeout(r, 3_000)); // the worker and client see the server gone
      await temporal.start();
      const result = await eventually(
        'the run to finish after the restart',
        async () => handle.result(),
        300_000,
        2_000,
      );
      assert.equal(result.verdict, 'passed', JSON.stringify(result.failure ?? result.legs));
      await oneInstancePerLegAllTerminated(result);
      runs.push(result);
    } finally {
      await w.stop();
    }
  });

  it('finishes a run whose worker is restarted mid-run, with one instance per leg', async () => {
    const env = testEnvironment('prod-worker-restart');
    slowGpuDetect(env.hostsDir, 'amd-v520', 15);
    let w = await worker(env, 'prod-worker-restart-a');
    try {
      const handle = await startRun(env, { candidate: await candidate('prod-worker-restart') });
      await legReachesPhase(handle.workflowId, 'amd-v520', 'gpu_detect', 120_000);
      await w.stop('SIGTERM');
      w = await worker(env, 'prod-worker-restart-b');
      const result = await handle.result();
      assert.equal(result.verdict, 'passed', JSON.stringify(result.failure ?? result.legs));
      await oneInstancePerLegAllTerminated(result);
      runs.push(result);
    } finally {
      await w.stop();
    }
  });

  it('runs the nightly when its schedule is triggered', async () => {
    const env = testEnvironment('prod-schedule');
    const w = await worker(env, 'prod-schedule-worker');
    const settings = env.invariants.environments[env.name]!;
    await applySchedules(client, env.name, settings, env.invariants.temporal.taskQueue);
    try {
      const digest = await candidate('prod-nightly', REPOSITORY, {
        tag: settings.schedules!.nightly!.candidate.tag,
      });
      await client.schedule.getHandle(scheduleId('nightly', env.name)).trigger();
      const schedule = client.schedule.getHandle(scheduleId('nightly', env.name));
      const started = await eventually(
        'the triggered nightly run',
        async () => {
          const action = (await schedule.describe()).info.recentActions[0]?.action;
          return action?.type === 'startWorkflow' ? action.workflow.workflowId : undefined;
        },
        60_000,
        1_000,
      );
      const result = (await client.workflow.getHandle(started).result()) as MatrixRunResult;
      assert.equal(result.verdict, 'passed', JSON.stringify(result.failure ?? result.legs));
      assert.equal(result.candidate, digest);
      assert.equal(result.trigger, 'schedule');
      runs.push(result);
      // The alert gauge's visibility query (WorkflowId STARTS_WITH) on PostgreSQL finds the pass.
      const closed =
        (await client.workflow.getHandle(result.workflowId).describe()).closeTime!.getTime() / 1000;
      const passed = await eventually(
        'the nightly pass in visibility',
        async () => {
          const seconds = await nightlyLastPassedSeconds(client, env.name);
          return seconds !== undefined && Math.abs(seconds - closed) < 1 ? seconds : undefined;
        },
        30_000,
        1_000,
      );
      assert.ok(Math.abs(passed - closed) < 1);
    } finally {
      for (const kind of SCHEDULE_KINDS)
        await client.schedule
          .getHandle(scheduleId(kind, env.name))
          .delete()
          .catch(() => undefined);
      await w.stop();
    }
  });

  it('a real Prometheus scrapes the worker and the installer with the alert rules loaded, and finds every metric they read', async () => {
    const env = testEnvironment('prod-prometheus');
    recordTool(env.hostsDir, 'amd-v520', 'rocm-smi', {
      cmd: 'rocm-smi --showproductname',
      out: 'ERROR:root:Driver not initialized (amdgpu not found in modules)\n',
      exit: 0,
    });
    // With its nightly schedule in place, the worker reports when the nightly last passed.
    await applySchedules(
      client,
      env.name,
      env.invariants.environments[env.name]!,
      env.invariants.temporal.taskQueue,
    );
    const w = await worker(env, 'prod-prometheus-worker');
    const api = await startTestCloudApi(env);
    const dir = path.join(suiteDir, 'prometheus');
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const rules = path.join(PROJECT_ROOT, 'deploy/prometheus/sentinel-alerts.yml');
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [rules],
        scrape_configs: [
          { job_name: 'sentinel-worker', static_configs: [{ targets: [w.metricsAddress] }] },
          { job_name: 'sentinel-installer', static_configs: [{ targets: [new URL(api.url).host] }] },
        ],
      }),
    );
    const prometheus = startProcess(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      path.join(suiteDir, 'prometheus.log'),
    );
    try {
      const result = await (await startRun(env, { candidate: await candidate('prod-prometheus') })).result();
      assert.equal(result.verdict, 'failed', 'the AMD driver check fails: an activity failure to count');
      await api.installer({ token: 'onb_Zm9vYmFyLWNsdXN0ZXItMDE.sig-9f8e7d' });
      const query = async (pathAndQuery: string) =>
        (await (await fetch(`http://127.0.0.1:${port}${pathAndQuery}`)).json()) as {
          status: string;
          data: any;
        };
      const loaded = await eventually(
        'the rules loaded',
        async () => {
          const groups = (await query('/api/v1/rules')).data.groups as Array<{ rules: unknown[] }>;
          const n = groups.flatMap((g) => g.rules).length;
          return n > 0 ? n : undefined;
        },
        60_000,
        1_000,
      );
      assert.equal(loaded, 9);
      for (const [name, labels] of metricsOfRules(rules)) {
        const series = await eventually(
          `${name} in Prometheus`,
          async () => {
            const found = (
              await query(`/api/v1/series?match[]=${encodeURIComponent(`{__name__="${name}"}`)}`)
            ).data as Array<Record<string, string>>;
            return found.length > 0 ? found : undefined;
          },
          90_000,
          1_000,
        );
        assert.ok(
          series.some((s) => [...labels].every((l) => l in s)),
          `${name} carries ${[...labels].join(', ')}: ${JSON.stringify(series[0])}`,
        );
      }
    } finally {
      await prometheus.stop();
      await api.stop();
      await w.stop();
      for (const kind of SCHEDULE_KINDS)
        await client.schedule
          .getHandle(scheduleId(kind, env.name))
          .delete()
          .catch(() => undefined);
    }
  });

  it('answers visibility queries on every Sentinel search attribute', async () => {
    assert.ok(runs.length >= 1, 'the runs above passed');
    const run = runs[0]!;
    const digest = run.candidate.slice(run.candidate.indexOf('@') + 1);
    const expected: Record<string, [string, string]> = {
      [SEARCH_ATTRIBUTES.environment.name]: [run.environment, run.workflowId],
      [SEARCH_ATTRIBUTES.candidateDigest.name]: [digest, run.workflowId],
      [SEARCH_ATTRIBUTES.verdict.name]: ['passed', run.workflowId],
      [SEARCH_ATTRIBUTES.target.name]: [
        'nvidia-a10g',
        run.legs.find((l) => l.target === 'nvidia-a10g')!.workflowId,
      ],
    };
    for (const key of Object.values(SEARCH_ATTRIBUTES)) {
      if (key.name === SEARCH_ATTRIBUTES.phase.name) continue;
      const [value, workflowId] = expected[key.name] ?? assert.fail(`no query for ${key.name}`);
      const ids = await eventually(
        `${key.name} = '${value}'`,
        async () => {
          const found: string[] = [];
          for await (const r of client.workflow.list({ query: `${key.name} = '${value}'` }))
            found.push(r.workflowId);
          return found.includes(workflowId) ? found : undefined;
        },
        30_000,
        500,
      );
      assert.ok(ids.includes(workflowId), `${key.name} finds ${workflowId}`);
    }
    // The leg's last phase: whatever it is, the query on it finds the leg.
    const leg = run.legs[0]!;
    const described = await client.workflow.getHandle(leg.workflowId).describe();
    const phase = described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase);
    assert.ok(phase, `${leg.workflowId} carries ${SEARCH_ATTRIBUTES.phase.name}`);
    const byPhase: string[] = [];
    for await (const r of client.workflow.list({
      query: `${SEARCH_ATTRIBUTES.phase.name} = '${phase}' AND ${SEARCH_ATTRIBUTES.environment.name} = '${run.environment}'`,
    }))
      byPhase.push(r.workflowId);
    assert.ok(
      byPhase.includes(leg.workflowId),
      `${SEARCH_ATTRIBUTES.phase.name} = '${phase}' finds ${leg.workflowId}`,
    );
  });
});
