import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { XMLParser } from 'fast-xml-parser';
import { parse, stringify } from 'yaml';
import { TAG } from '../../src/machines/tags';
import { EXIT } from '../../src/cli/exit-codes';
import { freePort } from '../../dev/stack/process';
import type { EvidenceRecord } from '../../src/domain/evidence';
import type { LegResult } from '../../src/domain/run';
import { evidenceSchema } from '../../src/evidence/schema';
import { legAttemptWorkflowId, legWorkflowId, runWorkflowId } from '../../src/temporal/definitions';
import { aws, candidate, instancesTagged, parameterValue, REGION } from '../support/aws';
import { jsonOf, sentinel } from '../support/cli';
import { startEc2FaultProxy, type Ec2FaultProxy } from '../support/ec2-fault-proxy';
import { testEnvironment } from '../support/invariants';
import { readEvidence, startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorkerProcess } from '../support/worker';

type Json = Record<string, any>;

/** The value of one tag of a RunInstances call (TagSpecification.N.Tag.M.Key/Value). */
function launchTag(params: URLSearchParams, key: string): string | undefined {
  for (const [name, value] of params.entries()) {
    const m = /^(TagSpecification\.\d+\.Tag\.\d+)\.Key$/.exec(name);
    if (m && value === key) return params.get(`${m[1]}.Value`) ?? undefined;
  }
  return undefined;
}

/**
 * Polls the emulated account while a run goes on and remembers the most
 * machines any one leg (target) of the run had alive at the same moment.
 */
function watchLiveMachines(runId: string): { stop(): Promise<Map<string, number>> } {
  const most = new Map<string, number>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const live = (await instancesTagged(TAG.runId, runId)).filter((i) =>
        ['pending', 'running', 'stopping', 'stopped'].includes(i.State?.Name ?? ''),
      );
      const perTarget = new Map<string, number>();
      for (const i of live) {
        const target = i.Tags?.find((t) => t.Key === TAG.target)?.Value ?? '?';
        perTarget.set(target, (perTarget.get(target) ?? 0) + 1);
      }
      for (const [target, n] of perTarget) most.set(target, Math.max(most.get(target) ?? 0, n));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return most;
    },
  };
}

function assertCostRecorded(leg: LegResult, usdPerHour: number): void {
  const cost = leg.cost;
  assert.ok(cost, `${leg.target} attempt ${leg.attempt ?? 1} records its machine's cost`);
  assert.equal(cost.instanceId, leg.instance?.instanceId);
  assert.equal(cost.terminationObserved, true, 'cleanup saw the machine terminated');
  const span = (Date.parse(cost.terminatedAt!) - Date.parse(cost.launchedAt)) / 1000;
  assert.ok(Math.abs(cost.instanceSeconds - span) < 0.01, 'instance-seconds run from launch to terminated');
  assert.ok(cost.instanceSeconds > 0);
  const cleanupStarted = Date.parse(leg.phases.find((p) => p.name === 'cleanup')!.startedAt!);
  assert.ok(
    Math.abs(cost.leakedSeconds - (Date.parse(cost.terminatedAt!) - cleanupStarted) / 1000) < 0.01,
    "leaked: from the leg's end to termination",
  );
  assert.ok(cost.leakedSeconds < cost.instanceSeconds);
  assert.equal(cost.usdPerHour, usdPerHour);
  assert.ok(Math.abs(cost.usd! - (cost.instanceSeconds / 3600) * usdPerHour) < 0.0001);
}

