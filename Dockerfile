# syntax=docker/dockerfile:1
#
# The Sentinel worker (and the `sentinel` CLI) as a container image.
#
#   docker build --build-arg SENTINEL_BUILD_ID=$(git rev-parse HEAD) -t sentinel-worker .
#   docker run --rm sentinel-worker                          # the worker
#   docker run --rm sentinel-worker node bin/sentinel.js --help   # the CLI
#
# The base image is pinned by digest: node:24-bookworm-slim (Node 24.18.1,
# Debian 12; Node 24 is the current LTS), the multi-platform index digest
# published by the official image (docker-library/repo-info,
# repos/node/remote/24-bookworm-slim.md, build of 2026-07-30). To move it,
# replace the digest with the one `docker buildx imagetools inspect
# node:24-bookworm-slim` reports, and rebuild. The suite runs on the same
# major (`npm run test:node24`); a test keeps the two in step.
ARG NODE_IMAGE=node:24-bookworm-slim@sha256:235600a8101ab264e117b1768e925532262668dc9b581ef1dd7d96ced463b8e7

# --- build: compile TypeScript into dist/ and bundle the workflows ----------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle-workflows.ts ./scripts/
RUN npm run build \
 && node --import tsx scripts/bundle-workflows.ts dist/workflow-bundle.js

# --- runtime: production dependencies, compiled code, configuration ---------
# The Temporal connection is not baked in: Temporal's standard TEMPORAL_*
# variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
# TEMPORAL_TLS_CLIENT_CERT_PATH, ...), or a temporal.toml mounted into the
# container and named by TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE
# (docs/temporal-connection.md). Bad settings stop the worker with exit 3.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    SENTINEL_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    SENTINEL_METRICS_ADDRESS=0.0.0.0:9464 \
    SWC_NATIVE_BINDING_CACHE=/tmp/swc
WORKDIR /app
RUN groupadd --system --gid 10001 sentinel \
 && useradd --system --uid 10001 --gid sentinel --home-dir /app --shell /usr/sbin/nologin sentinel
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY ops ./ops
# The worker's Worker Versioning build id: the git sha of the code, given at
# build time (docker build --build-arg SENTINEL_BUILD_ID=$(git rev-parse HEAD));
# without it the worker refuses to start (docs/versioning.md).
ARG SENTINEL_BUILD_ID=
ENV SENTINEL_BUILD_ID=${SENTINEL_BUILD_ID}
# Local evidence of sandbox environments lands here; everything else is read-only.
RUN mkdir -p /app/.sentinel && chown sentinel:sentinel /app/.sentinel
USER sentinel:sentinel
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const a=(process.env.SENTINEL_METRICS_ADDRESS||'').replace(/^0\\.0\\.0\\.0:/,'127.0.0.1:');fetch('http://'+a+'/metrics').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/worker/main.js"]
