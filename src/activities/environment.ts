import { environmentOf, UnknownEnvironmentError } from '../config/environment';
import type { EnvironmentConfig, Invariants } from '../config/schema';
import { activityFailure } from './failure';

/** The environment's settings for an activity: an unknown name is CONFIG_INVALID (the worker's configuration lacks it). */
export function environmentForActivity(
  invariants: Invariants & { file?: string },
  envName: string,
): EnvironmentConfig {
  try {
    return environmentOf(invariants, envName);
  } catch (err) {
    if (err instanceof UnknownEnvironmentError) throw activityFailure('CONFIG_INVALID', err.message);
    throw err;
  }
}