describe('infraRetries and prices in the configuration, as the command line sees them', function () {
  it('refuses a negative infraRetries and a price for an instance type no target uses, at their paths, with exit 3 and no run started', async () => {
    const env = testEnvironment('bad-cost-config');
    const file = parse(readFileSync(env.file, 'utf8')) as Json;
    file.environments[env.name].infraRetries = -1;
    file.environments[env.name].prices = {
      ...file.environments[env.name].prices,
      onDemandUsdPerHour: { 'us-west-2': { 'g5.xlarge': 1.006, 'p4d.24xlarge': 32.7726 } },
    };
    const bad = path.join(env.dir, 'bad-invariants.yaml');
    writeFileSync(bad, stringify(file));
    const check = await sentinel(['config', 'check'], bad);
    assert.equal(check.code, EXIT.CONFIG_INVALID, check.stderr);
    const problems = check.stderr + check.stdout;
    assert.match(
      problems,
      new RegExp(`environments\\.${env.name}\\.infraRetries: expected 0 or more retries`),
    );
    assert.match(
      problems,
      new RegExp(
        `environments\\.${env.name}\\.prices\\.onDemandUsdPerHour\\.us-west-2\\.p4d\\.24xlarge: no target of this environment uses p4d\\.24xlarge`,
      ),
    );
    assert.doesNotMatch(problems, /\n\s+at /, 'no stack trace');

    const run = await sentinel(
      ['run', '--env', env.name, '--digest', await candidate('bad-cost-config'), '--run-id', 'bad-1'],
      bad,
    );
    assert.equal(run.code, EXIT.CONFIG_INVALID, run.stderr);
    assert.match(run.stderr + run.stdout, /infraRetries: expected 0 or more retries/);
    const c = await temporalClient();
    await assert.rejects(
      c.workflow.getHandle(runWorkflowId(env.name, 'bad-1')).describe(),
      /not found/i,
      'no run was started',
    );
  });
});

