/**
 * The approved pointer's activities: thin wrappers over ../promotion/pointer.ts
 * (read), ../promotion/compare-and-set.ts and ../promotion/order.ts (forward only), whose
 * errors become catalogue failures here (../promotion/failures.ts).
 */
import { Context } from '@temporalio/activity';
import type { ApprovedDigestState, PromotionOrder } from '../domain/run';
import { PromotionOverwrittenError } from '../promotion/errors';
import { promotionFailureOf } from '../promotion/failures';
import { checkPromotionOrder } from '../promotion/order';
import { compareAndSetApprovedDigest, type CompareAndSetRequest } from '../promotion/compare-and-set';
import { readApprovedDigest, type ApprovedDigestRef } from '../promotion/pointer';
import { RegistryClient } from '../registry/client';
import type { ActivityDeps } from './deps';
import { activityFailure } from './failure';

export type { ApprovedDigestRef } from '../promotion/pointer';

/** The promotion as the run asks for it: written only over `expected`, the value the run read at its start. */
export type PromotionRequest = CompareAndSetRequest;

export interface PromotionOutcome {
  status: 'promoted' | 'already_promoted';
  version: number | null;
  /** The build times that allowed the promotion (absent when the pointer held nothing to order against). */
  order?: PromotionOrder;
}

/** A promotion-module error as its catalogue failure; anything else unchanged. */
function asActivityFailure(err: unknown): unknown {
  const failure = promotionFailureOf(err);
  return failure ? activityFailure(failure.code, failure.message, failure.cause, failure.facts) : err;
}

export function approvedDigestActivities({ aws }: Pick<ActivityDeps, 'aws'>) {
  const registry = new RegistryClient();
  return {
    async readApprovedDigest(ref: ApprovedDigestRef): Promise<ApprovedDigestState> {
      try {
        return await readApprovedDigest(aws, ref);
      } catch (err) {
        throw asActivityFailure(err);
      }
    },

    /**
     * Promotion: compare-and-set, forward only (the candidate must not be
     * older than the image the pointer holds). An overwrite of another
     * writer's value raises the sentinel_promotion_overwritten alert counter.
     */
    async promoteDigest(req: PromotionRequest): Promise<PromotionOutcome> {
      const signal = Context.current().cancellationSignal;
      try {
        const { checked, ...outcome } = await compareAndSetApprovedDigest(aws, req, (current) =>
          checkPromotionOrder(registry, req.candidate, current.reference, signal),
        );
        return checked ? { ...outcome, order: checked } : outcome;
      } catch (err) {
        if (err instanceof PromotionOverwrittenError) {
          Context.current()
            .metricMeter.createCounter(
              PROMOTION_OVERWRITTEN_METRIC,
              '',
              'Promotions whose write replaced a value another writer had just put into the approved pointer',
            )
            .add(1, { parameter: req.parameter });
        }
        throw asActivityFailure(err);
      }
    },
  };
}

/** Alert counter: a promotion overwrote another writer's value (docs/observability.md). */
export const PROMOTION_OVERWRITTEN_METRIC = 'sentinel_promotion_overwritten';
