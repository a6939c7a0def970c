/**
 * The pointer only moves forward: a candidate may replace the approved image
 * only if it was built no earlier than it. "Built" is read from the images
 * themselves, their OCI image config's `created` time (every docker/buildx
 * build sets it), never from when a run started or finished, so a run that
 * waited in the lane behind a newer promotion cannot put its older image back.
 * Going back on purpose is `sentinel promote --rollback`, which does not ask.
 */
import { ImageRefError, parsePinnedImage } from '../domain/image-ref';
import type { PromotionOrder } from '../domain/run';
import { type RegistryClient, RegistryError, registryEndpoint } from '../registry/client';
import { PromotionOrderUnknownError, PromotionStaleError } from './errors';

/**
 * The order of the candidate and the approved image, or undefined when there
 * is nothing to order against (no value yet, or a value that is no pinned
 * reference of the repository, which a promotion repairs). Fails with
 * PromotionStaleError when the candidate is older, PromotionOrderUnknownError
 * when either build time cannot be read, and the registry's own errors
 * (RegistryConfigError, RegistryError unreachable or auth_refused) when it
 * cannot be asked.
 */
export async function checkPromotionOrder(
  registry: RegistryClient,
  candidate: string,
  approved: string | null,
  signal?: AbortSignal,
): Promise<PromotionOrder | undefined> {
  if (approved === null) return undefined;
  const wanted = parsePinnedImage(candidate);
  let held;
  try {
    held = parsePinnedImage(approved, wanted.repository);
  } catch (err) {
    if (err instanceof ImageRefError) return undefined;
    throw err;
  }
  const endpoint = registryEndpoint(wanted.repository);
  const createdOf = async (digest: string, role: string): Promise<Date> => {
    let created;
    try {
      created = await registry.imageCreated(endpoint, digest, signal);
    } catch (err) {
      if (!(err instanceof RegistryError) || err.kind === 'auth_refused' || err.kind === 'unreachable')
        throw err;
      throw new PromotionOrderUnknownError(`${role} ${wanted.repository}@${digest}: ${err.message}`, err);
    }
    if (!created) {
      throw new PromotionOrderUnknownError(
        `${role} ${wanted.repository}@${digest} has no manifest at ${endpoint.baseUrl}/v2/${endpoint.name}`,
      );
    }
    return created;
  };
  const candidateCreated = await createdOf(wanted.digest, 'the candidate');
  const approvedCreated = await createdOf(held.digest, 'the approved image');
  const order: PromotionOrder = {
    candidateCreated: candidateCreated.toISOString(),
    approvedReference: held.reference,
    approvedCreated: approvedCreated.toISOString(),
  };
  if (candidateCreated.getTime() < approvedCreated.getTime()) {
    throw new PromotionStaleError(
      `the candidate was built ${order.candidateCreated}, before the approved ${held.reference} (built ${order.approvedCreated}); the pointer only moves forward, nothing was written`,
      order,
    );
  }
  return order;
}
