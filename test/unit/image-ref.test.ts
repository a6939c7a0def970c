import { strict as assert } from 'node:assert';
import {
  ImageRefError,
  parsePinnedImage,
  pinnedImageFrom,
  pinnedImageOrUndefined,
  type ImageRefProblem,
} from '../../src/domain/image-ref';

const REPO = 'ghcr.io/iangreen74/radix-cluster-agent';
const HEX = 'a3f1c2b7a0d44b8a9a616c2f0e5d7b19a3f1c2b7a0d44b8a9a616c2f0e5d7b19';

function problem(input: string, repo: string | undefined = REPO): ImageRefProblem {
  try {
    parsePinnedImage(input, repo);
  } catch (err) {
    assert.ok(err instanceof ImageRefError);
    return err.problem;
  }
  assert.fail(`accepted ${input}`);
}

describe('pinned image references', () => {
  it('accepts <repository>@sha256:<64 lower-case hex> of the configured repository', () => {
    const image = parsePinnedImage(`${REPO}@sha256:${HEX}`, REPO);
    assert.deepEqual(image, {
      repository: REPO,
      digest: `sha256:${HEX}`,
      reference: `${REPO}@sha256:${HEX}`,
    });
    assert.equal(
      parsePinnedImage(`127.0.0.1:5000/radix/agent@sha256:${HEX}`).repository,
      '127.0.0.1:5000/radix/agent',
    );
  });

  it('refuses tags, short or upper-case digests, other repositories and shell metacharacters', () => {
    assert.equal(problem(`${REPO}:latest`), 'tagged');
    assert.equal(problem(`${REPO}:v1@sha256:${HEX}`), 'tagged');
    assert.equal(problem(REPO), 'not-pinned');
    assert.equal(problem(`${REPO}@sha256:${HEX.slice(1)}`), 'bad-digest');
    assert.equal(problem(`${REPO}@sha512:${HEX}`), 'bad-digest');
    assert.equal(problem(`${REPO}@sha256:${HEX.toUpperCase()}`), 'uppercase-digest');
    assert.equal(problem(`ghcr.io/someone/else@sha256:${HEX}`), 'wrong-repository');
    assert.equal(problem(`${REPO}@sha256:${HEX}; rm -rf /`), 'unsafe-characters');
    assert.equal(problem(`${REPO}@sha256:${HEX}\n`), 'unsafe-characters');
    assert.equal(problem('$(reboot)@sha256:' + HEX), 'unsafe-characters');
    assert.equal(problem(''), 'empty');
    assert.equal(problem(`GHCR.io/x/y@sha256:${HEX}`, undefined), 'bad-repository');
  });

  it('never echoes control characters of a refused value', () => {
    try {
      parsePinnedImage(`${REPO}:\u001b[31mred`, REPO);
      assert.fail('accepted');
    } catch (err) {
      assert.ok(!(err as Error).message.includes('\u001b'));
    }
  });

  it("checks a pinned image that arrived as data: its parts must be its reference's, of the configured repository", () => {
    const image = parsePinnedImage(`${REPO}@sha256:${HEX}`, REPO);
    assert.deepEqual(pinnedImageFrom(image, REPO), image);
    assert.deepEqual(
      pinnedImageFrom(image.reference, REPO),
      image,
      'a reference string (inputs recorded before the parsed value) is parsed',
    );
    const other = `sha256:${'b'.repeat(64)}`;
    const refused = (value: unknown, repo: string | undefined = REPO): ImageRefProblem => {
      try {
        pinnedImageFrom(value as Parameters<typeof pinnedImageFrom>[0], repo);
      } catch (err) {
        assert.ok(err instanceof ImageRefError, String(err));
        return err.problem;
      }
      assert.fail(`accepted ${JSON.stringify(value)}`);
    };
    assert.equal(refused({ ...image, digest: other }), 'bad-digest');
    assert.equal(refused({ ...image, repository: 'ghcr.io/someone/else' }), 'bad-repository');
    assert.equal(refused({ ...image, reference: `ghcr.io/someone/else@sha256:${HEX}` }), 'wrong-repository');
    assert.equal(refused({ repository: REPO, digest: `sha256:${HEX}` }), 'empty');
  });

  it('parses without throwing where throwing is not allowed (workflow code)', () => {
    assert.equal(pinnedImageOrUndefined(`${REPO}@sha256:${HEX}`)?.digest, `sha256:${HEX}`);
    assert.equal(pinnedImageOrUndefined(`${REPO}:latest`), undefined);
    assert.equal(pinnedImageOrUndefined(''), undefined);
  });
});
