import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { pushImage } from '../../dev/stack/registry';
import { failureInfo, type FailureCode } from '../../src/domain/failures';
import { promotionFailureOf } from '../../src/promotion/failures';
import { checkPromotionOrder } from '../../src/promotion/order';
import { RegistryClient, registryEndpoint } from '../../src/registry/client';
import { REPOSITORY, unknownCandidate } from '../support/aws';
import { sharedStack } from '../support/stack';

const NAME = registryEndpoint(REPOSITORY).name;

async function pushed(
  seed: string,
  created: string,
): Promise<{ reference: string; digest: string; size: number }> {
  const stack = await sharedStack();
  const image = await pushImage(stack.registry.url, NAME, { seed, created: new Date(created) });
  return { reference: `${REPOSITORY}@${image.digest}`, digest: image.digest, size: image.manifest.length };
}

/** A multi-platform image: an OCI index over the given images, as buildx pushes it (with an attestation entry). */
async function pushedIndex(
  entries: Array<{ digest: string; size: number; architecture: string; os?: string }>,
): Promise<string> {
  const stack = await sharedStack();
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: entries.map((e) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: e.digest,
        size: e.size,
        platform: { architecture: e.architecture, os: e.os ?? 'linux' },
      })),
    }),
  );
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const res = await fetch(`${stack.registry.url}/v2/${NAME}/manifests/${digest}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
    body,
  });
  assert.equal(res.status, 201, await res.text());
  return `${REPOSITORY}@${digest}`;
}

/** The error's catalogue failure (what the promotion activity fails with): its code, never retried, and its message. */
function failsWith(code: FailureCode, pattern: RegExp) {
  return (err: unknown) => {
    const failure = promotionFailureOf(err);
    assert.ok(failure, String(err));
    assert.equal(failure.code, code);
    assert.equal(failureInfo(code).retryable, false);
    assert.match(failure.message, pattern);
    return true;
  };
}

describe("the order of images, from their config's created time, against the real registry", function () {
  const registry = new RegistryClient();

  before(async () => {
    await sharedStack(); // points SENTINEL_REGISTRY_URL at the suite's registry
  });

  it("reads an image's build time, and a multi-platform image's from its linux/amd64 image", async () => {
    const endpoint = registryEndpoint(REPOSITORY);
    const amd64 = await pushed('order-amd64', '2026-03-01T10:00:00.000Z');
    const arm64 = await pushed('order-arm64', '2026-05-01T10:00:00.000Z');
    assert.equal(
      (await registry.imageCreated(endpoint, amd64.digest))?.toISOString(),
      '2026-03-01T10:00:00.000Z',
    );
    const index = await pushedIndex([
      { ...arm64, architecture: 'arm64' },
      { ...amd64, architecture: 'amd64' },
      { ...arm64, architecture: 'unknown', os: 'unknown' },
    ]);
    assert.equal(
      (await registry.imageCreated(endpoint, index.slice(index.indexOf('@') + 1)))?.toISOString(),
      '2026-03-01T10:00:00.000Z',
    );
    assert.equal(
      await registry.imageCreated(endpoint, unknownCandidate('order-none').slice(REPOSITORY.length + 1)),
      undefined,
    );
  });

  it('refuses an older candidate (PROMOTION_STALE, with both times), lets a newer or equal one through, and cannot order what it cannot read', async () => {
    const older = await pushed('order-older', '2026-01-01T00:00:00.000Z');
    const newer = await pushed('order-newer', '2026-02-01T00:00:00.000Z');
    const twin = await pushed('order-twin', '2026-02-01T00:00:00.000Z');

    await assert.rejects(checkPromotionOrder(registry, older.reference, newer.reference), (err: unknown) => {
      failsWith(
        'PROMOTION_STALE',
        /built 2026-01-01T00:00:00.000Z, before the approved .* \(built 2026-02-01T00:00:00.000Z\)/,
      )(err);
      assert.deepEqual(promotionFailureOf(err)?.facts, {
        order: {
          candidateCreated: '2026-01-01T00:00:00.000Z',
          approvedReference: newer.reference,
          approvedCreated: '2026-02-01T00:00:00.000Z',
        },
      });
      return true;
    });
    assert.deepEqual(await checkPromotionOrder(registry, newer.reference, older.reference), {
      candidateCreated: '2026-02-01T00:00:00.000Z',
      approvedReference: older.reference,
      approvedCreated: '2026-01-01T00:00:00.000Z',
    });
    assert.equal(
      (await checkPromotionOrder(registry, twin.reference, newer.reference))?.candidateCreated,
      '2026-02-01T00:00:00.000Z',
      'the same build time is not older',
    );

    // Nothing to order against: no value yet, or a value that is no pinned reference of the repository.
    assert.equal(await checkPromotionOrder(registry, older.reference, null), undefined);
    assert.equal(await checkPromotionOrder(registry, older.reference, 'not-a-pinned-reference'), undefined);
    // An approved image the registry no longer has: the order is unknown, and nothing may be written.
    await assert.rejects(
      checkPromotionOrder(registry, newer.reference, unknownCandidate('order-gone')),
      failsWith('PROMOTION_ORDER_UNKNOWN', /the approved image .* has no manifest/),
    );
  });
});
