import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { pushImage } from '../../dev/stack/registry';
import type { MatrixRunResult } from '../../src/domain/run';
import { evidenceSchema } from '../../src/evidence/schema';
import { registryEndpoint } from '../../src/registry/client';
import { laneStateQuery, laneWorkflowId, runWorkflowId, scheduleId } from '../../src/temporal/definitions';
import { candidate, parameterValue, REPOSITORY } from '../support/aws';
import { sentinel } from '../support/cli';
import { holdGpuDetect, testEnvironment } from '../support/invariants';
import { readEvidence, startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

/** Hour and minute of a moment on the wall clock of `timeZone`. */
function wallClock(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(at);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('schedules (real Temporal Schedules)', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it('apply creates each schedule once however often it runs, its spec matches the configuration, and it follows the configuration', async function () {
    this.timeout(180_000);
    const env = testEnvironment('sched-apply');
    const client = await temporalClient();
    const nightlyId = scheduleId('nightly', env.name);
    const janitorId = scheduleId('janitor', env.name);
    try {
      const first = await sentinel(['schedule', 'apply', '--env', env.name, '--json'], env.file);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(
        first.json.schedules.map((s: { scheduleId: string; status: string }) => [s.scheduleId, s.status]),
        [
          [nightlyId, 'created'],
          [janitorId, 'created'],
        ],
      );
      const created = await client.schedule.getHandle(nightlyId).describe();

      for (let i = 0; i < 2; i++) {
        const again = await sentinel(['schedule', 'apply', '--env', env.name, '--json'], env.file);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(
          again.json.schedules.map((s: { status: string }) => s.status),
          ['unchanged', 'unchanged'],
        );
      }

      // What Temporal holds is what ops/invariants.yaml says: 02:00 America/Los_Angeles, every night; the janitor hourly; never overlapping.
      const nightly = await client.schedule.getHandle(nightlyId).describe();
      assert.equal(nightly.info.createdAt.getTime(), created.info.createdAt.getTime(), 'created once');
      assert.equal(nightly.spec.timezone, 'America/Los_Angeles');
      assert.equal(nightly.spec.calendars?.length, 1);
      assert.deepEqual(nightly.spec.calendars?.[0]?.hour, [{ start: 2, end: 2, step: 1 }]);
      assert.deepEqual(nightly.spec.calendars?.[0]?.minute, [{ start: 0, end: 0, step: 1 }]);
      assert.equal(nightly.policies.overlap, ScheduleOverlapPolicy.SKIP);
      assert.equal(
        nightly.action.type === 'startWorkflow' && nightly.action.workflowType,
        'nightlyMatrixWorkflow',
      );
      assert.deepEqual(nightly.action.type === 'startWorkflow' && nightly.action.args, [
        { environment: env.name },
      ]);
      assert.equal(
        nightly.action.type === 'startWorkflow' && nightly.action.taskQueue,
        env.invariants.temporal.taskQueue,
      );
      const nextRuns = nightly.info.nextActionTimes.slice(0, 3);
      assert.ok(nextRuns.length >= 2);
      for (const at of nextRuns) assert.equal(wallClock(at, 'America/Los_Angeles'), '02:00');
      const janitor = await client.schedule.getHandle(janitorId).describe();
      assert.deepEqual(
        janitor.spec.intervals?.map((i) => i.every),
        [3600_000],
      );
      assert.equal(janitor.policies.overlap, ScheduleOverlapPolicy.SKIP);
      assert.deepEqual(janitor.action.type === 'startWorkflow' && janitor.action.args, [
        { environment: env.name, dryRun: false },
      ]);

      const listed = await sentinel(['schedule', 'list', '--env', env.name, '--json'], env.file);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(
        listed.json.schedules.map((s: { exists: boolean; drift: boolean; paused: boolean }) => [
          s.exists,
          s.drift,
          s.paused,
        ]),
        [
          [true, false, false],
          [true, false, false],
        ],
      );

      // A paused schedule stays paused through apply.
      const paused = await sentinel(
        ['schedule', 'pause', '--env', env.name, '--schedule', 'nightly', '--reason', 'registry migration'],
        env.file,
      );
      assert.equal(paused.code, 0, paused.stderr);
      const text = await sentinel(['schedule', 'list', '--env', env.name], env.file);
      assert.match(
        text.stdout,
        new RegExp(
          `${nightlyId}: daily 02:00 America/Los_Angeles, tag latest, PAUSED \\(registry migration\\)`,
        ),
      );

      // The configuration changes: the next apply updates in place (same schedule, new spec), keeping the pause.
      const file = parse(readFileSync(env.file, 'utf8'));
      file.environments[env.name].schedules.nightly.at = '03:30';
      file.environments[env.name].schedules.nightly.candidate.tag = 'main';
      writeFileSync(env.file, stringify(file));
      const drift = await sentinel(['schedule', 'list', '--env', env.name, '--json'], env.file);
      assert.equal(drift.json.schedules[0].drift, true);
      const updated = await sentinel(['schedule', 'apply', '--env', env.name, '--json'], env.file);
      assert.deepEqual(
        updated.json.schedules.map((s: { status: string; paused: boolean }) => [s.status, s.paused]),
        [
          ['updated', true],
          ['unchanged', false],
        ],
      );
      const after = await client.schedule.getHandle(nightlyId).describe();
      assert.equal(
        after.info.createdAt.getTime(),
        created.info.createdAt.getTime(),
        'updated, not recreated',
      );
      assert.deepEqual(after.spec.calendars?.[0]?.hour, [{ start: 3, end: 3, step: 1 }]);
      assert.deepEqual(after.spec.calendars?.[0]?.minute, [{ start: 30, end: 30, step: 1 }]);
      assert.equal(after.state.paused, true);
      assert.equal((await sentinel(['schedule', 'unpause', '--env', env.name], env.file)).code, 0);
      assert.equal((await client.schedule.getHandle(nightlyId).describe()).state.paused, false);

      // A schedule the configuration no longer declares is deleted by apply.
      delete file.environments[env.name].schedules.janitor;
      writeFileSync(env.file, stringify(file));
      const pruned = await sentinel(['schedule', 'apply', '--env', env.name, '--json'], env.file);
      assert.deepEqual(
        pruned.json.schedules.map((s: { scheduleId: string; status: string }) => [s.scheduleId, s.status]),
        [
          [nightlyId, 'unchanged'],
          [janitorId, 'deleted'],
        ],
      );

      const deleted = await sentinel(['schedule', 'delete', '--env', env.name], env.file);
      assert.equal(deleted.code, 0, deleted.stderr);
      const missing = await sentinel(['schedule', 'trigger', '--env', env.name], env.file);
      assert.equal(missing.code, 9, 'NOT_FOUND');
      assert.match(missing.stderr, /sentinel schedule apply --env/);
    } finally {
      for (const id of [nightlyId, janitorId])
        await client.schedule
          .getHandle(id)
          .delete()
          .catch(() => undefined);
    }
  });

  it("trigger starts a nightly run on the tag's current digest that waits its turn at the lane; a second trigger while it runs is skipped", async function () {
    this.timeout(180_000);
    const tag = `nightly-${Date.now().toString(36)}`;
    const env = testEnvironment('sched-trigger', (e) => {
      e.schedules.nightly.candidate.tag = tag;
    });
    const stack = await sharedStack();
    const revision = '89abcdef0123456789abcdef0123456789abcdef';
    // The CI candidate is built first, the nightly tag's image after it: the pointer only moves forward.
    const ciCandidate = await candidate('sched-ci');
    const pushed = await pushImage(stack.registry.url, registryEndpoint(REPOSITORY).name, {
      seed: tag,
      tag,
      revision,
    });
    // The CI run holds the lane until the test has seen the nightly run queue and the second trigger skipped, however busy the machine.
    const releaseCiRun = holdGpuDetect(env.hostsDir, 'nvidia-a10g');
    const worker = await startWorker(env.invariants);
    const client = await temporalClient();
    try {
      // A run started from CI holds the lane first.
      const ciRun = await startRun(env, { candidate: ciCandidate, ciRunId: 'ci-first' });
      await until('the CI run to hold the lane', async () => {
        const lane = await client.workflow
          .getHandle(laneWorkflowId(env.name))
          .query(laneStateQuery)
          .catch(() => undefined);
        return lane?.holder?.workflowId === ciRun.workflowId ? true : undefined;
      });

      assert.equal((await sentinel(['schedule', 'apply', '--env', env.name], env.file)).code, 0);
      const triggered = await sentinel(['schedule', 'trigger', '--env', env.name, '--json'], env.file);
      assert.equal(triggered.code, 0, triggered.stderr);
      assert.equal(triggered.json.status, 'started');
      const nightlyWorkflowId: string = triggered.json.workflowId;
      assert.ok(nightlyWorkflowId.startsWith(`${scheduleId('nightly', env.name)}-`), nightlyWorkflowId);

      // Its matrix run queues behind the CI run at the lane.
      const queued = await until('the nightly matrix run to queue at the lane', async () => {
        const lane = await client.workflow
          .getHandle(laneWorkflowId(env.name))
          .query(laneStateQuery)
          .catch(() => undefined);
        return lane?.queue.find((q) => q.workflowId.startsWith(runWorkflowId(env.name, 'nightly-')));
      });

      // The schedule never starts a second nightly while one runs.
      const second = await sentinel(['schedule', 'trigger', '--env', env.name], env.file);
      assert.equal(second.code, 4, second.stdout + second.stderr);
      assert.match(second.stderr, /skipped: its previous run .* is still running/);

      releaseCiRun();
      const ciResult = await ciRun.result();
      assert.equal(ciResult.verdict, 'passed');
      const nightly: MatrixRunResult = await client.workflow.getHandle(nightlyWorkflowId).result();
      assert.equal(nightly.workflowId, queued.workflowId);
      assert.equal(nightly.verdict, 'passed');
      assert.equal(nightly.trigger, 'schedule');
      assert.equal(nightly.candidate, `${REPOSITORY}@${pushed.digest}`);
      assert.equal(nightly.gitSha, revision, "the image's revision label");
      assert.equal(
        await parameterValue(`/radix/${env.name}/agent_digest_approved`),
        `${REPOSITORY}@${pushed.digest}`,
      );

      const evidence = readEvidence(nightly);
      evidenceSchema.parse(evidence);
      assert.equal(evidence.run.trigger, 'schedule');
      assert.deepEqual(
        { ...evidence.run.candidateSource, resolvedAt: undefined },
        {
          kind: 'tag',
          tag,
          reference: `${REPOSITORY}:${tag}`,
          digest: pushed.digest,
          scheduleId: scheduleId('nightly', env.name),
          resolvedAt: undefined,
        },
      );
      assert.match(
        readFileSync(nightly.evidence!.markdown, 'utf8'),
        new RegExp(`\\| Candidate source \\| tag \`${REPOSITORY}:${tag}\``),
      );
      // Through the lane: its legs began only once the CI run had finished.
      const firstLegStart = Math.min(
        ...evidence.legs.flatMap((l) =>
          l.phases.map((p) => (p.startedAt ? Date.parse(p.startedAt) : Infinity)),
        ),
      );
      assert.ok(
        firstLegStart >= Date.parse(ciResult.finishedAt),
        `nightly legs at ${new Date(firstLegStart).toISOString()}, CI run finished ${ciResult.finishedAt}`,
      );

      const described = await client.schedule.getHandle(scheduleId('nightly', env.name)).describe();
      assert.equal(described.info.numActionsTaken, 1);
      assert.equal(described.info.numActionsSkippedOverlap, 1);
    } finally {
      releaseCiRun();
      for (const kind of ['nightly', 'janitor'] as const)
        await client.schedule
          .getHandle(scheduleId(kind, env.name))
          .delete()
          .catch(() => undefined);
      await worker.stop();
    }
  });
});
