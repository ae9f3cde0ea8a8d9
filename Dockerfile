# syntax=docker/dockerfile:1.7
# One image for every Floodgate process: the command chooses (`start`, `service <name>`,
# `gateway`, `migrate`, …), FLOODGATE_* variables configure it.
#
# BASE_IMAGE must be a Debian-based Node.js 20 image laid out as the official one (node and npm
# in /usr/local, a user `node` with uid 1000). Where no registry is reachable,
# deploy/container/build-local-base-image.sh builds a stand-in from Debian packages.
ARG BASE_IMAGE=docker.io/library/node:20-bookworm-slim

# Everything, dev dependencies included, to build the dashboard (Vite is a dev dependency).
FROM ${BASE_IMAGE} AS dashboard
WORKDIR /build
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
# An npm registry behind a TLS-inspecting proxy: pass its CA bundle as the build secret `npm_ca`
# (podman/docker build --secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt). Without the
# secret, npm uses the image's own CAs.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --ignore-scripts --no-audit
COPY dashboard ./dashboard
COPY tsconfig.json ./
RUN node node_modules/tsx/dist/cli.mjs dashboard/build.ts

# Production dependencies only.
FROM ${BASE_IMAGE} AS dependencies
WORKDIR /build
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --omit=dev --ignore-scripts --no-audit

FROM ${BASE_IMAGE} AS runtime
# tini as PID 1: it forwards SIGTERM to Floodgate (which drains and exits) and reaps any child,
# which Node as PID 1 does not do. Taken from Debian unless the base image already has it.
RUN if ! command -v tini >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY --from=dependencies /build/node_modules ./node_modules
COPY --from=dashboard /build/dashboard/dist ./dashboard/dist
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# Embedded-mode files (queue log, PGlite, the generated secret) go to /data: a volume, or an
# emptyDir in Kubernetes. The root filesystem can then be read-only (tsx keeps its cache in /tmp).
RUN mkdir -p /data && chown node:node /data
ENV NODE_ENV=production \
    FLOODGATE_HOST=0.0.0.0 \
    FLOODGATE_PORT=8080 \
    FLOODGATE_DATA_DIR=/data
USER node
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FLOODGATE_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["tini", "--", "node", "bin/floodgate.mjs"]
CMD ["start"]