describe('inconclusive legs and cost, with capacity errors from the EC2 fault proxy', function () {
  let proxy: Ec2FaultProxy;

  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
    proxy = await startEc2FaultProxy({ upstream: stack.moto.endpoint });
  });
  after(async () => proxy?.stop());
  afterEach(() => proxy.clearRules());

  it('tries a leg that found no capacity again on a fresh machine, which passes: promoted, both attempts in the evidence, cost per leg', async () => {
    const env = testEnvironment('infra-retry');
    const runId = runWorkflowId(env.name, 'retry-1');
    const firstAttempt = legWorkflowId(runId, 'amd-v520');
    const secondAttempt = legAttemptWorkflowId(firstAttempt, 2);
    // Every launch of the AMD leg's first attempt (its activity retries included) finds no capacity; nothing else is touched.
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => launchTag(p, TAG.leg) === firstAttempt,
      error: 'InsufficientInstanceCapacity',
      zone: 'us-west-2a',
    });
    const worker = await startWorkerProcess(env.file, 'infra-retry-worker', {
      AWS_ENDPOINT_URL_EC2: proxy.url,
    });
    try {
      const digest = await candidate('infra-retry');
      const watch = watchLiveMachines(runId);
      const result = await (await startRun(env, { candidate: digest, ciRunId: 'retry-1' })).result();
      const most = await watch.stop();

      assert.equal(result.verdict, 'passed');
      assert.equal(result.promotion.status, 'promoted');
      assert.equal(await parameterValue(`/radix/${env.name}/agent_digest_approved`), digest);
      const amdSummary = result.legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amdSummary.outcome, 'passed');
      assert.equal(amdSummary.attempts, 2);
      assert.equal(amdSummary.workflowId, secondAttempt);

      const evidence = readEvidence(result);
      evidenceSchema.parse(evidence);
      const amd = evidence.legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.attempt, 2);
      assert.equal(amd.earlierAttempts?.length, 1);
      const first = amd.earlierAttempts[0]!;
      assert.equal(first.workflowId, firstAttempt);
      assert.equal(first.outcome, 'failed');
      assert.equal(first.failure?.code, 'INSTANCE_CAPACITY_UNAVAILABLE');
      assert.match(
        first.failure.detail!,
        /no capacity in any pair: g4ad\.xlarge in us-west-2a .*InsufficientInstanceCapacity/,
      );

      // The launches: every one of the first attempt refused, then one launch of the second, under its own tag and ClientToken.
      const launches = proxy
        .callsOf('RunInstances')
        .filter(
          (c) => launchTag(c.params, TAG.runId) === runId && launchTag(c.params, TAG.target) === 'amd-v520',
        );
      const refused = launches.filter((c) => launchTag(c.params, TAG.leg) === firstAttempt);
      const fresh = launches.filter((c) => launchTag(c.params, TAG.leg) === secondAttempt);
      assert.ok(refused.length >= 1 && refused.every((c) => c.injected === 'InsufficientInstanceCapacity'));
      assert.equal(fresh.length, 1);
      assert.equal(fresh[0]!.status, 200);
      assert.ok(
        refused.every((c) => c.params.get('ClientToken') !== fresh[0]!.params.get('ClientToken')),
        'the fresh attempt launches with its own ClientToken',
      );

      // One machine per leg, the AMD one from the second attempt; at no moment two for one leg; all terminated.
      const machines = await instancesTagged(TAG.runId, runId);
      assert.equal(machines.length, 2);
      const amdMachine = machines.find((i) =>
        i.Tags?.some((t) => t.Key === TAG.target && t.Value === 'amd-v520'),
      )!;
      assert.equal(amdMachine.InstanceId, amd.instance?.instanceId);
      assert.equal(amdMachine.Tags?.find((t) => t.Key === TAG.leg)?.Value, secondAttempt);
      for (const i of machines) assert.equal(i.State?.Name, 'terminated');
      for (const [target, n] of most) assert.ok(n <= 1, `${target} had ${n} machines alive at once`);

      // Cost: each leg's machine from launch to terminated, at the configured prices; the run's total adds them up.
      assertCostRecorded(amd, 0.37853);
      const nvidia = evidence.legs.find((l) => l.target === 'nvidia-a10g')!;
      assertCostRecorded(nvidia, 1.006);
      assert.equal(first.cost, undefined, 'no machine, no cost');
      const cost = evidence.cost!;
      assert.ok(
        Math.abs(cost.instanceSeconds - (amd.cost!.instanceSeconds + nvidia.cost!.instanceSeconds)) < 0.01,
      );
      assert.ok(
        Math.abs(cost.leakedInstanceSeconds - (amd.cost!.leakedSeconds + nvidia.cost!.leakedSeconds)) < 0.01,
      );
      assert.ok(Math.abs(cost.usd! - (amd.cost!.usd! + nvidia.cost!.usd!)) < 0.0002);
      assert.equal(cost.pricesReadAt, '2026-07-20');
      assert.deepEqual(result.cost, cost);
      const markdown = readFileSync(result.evidence!.markdown, 'utf8');
      assert.match(markdown, /## Cost/);
      assert.match(markdown, /This was attempt 2; the earlier ones ended for an infrastructure reason/);
    } finally {
      await worker.stop('SIGTERM');
    }
  });

  it('replaces a machine that died before it was ready with a distinct one: the first is terminated, both are costed', async () => {
    const env = testEnvironment('infra-fresh-machine');
    const runId = runWorkflowId(env.name, 'fresh-1');
    const firstAttempt = legWorkflowId(runId, 'nvidia-a10g');
    // The first attempt's launch reaches moto at once, but its answer is held: meanwhile the machine is terminated
    // behind Sentinel's back (as a spot reclaim or a boot failure would), so the host never becomes ready.
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => launchTag(p, TAG.leg) === firstAttempt,
      holdMs: 3_000,
      times: 1,
    });
    const worker = await startWorkerProcess(env.file, 'infra-fresh-worker', {
      AWS_ENDPOINT_URL_EC2: proxy.url,
    });
    try {
      const handle = await startRun(env, { candidate: await candidate('infra-fresh'), ciRunId: 'fresh-1' });
      let killed: string | undefined;
      const deadline = Date.now() + 60_000;
      while (!killed && Date.now() < deadline) {
        const [machine] = await instancesTagged(TAG.leg, firstAttempt);
        if (machine?.InstanceId) {
          await aws.ec2(REGION).send(new TerminateInstancesCommand({ InstanceIds: [machine.InstanceId] }));
          killed = machine.InstanceId;
        } else {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.ok(killed, 'the first attempt launched a machine');
      const result = await handle.result();

      assert.equal(
        result.verdict,
        'passed',
        JSON.stringify({ failure: result.failure, cleanupIncomplete: result.cleanupIncomplete }),
      );
      const evidence = readEvidence(result);
      const nvidia = evidence.legs.find((l) => l.target === 'nvidia-a10g')!;
      assert.equal(nvidia.attempt, 2);
      const first = nvidia.earlierAttempts![0]!;
      assert.equal(first.instance?.instanceId, killed);
      assert.equal(first.failure?.code, 'INSTANCE_NOT_RUNNING');
      assert.notEqual(nvidia.instance?.instanceId, killed, 'the second attempt runs on a distinct machine');
      const machines = await instancesTagged(TAG.target, 'nvidia-a10g').then((all) =>
        all.filter((i) => i.Tags?.some((t) => t.Key === TAG.runId && t.Value === runId)),
      );
      assert.deepEqual(
        machines.map((i) => i.InstanceId).sort(),
        [killed, nvidia.instance!.instanceId].sort(),
      );
      for (const i of machines) assert.equal(i.State?.Name, 'terminated');
      // Both machines are in the run's cost: the dead one too.
      assert.equal(first.cost?.instanceId, killed);
      assert.equal(first.cost?.terminationObserved, true);
      assertCostRecorded(nvidia, 1.006);
      const amd = evidence.legs.find((l) => l.target === 'amd-v520')!;
      const sum = first.cost.instanceSeconds + nvidia.cost!.instanceSeconds + amd.cost!.instanceSeconds;
      assert.ok(Math.abs(evidence.cost!.instanceSeconds - sum) < 0.01);
    } finally {
      await worker.stop('SIGTERM');
    }
  });

  it('ends inconclusive when every attempt finds no capacity: nothing promoted, exit 15, JUnit skipped, evidence and metrics say so', async () => {
    // Two retries: three attempts, each on its own leg workflow.
    const env = testEnvironment('inconclusive', (e) => {
      e.infraRetries = 2;
    });
    const runId = runWorkflowId(env.name, 'inconclusive-1');
    // Every AMD launch of this run, whatever the attempt, finds no capacity.
    proxy.addRule({
      action: 'RunInstances',
      match: (p) => launchTag(p, TAG.runId) === runId && launchTag(p, TAG.target) === 'amd-v520',
      error: 'InsufficientInstanceCapacity',
      zone: 'us-west-2a',
    });
    const address = `127.0.0.1:${await freePort()}`;
    const worker = await startWorkerProcess(env.file, 'inconclusive-worker', {
      AWS_ENDPOINT_URL_EC2: proxy.url,
      SENTINEL_METRICS_ADDRESS: address,
    });
    try {
      const junit = path.join(env.dir, 'junit.xml');
      const run = await sentinel(
        [
          '--json',
          'run',
          '--env',
          env.name,
          '--digest',
          await candidate('inconclusive'),
          '--run-id',
          'inconclusive-1',
          '--junit',
          junit,
        ],
        env.file,
      );
      assert.equal(run.code, EXIT.INCONCLUSIVE, run.stderr);
      const result = jsonOf(run);
      assert.equal(result.verdict, 'inconclusive');
      assert.equal(result.promotion.status, 'not_promoted_failed');
      assert.equal(
        await parameterValue(`/radix/${env.name}/agent_digest_approved`),
        undefined,
        'nothing promoted',
      );
      const amdSummary = result.legs.find((l: Json) => l.target === 'amd-v520');
      assert.equal(amdSummary.outcome, 'inconclusive');
      assert.equal(amdSummary.attempts, 3);
      assert.equal(amdSummary.failure.code, 'INSTANCE_CAPACITY_UNAVAILABLE');
      assert.equal(result.legs.find((l: Json) => l.target === 'nvidia-a10g').outcome, 'passed');
      assert.match(run.stderr, /verdict: INCONCLUSIVE \[SIMULATED\]/);
      assert.match(run.stderr, /INCO {2}amd-v520 .*INSTANCE_CAPACITY_UNAVAILABLE/);
      assert.match(
        run.stderr,
        /inconclusive: the infrastructure never gave the candidate a fair trial here; the candidate is not blamed/,
      );
      assert.match(
        run.stderr,
        /cost: \$\d+\.\d{4} for \d+\.\d instance-seconds \(\d+\.\d leaked after the legs ended\), on-demand prices read 2026-07-20/,
      );

      // Three attempts, three leg tags, every launch refused: no AMD machine at all.
      const launches = proxy
        .callsOf('RunInstances')
        .filter(
          (c) => launchTag(c.params, TAG.runId) === runId && launchTag(c.params, TAG.target) === 'amd-v520',
        );
      assert.deepEqual(
        [...new Set(launches.map((c) => launchTag(c.params, TAG.leg)))],
        [
          legWorkflowId(runId, 'amd-v520'),
          legAttemptWorkflowId(legWorkflowId(runId, 'amd-v520'), 2),
          legAttemptWorkflowId(legWorkflowId(runId, 'amd-v520'), 3),
        ],
      );
      assert.ok(launches.every((c) => c.injected === 'InsufficientInstanceCapacity'));
      const machines = await instancesTagged(TAG.runId, runId);
      assert.deepEqual(
        machines.map((i) => i.Tags?.find((t) => t.Key === TAG.target)?.Value),
        ['nvidia-a10g'],
      );

      const evidence = JSON.parse(readFileSync(result.evidence.json, 'utf8')) as EvidenceRecord;
      evidenceSchema.parse(evidence);
      assert.equal(evidence.verdict, 'inconclusive');
      const amd = evidence.legs.find((l) => l.target === 'amd-v520')!;
      assert.equal(amd.outcome, 'inconclusive');
      assert.equal(amd.attempt, 3);
      assert.deepEqual(
        amd.earlierAttempts?.map((a) => [a.attempt ?? 1, a.outcome, a.failure?.code, a.earlierAttempts]),
        [
          [1, 'failed', 'INSTANCE_CAPACITY_UNAVAILABLE', undefined],
          [2, 'failed', 'INSTANCE_CAPACITY_UNAVAILABLE', undefined],
        ],
      );
      assert.ok(
        evidence.cost && evidence.cost.instanceSeconds > 0 && evidence.cost.usd! > 0,
        'the NVIDIA machine is counted',
      );
      assert.match(
        readFileSync(result.evidence.markdown, 'utf8'),
        /\*\*INCONCLUSIVE\.\*\* No leg failed on the candidate/,
      );

      // JUnit: the inconclusive target is skipped with its reason, not failed.
      const parser = new XMLParser({
        ignoreAttributes: false,
        attributeNamePrefix: '',
        isArray: (n) => ['testsuite', 'testcase', 'property'].includes(n),
      });
      const report = (parser.parse(readFileSync(junit, 'utf8')) as Json).testsuites;
      assert.equal(report.failures, '0');
      const amdSuite = report.testsuite.find((s: Json) => s.name === `${env.name}/amd-v520`);
      assert.equal(amdSuite.failures, '0');
      const provision = amdSuite.testcase.find((c: Json) => c.name === 'provision');
      assert.match(
        provision.skipped.message,
        /^inconclusive after 3 attempt\(s\): INSTANCE_CAPACITY_UNAVAILABLE: .*the candidate was not blamed/,
      );
      const verdictCase = report.testsuite[0].testcase[0];
      assert.match(verdictCase.skipped.message, /^inconclusive/);

      // Metrics: the verdict, the leg outcome, the retry and the run's instance-seconds and cost.
      const metrics = await (await fetch(`http://${address}/metrics`)).text();
      const sample = (name: string, labels: Record<string, string>) =>
        metrics
          .split('\n')
          .filter(
            (l) =>
              l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
          )
          .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)))[0];
      assert.equal(
        sample('sentinel_runs_completed', { environment: env.name, verdict: 'inconclusive' }),
        1,
        metrics
          .split('\n')
          .filter((l) => l.startsWith('sentinel_'))
          .join('\n'),
      );
      assert.equal(
        sample('sentinel_legs_completed', {
          environment: env.name,
          target: 'amd-v520',
          outcome: 'inconclusive',
        }),
        1,
      );
      assert.equal(sample('sentinel_leg_infra_retries', { environment: env.name, target: 'amd-v520' }), 2);
      assert.ok(
        Math.abs(
          sample('sentinel_run_instance_seconds_sum', { environment: env.name })! -
            evidence.cost.instanceSeconds,
        ) < 0.01,
      );
      assert.ok(
        Math.abs(sample('sentinel_run_cost_usd_sum', { environment: env.name })! - evidence.cost.usd!) <
          0.0001,
      );
      assert.ok(sample('sentinel_run_leaked_instance_seconds_sum', { environment: env.name })! >= 0);
    } finally {
      await worker.stop('SIGTERM');
    }
  });
});
