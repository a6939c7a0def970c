/**
 * Pinned image references: `<repository>@sha256:<64 lower-case hex>`.
 *
 * Sentinel only ever handles images by digest. Tags are mutable, so a tag can
 * never be what was tested nor what is promoted. This module is pure (no Node
 * APIs) so the workflow bundle can use it too.
 */
export interface PinnedImage {
  repository: string;
  /** `sha256:<hex>` */
  digest: string;
  /** `<repository>@sha256:<hex>` */
  reference: string;
}

const REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isValidRepository(repository: string): boolean {
  return REPOSITORY.test(repository);
}

export type ImageRefProblem =
  | 'empty'
  | 'not-pinned'
  | 'tagged'
  | 'bad-digest'
  | 'uppercase-digest'
  | 'bad-repository'
  | 'wrong-repository'
  | 'unsafe-characters';

export class ImageRefError extends Error {
  constructor(
    readonly problem: ImageRefProblem,
    message: string,
  ) {
    super(message);
    this.name = 'ImageRefError';
  }
}

/**
 * Parses and checks a candidate or approved reference. With `expectedRepository`
 * the reference must name exactly that repository.
 * Messages never echo more than a short, sanitised excerpt of the input, so a
 * hostile value cannot smuggle text into logs or scripts.
 */
export function parsePinnedImage(input: string, expectedRepository?: string): PinnedImage {
  const shown = excerpt(input);
  if (input.length === 0) throw new ImageRefError('empty', 'image reference is empty');
  if (/[^A-Za-z0-9._\-/:@]/.test(input)) {
    throw new ImageRefError(
      'unsafe-characters',
      `image reference ${shown} contains characters that cannot appear in <repository>@sha256:<digest> (whitespace, quotes or shell metacharacters)`,
    );
  }
  const at = input.indexOf('@');
  if (at < 0) {
    const lastSegment = input.slice(input.lastIndexOf('/') + 1);
    if (lastSegment.includes(':')) {
      throw new ImageRefError(
        'tagged',
        `image reference ${shown} is a tag; pin it by digest as <repository>@sha256:<64 hex>`,
      );
    }
    throw new ImageRefError(
      'not-pinned',
      `image reference ${shown} has no @sha256:<digest>; pin it by digest`,
    );
  }
  const namePart = input.slice(0, at);
  const digest = input.slice(at + 1);
  const lastSegment = namePart.slice(namePart.lastIndexOf('/') + 1);
  if (lastSegment.includes(':')) {
    throw new ImageRefError(
      'tagged',
      `image reference ${shown} carries a tag next to its digest; use <repository>@sha256:<64 hex> only`,
    );
  }
  if (!DIGEST.test(digest)) {
    if (DIGEST.test(digest.toLowerCase())) {
      throw new ImageRefError(
        'uppercase-digest',
        `digest in ${shown} has upper-case hex; digests are 64 lower-case hex characters`,
      );
    }
    throw new ImageRefError('bad-digest', `digest in ${shown} is not sha256:<64 lower-case hex>`);
  }
  if (!REPOSITORY.test(namePart)) {
    throw new ImageRefError('bad-repository', `repository in ${shown} is not a valid image repository`);
  }
  if (expectedRepository !== undefined && namePart !== expectedRepository) {
    throw new ImageRefError(
      'wrong-repository',
      `image reference ${shown} is not of the configured repository ${expectedRepository}`,
    );
  }
  return { repository: namePart, digest, reference: `${namePart}@${digest}` };
}

/**
 * A pinned image that arrived as data (a workflow input, an activity's
 * request): checked, not trusted. Its reference is parsed (against
 * `expectedRepository` when given) and the parts it carries must be that
 * reference's. A string is the form of inputs recorded before the parsed
 * value was carried, and is parsed.
 */
export function pinnedImageFrom(value: PinnedImage | string, expectedRepository?: string): PinnedImage {
  if (typeof value === 'string') return parsePinnedImage(value, expectedRepository);
  const parsed = parsePinnedImage(
    typeof value.reference === 'string' ? value.reference : '',
    expectedRepository,
  );
  if (value.repository !== parsed.repository) {
    throw new ImageRefError(
      'bad-repository',
      `image ${excerpt(parsed.reference)} carries another repository than its reference names`,
    );
  }
  if (value.digest !== parsed.digest)
    throw new ImageRefError(
      'bad-digest',
      `image ${excerpt(parsed.reference)} carries another digest than its reference names`,
    );
  return parsed;
}

/** parsePinnedImage for code that must not throw (a workflow): undefined for anything that is no pinned reference. */
export function pinnedImageOrUndefined(input: string): PinnedImage | undefined {
  try {
    return parsePinnedImage(input);
  } catch (err) {
    if (err instanceof ImageRefError) return undefined;
    throw err;
  }
}

function excerpt(input: string): string {
  const printable = input.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > 90 ? `${printable.slice(0, 87)}...` : printable);
}
