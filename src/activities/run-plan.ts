import { sandboxEmulationProblems } from '../config/sandbox-emulation';
import type { ActivityDeps } from './deps';
import { environmentForActivity } from './environment';
import { activityFailure } from './failure';
import { ImageRefError, pinnedImageFrom } from '../domain/image-ref';
import type { MatrixRunInput, RunPlan } from '../domain/run';

/** `processEnv`: the worker's environment, where its AWS endpoints are set. */
export function runPlanActivities(
  { invariants }: Pick<ActivityDeps, 'invariants'>,
  processEnv: NodeJS.ProcessEnv = process.env,
) {
  return {
    /**
     * Captures the configuration snapshot the whole run uses (recorded in
     * history, so replays and retries see the same values) and checks the
     * input once more on the worker's side, whoever started the run.
     */
    async prepareRun(input: MatrixRunInput): Promise<RunPlan> {
      const env = environmentForActivity(invariants, input.environment);
      let candidate;
      try {
        candidate = pinnedImageFrom(input.candidateImage ?? input.candidate, env.image.repository);
      } catch (err) {
        if (err instanceof ImageRefError) throw activityFailure('INPUT_REFUSED', err.message);
        throw err;
      }
      if (candidate.reference !== input.candidate) {
        throw activityFailure(
          'INPUT_REFUSED',
          'the input names two different candidates (candidate and candidateImage); start the run with one',
        );
      }
      // A simulated run with any real AWS service would launch real machines or move a real pointer for a run that proves nothing.
      const unemulated = sandboxEmulationProblems(env, processEnv);
      if (unemulated.length > 0) {
        throw activityFailure(
          'SANDBOX_NOT_EMULATED',
          `environment ${input.environment} is a sandbox (simulated hosts) and the worker does not point every AWS service the run uses at an emulator: ${unemulated.join('; ')}`,
        );
      }
      const { targets, ...settings } = env;
      return {
        environment: input.environment,
        settings,
        targets,
        candidate,
        simulated: env.executor.kind === 'local',
        configFile: invariants.file,
        configSha256: invariants.sha256,
      };
    },
  };
}
