import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';
import { ImageRefError, parsePinnedImage } from '../domain/image-ref';
import type { MatrixRunInput, RunPlan } from '../domain/run';

export function runPlanActivities({ invariants }: Pick<ActivityDeps, 'invariants'>) {
  return {
    /**
     * Captures the configuration snapshot the whole run uses (recorded in
     * history, so replays and retries see the same values) and checks the
     * input once more on the worker's side, whoever started the run.
     */
    async prepareRun(input: MatrixRunInput): Promise<RunPlan> {
      const env = invariants.environments[input.environment];
      if (!env) {
        throw activityFailure(
          'CONFIG_INVALID',
          `unknown environment ${JSON.stringify(input.environment)}; ${invariants.file} defines ${Object.keys(invariants.environments).join(', ')}`,
        );
      }
      let candidate;
      try {
        candidate = parsePinnedImage(input.candidate, env.image.repository);
      } catch (err) {
        if (err instanceof ImageRefError) throw activityFailure('INPUT_REFUSED', err.message);
        throw err;
      }
      if (env.executor.kind === 'local' && !process.env.AWS_ENDPOINT_URL && !process.env.AWS_ENDPOINT_URL_EC2) {
        // Simulated hosts with real EC2 would launch real GPU machines for a run that proves nothing.
        throw activityFailure(
          'CONFIG_INVALID',
          `environment ${input.environment} simulates its hosts (executor local) but the worker has no AWS endpoint emulator configured; set AWS_ENDPOINT_URL (see README, "npm run demo")`,
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
