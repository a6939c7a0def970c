import { strict as assert } from 'node:assert';
import { defaultPayloadConverter, WorkflowFailedError } from '@temporalio/client';
import { parsePinnedImage } from '../../src/domain/image-ref';
import type { MatrixRunInput } from '../../src/domain/run';
import { runWorkflowId, SEARCH_ATTRIBUTES } from '../../src/temporal/definitions';
import { candidate, parameterValue } from '../support/aws';
import { sentinel } from '../support/cli';
import { testEnvironment } from '../support/invariants';
import { startRun, temporalClient } from '../support/runs';
import { sharedStack } from '../support/stack';
import { startWorker } from '../support/worker';

/** The failure type at the bottom of a failed run's cause chain. */
function rootType(err: unknown): string | undefined {
  let at = err as { cause?: unknown; type?: string } | undefined;
  while (at?.cause) at = at.cause;
  return at?.type;
}

describe('the candidate: parsed once where the run starts, carried as a pinned image', function () {
  before(async () => {
    const stack = await sharedStack();
    await stack.bootstrap('local');
  });

  it("sentinel run carries the parsed candidate in the run's input, and the run is searchable by its digest", async () => {
    const env = testEnvironment('candidate-carried');
    const worker = await startWorker(env.invariants);
    try {
      const digest = await candidate('candidate-carried');
      const run = await sentinel(
        ['run', '--env', env.name, '--digest', digest, '--run-id', 'cc-1', '--dry-run'],
        env.file,
      );
      assert.equal(run.code, 0, run.stderr);
      const handle = (await temporalClient()).workflow.getHandle(runWorkflowId(env.name, 'cc-1'));
      const started = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
      const input = defaultPayloadConverter.fromPayload<MatrixRunInput>(started!.input!.payloads![0]!);
      assert.equal(input.candidate, digest);
      assert.deepEqual(input.candidateImage, parsePinnedImage(digest));
      const described = await handle.describe();
      assert.equal(
        described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.candidateDigest),
        parsePinnedImage(digest).digest,
      );
    } finally {
      await worker.stop();
    }
  });

  it('the worker refuses an input whose pinned image is not its candidate (INPUT_REFUSED), before anything runs', async () => {
    const env = testEnvironment('candidate-forged');
    const worker = await startWorker(env.invariants);
    try {
      const [tested, other] = [await candidate('candidate-forged-a'), await candidate('candidate-forged-b')];
      const pointer = env.invariants.environments[env.name]!.approvedDigestParameter;
      const before = await parameterValue(pointer);
      const handle = await startRun(env, {
        candidate: tested,
        candidateImage: { ...parsePinnedImage(tested), digest: parsePinnedImage(other).digest },
      });
      await assert.rejects(handle.result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError, String(err));
        assert.equal(rootType(err), 'INPUT_REFUSED');
        return true;
      });
      const swapped = await startRun(env, { candidate: tested, candidateImage: parsePinnedImage(other) });
      await assert.rejects(swapped.result(), (err: unknown) => rootType(err) === 'INPUT_REFUSED');
      assert.equal(await parameterValue(pointer), before);
    } finally {
      await worker.stop();
    }
  });
});
