/**
 * A small client for the OCI distribution API (what `docker pull` speaks),
 * enough to check that a manifest exists, to resolve a tag to its digest and
 * to read when an image was built (its config's `created`).
 *
 * Where the registry is: derived from the repository's host
 * (`ghcr.io/org/name` → `https://ghcr.io`, name `org/name`), unless
 * SENTINEL_REGISTRY_URL overrides the base URL (as AWS_ENDPOINT_URL does for
 * AWS): the demo and the tests point it at a local registry.
 *
 * Access is anonymous, like a host pulling a public image: a 401 with a
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge is answered
 * by fetching an anonymous token from the realm and asking again (the flow
 * GHCR and Docker Hub use). Tokens are kept until they expire.
 */
import { createHash } from 'node:crypto';

/** Every manifest kind an image can be pushed as; HEAD answers 404 for a kind not accepted. */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
] as const;

export interface RegistryEndpoint {
  /** `https://ghcr.io`, or the override. */
  baseUrl: string;
  /** Repository path inside the registry: `org/name`. */
  name: string;
}

export class RegistryConfigError extends Error {}

/** `SENTINEL_REGISTRY_URL` wins over the repository's host. */
export function registryEndpoint(repository: string, env: NodeJS.ProcessEnv = process.env): RegistryEndpoint {
  const slash = repository.indexOf('/');
  if (slash < 0) throw new RegistryConfigError(`repository ${repository} names no registry host`);
  const host = repository.slice(0, slash);
  const name = repository.slice(slash + 1);
  const override = env.SENTINEL_REGISTRY_URL?.trim();
  if (override) {
    let url: URL;
    try {
      url = new URL(override);
    } catch {
      throw new RegistryConfigError(
        `SENTINEL_REGISTRY_URL=${override} is not a URL; expected e.g. http://127.0.0.1:5000`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RegistryConfigError(`SENTINEL_REGISTRY_URL=${override} must be an http(s) URL`);
    }
    return { baseUrl: override.replace(/\/+$/, ''), name };
  }
  // Docker Hub's API lives elsewhere than its name.
  const apiHost = host === 'docker.io' || host === 'index.docker.io' ? 'registry-1.docker.io' : host;
  return { baseUrl: `https://${apiHost}`, name };
}

export type RegistryErrorKind = 'unreachable' | 'auth_refused' | 'bad_response';

export class RegistryError extends Error {
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface ManifestHead {
  /** The digest the registry reports (Docker-Content-Digest), or the one asked for. */
  digest: string;
  mediaType: string;
  size?: number;
}

export interface Manifest extends ManifestHead {
  body: Buffer;
}

interface Challenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** Parses `Bearer realm="…",service="…",scope="…"`; undefined for any other scheme. */
export function parseBearerChallenge(header: string | null): Challenge | undefined {
  if (!header || !/^\s*bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const match of header.matchAll(/(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))/g)) {
    params[match[1]!.toLowerCase()] = match[2] ?? match[3] ?? '';
  }
  if (!params.realm) return undefined;
  return {
    realm: params.realm,
    ...(params.service ? { service: params.service } : {}),
    ...(params.scope ? { scope: params.scope } : {}),
  };
}

export class RegistryClient {
  private readonly tokens: RegistryTokens;

  constructor(private readonly fetchFn: typeof fetch = fetch) {
    this.tokens = new RegistryTokens(fetchFn);
  }

  /** The manifest's head, or undefined when the registry has no such manifest (404). */
  async headManifest(
    endpoint: RegistryEndpoint,
    reference: string,
    signal?: AbortSignal,
  ): Promise<ManifestHead | undefined> {
    const res = await this.request(
      endpoint,
      'HEAD',
      `manifests/${reference}`,
      { Accept: MANIFEST_MEDIA_TYPES.join(', ') },
      signal,
    );
    if (res.status === 404) return undefined;
    this.expectOk(res, endpoint, `HEAD manifest ${reference}`);
    const length = Number(res.headers.get('content-length'));
    return {
      digest: res.headers.get('docker-content-digest') ?? reference,
      mediaType: (res.headers.get('content-type') ?? 'unknown').split(';')[0]!.trim(),
      ...(Number.isFinite(length) && length > 0 ? { size: length } : {}),
    };
  }

  /** The manifest's bytes and digest (sha256 of the bytes, checked against the registry's header), or undefined on 404. */
  async getManifest(
    endpoint: RegistryEndpoint,
    reference: string,
    signal?: AbortSignal,
  ): Promise<Manifest | undefined> {
    const res = await this.request(
      endpoint,
      'GET',
      `manifests/${reference}`,
      { Accept: MANIFEST_MEDIA_TYPES.join(', ') },
      signal,
    );
    if (res.status === 404) return undefined;
    this.expectOk(res, endpoint, `GET manifest ${reference}`);
    const body = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const reported = res.headers.get('docker-content-digest');
    if (reported && reported !== digest) {
      throw new RegistryError(
        'bad_response',
        `${endpoint.baseUrl}: manifest ${reference} reported digest ${reported} but its bytes hash to ${digest}`,
      );
    }
    return {
      digest,
      mediaType: (res.headers.get('content-type') ?? 'unknown').split(';')[0]!.trim(),
      size: body.length,
      body,
    };
  }

  /** A blob's bytes (small ones: image configs), or undefined on 404. */
  async getBlob(
    endpoint: RegistryEndpoint,
    digest: string,
    signal?: AbortSignal,
  ): Promise<Buffer | undefined> {
    const res = await this.request(endpoint, 'GET', `blobs/${digest}`, {}, signal);
    if (res.status === 404) return undefined;
    this.expectOk(res, endpoint, `GET blob ${digest}`);
    return Buffer.from(await res.arrayBuffer());
  }

  /**
   * When the image was built: its OCI image config's `created` time. For an
   * index (a multi-platform image), the linux/amd64 image's config (the
   * platform the agent runs on), else the first image's. Undefined when the
   * registry has no such manifest; a RegistryError ('bad_response') when the
   * image has no config blob or its config no valid `created`.
   */
  async imageCreated(
    endpoint: RegistryEndpoint,
    reference: string,
    signal?: AbortSignal,
  ): Promise<Date | undefined> {
    let manifest = await this.getManifest(endpoint, reference, signal);
    if (!manifest) return undefined;
    let parsed = parseJson(manifest.body, `${endpoint.baseUrl}: manifest ${reference}`) as ImageManifestJson;
    if (Array.isArray(parsed.manifests)) {
      const images = parsed.manifests.filter(
        (m) => typeof m.digest === 'string' && m.platform?.os !== 'unknown',
      );
      const chosen =
        images.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64') ?? images[0];
      if (!chosen)
        throw new RegistryError('bad_response', `${endpoint.baseUrl}: index ${reference} lists no image`);
      manifest = await this.getManifest(endpoint, chosen.digest!, signal);
      if (!manifest)
        throw new RegistryError(
          'bad_response',
          `${endpoint.baseUrl}: index ${reference} lists ${chosen.digest}, which the registry does not have`,
        );
      parsed = parseJson(
        manifest.body,
        `${endpoint.baseUrl}: manifest ${chosen.digest}`,
      ) as ImageManifestJson;
    }
    const configDigest = parsed.config?.digest;
    if (typeof configDigest !== 'string')
      throw new RegistryError(
        'bad_response',
        `${endpoint.baseUrl}: manifest ${reference} names no image config`,
      );
    const config = await this.getBlob(endpoint, configDigest, signal);
    if (!config)
      throw new RegistryError(
        'bad_response',
        `${endpoint.baseUrl}: the config ${configDigest} of ${reference} is missing`,
      );
    const actual = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    if (configDigest.startsWith('sha256:') && actual !== configDigest) {
      throw new RegistryError(
        'bad_response',
        `${endpoint.baseUrl}: the config of ${reference} hashes to ${actual}, not ${configDigest}`,
      );
    }
    const created = (
      parseJson(config, `${endpoint.baseUrl}: config ${configDigest}`) as { created?: unknown }
    ).created;
    // RFC 3339, as the OCI image spec requires; Date.parse also takes other forms, so check the shape first.
    const time = typeof created === 'string' && RFC3339.test(created) ? new Date(created) : undefined;
    if (!time || Number.isNaN(time.getTime())) {
      throw new RegistryError(
        'bad_response',
        `${endpoint.baseUrl}: the image config of ${reference} has no valid created time (${JSON.stringify(created ?? null)})`,
      );
    }
    return time;
  }

  private expectOk(res: Response, endpoint: RegistryEndpoint, what: string): void {
    if (res.ok) return;
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(
        'auth_refused',
        `${endpoint.baseUrl}/v2/${endpoint.name}: ${what} refused (HTTP ${res.status})`,
        res.status,
      );
    }
    // 429 and 5xx are the registry's trouble, worth retrying; anything else is an answer we cannot use.
    const kind: RegistryErrorKind = res.status === 429 || res.status >= 500 ? 'unreachable' : 'bad_response';
    throw new RegistryError(
      kind,
      `${endpoint.baseUrl}/v2/${endpoint.name}: ${what} answered HTTP ${res.status}`,
      res.status,
    );
  }

  /** One API call, answering a Bearer challenge once with an anonymous token. */
  private request(
    endpoint: RegistryEndpoint,
    method: string,
    path: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Response> {
    const url = `${endpoint.baseUrl}/v2/${endpoint.name}/${path}`;
    return this.tokens.call(
      endpoint,
      'pull',
      url,
      (authorization) =>
        this.send(url, { method, headers: { ...headers, ...authorization }, ...(signal ? { signal } : {}) }),
      signal,
    );
  }

  private send(url: string, init: RequestInit): Promise<Response> {
    return fetchRegistry(this.fetchFn, url, init);
  }
}

/** A fetch whose network failure is a RegistryError ('unreachable'). */
async function fetchRegistry(fetchFn: typeof fetch, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetchFn(url, { ...init, redirect: 'follow' });
  } catch (err) {
    if (init.signal?.aborted) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new RegistryError(
      'unreachable',
      `${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    );
  }
}

/** Account for a registry that wants one to push (GHCR does for any push); pulls are anonymous. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/**
 * The registry's token flow, for reading (anonymous) and for pushing (with
 * credentials, sent only to the token realm, as Basic): a call answered 401
 * with a `WWW-Authenticate: Bearer realm=…` challenge is asked again with a
 * token from the realm. Tokens are kept, per repository and access, until
 * they expire.
 */
export class RegistryTokens {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    private readonly fetchFn: typeof fetch = fetch,
    private readonly credentials?: RegistryCredentials,
  ) {}

  /** Makes the call `send` (with the Authorization header it is given), answering a Bearer challenge once. */
  async call(
    endpoint: RegistryEndpoint,
    access: 'pull' | 'push',
    url: string,
    send: (authorization: Record<string, string>) => Promise<Response>,
    signal?: AbortSignal,
  ): Promise<Response> {
    const key = `${endpoint.baseUrl} repository:${endpoint.name}:${access}`;
    const cached = this.tokens.get(key);
    const res = await send(
      cached && cached.expiresAt > Date.now() ? { Authorization: `Bearer ${cached.token}` } : {},
    );
    if (res.status !== 401) return res;

    const challenge = parseBearerChallenge(res.headers.get('www-authenticate'));
    await res.body?.cancel();
    if (!challenge) {
      const why = access === 'pull' ? ' (the registry wants credentials; Sentinel pulls anonymously)' : '';
      throw new RegistryError('auth_refused', `${url}: HTTP 401 without a Bearer challenge${why}`, 401);
    }
    const token = await this.token(challenge, endpoint, access, signal);
    this.tokens.set(key, token);
    return send({ Authorization: `Bearer ${token.token}` });
  }

  private async token(
    challenge: Challenge,
    endpoint: RegistryEndpoint,
    access: 'pull' | 'push',
    signal?: AbortSignal,
  ): Promise<{ token: string; expiresAt: number }> {
    let tokenUrl: URL;
    try {
      tokenUrl = new URL(challenge.realm);
    } catch {
      throw new RegistryError(
        'bad_response',
        `${endpoint.baseUrl}: token realm ${JSON.stringify(challenge.realm)} is not a URL`,
      );
    }
    if (challenge.service) tokenUrl.searchParams.set('service', challenge.service);
    // A push needs both; the challenge of a read (HEAD of a blob before its upload) names pull only.
    tokenUrl.searchParams.set(
      'scope',
      access === 'push'
        ? `repository:${endpoint.name}:pull,push`
        : (challenge.scope ?? `repository:${endpoint.name}:pull`),
    );
    const basic: Record<string, string> =
      access === 'push' && this.credentials
        ? {
            Authorization: `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`,
          }
        : {};
    const res = await fetchRegistry(this.fetchFn, tokenUrl.toString(), {
      method: 'GET',
      headers: basic,
      ...(signal ? { signal } : {}),
    });
    const where = `${tokenUrl.origin}${tokenUrl.pathname}`;
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      const refused =
        access === 'push'
          ? `no push token for ${endpoint.name} (HTTP ${res.status}); set SENTINEL_REGISTRY_USERNAME and SENTINEL_REGISTRY_PASSWORD`
          : `no anonymous pull token for ${endpoint.name} (HTTP ${res.status}); the repository is private or does not exist`;
      throw new RegistryError('auth_refused', `${where}: ${refused}`, res.status);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(
        res.status === 429 || res.status >= 500 ? 'unreachable' : 'bad_response',
        `${where}: token request answered HTTP ${res.status}`,
        res.status,
      );
    }
    const body = (await res.json().catch(() => ({}))) as {
      token?: unknown;
      access_token?: unknown;
      expires_in?: unknown;
    };
    const token =
      typeof body.token === 'string'
        ? body.token
        : typeof body.access_token === 'string'
          ? body.access_token
          : undefined;
    if (!token) throw new RegistryError('bad_response', `${where}: token response carries no token`);
    // The distribution spec's default lifetime is 60 s; stop using a token a little before it ends.
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { token, expiresAt: Date.now() + Math.max(0, lifetime - 5) * 1000 };
  }
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

interface ImageManifestJson {
  config?: { digest?: unknown };
  manifests?: Array<{ digest?: string; platform?: { os?: string; architecture?: string } }>;
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError('bad_response', `${what} is not JSON`);
  }
}
