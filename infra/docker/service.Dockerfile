# headroom's services, one image per service. docker-compose.yml builds it with
# the build arg SERVICE (validator, domain-composer or launcher) and a target:
#   service     runs services/$SERVICE/dist/main.js, compiled in the build
#               stage (the default, last stage)
#   tiny-guest  runs infra/tiny-guest/build.sh into the shared state volume
# The build context is the repository root; its .dockerignore keeps the host's
# node_modules and build output out of it.
#
# Only classic Dockerfile features are used, so both BuildKit and the legacy
# builder build it.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- manifests: only what `npm ci` reads, so the install layer below is rebuilt
# only when a package.json or the lock file changes, not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages packages
COPY services services
# A workspace's bin files stay too: npm links them while installing.
RUN find packages services -type f ! -name package.json ! -path '*/bin/*' -delete \
 && find packages services -depth -type d -empty -delete

# --- build: dependencies, generated code, the native libvirt binding and the
# compiled JavaScript.
FROM ${NODE_IMAGE} AS build
# node-gyp builds packages/libvirt against libvirt-dev (headers and pkg-config
# file); the node image carries Node's own headers, so nothing is downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 pkg-config libvirt-dev \
 && rm -rf /var/lib/apt/lists/*
ENV TURBO_TELEMETRY_DISABLED=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY --from=manifests /app /app
# The npm the lock file was written with (package.json "packageManager").
RUN npm install -g --no-audit --no-fund "npm@$(node -p "require('./package.json').packageManager.replace(/^npm@/, '')")" \
 && npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.base.json turbo.json ./
COPY schemas schemas
COPY packages packages
COPY services services
COPY infra infra
ARG SERVICE
RUN if [ -z "$SERVICE" ]; then \
      echo "build arg SERVICE is required: validator, domain-composer or launcher" >&2; exit 1; \
    fi \
 && if [ ! -f "services/$SERVICE/src/main.ts" ]; then \
      echo "build arg SERVICE=$SERVICE names no service: services/$SERVICE/src/main.ts does not exist" >&2; exit 1; \
    fi
# The service and the workspaces it depends on: protobuf code generation, the
# libvirt addon for the launcher, and each one's src/ compiled into dist/.
RUN npx turbo run build --filter="@headroom/$SERVICE..." --output-logs=errors-only \
 && test -f "services/$SERVICE/dist/main.js"

# --- tiny-guest: the one-shot job that puts the tiny test guest into the image
# store. build.sh packs Debian's cloud kernel and static busybox, and writes the
# store with packages/images (node). qemu-img makes its empty disk.
FROM ${NODE_IMAGE} AS tiny-guest
RUN apt-get update \
 && apt-get install -y --no-install-recommends linux-image-cloud-amd64 busybox-static cpio qemu-utils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
ENV HEADROOM_STATE_DIR=/var/lib/headroom
CMD ["bash", "infra/tiny-guest/build.sh"]

# --- service: the runtime image of one service (the default target).
FROM ${NODE_IMAGE} AS service
ARG SERVICE
# The launcher loads libvirt's client library (libvirt0) into its addon, makes
# disk overlays with qemu-img and host bridges with ip. The composer asks
# qemu-img the format of a disk image whose name does not tell it. The
# validator needs nothing beyond Node.
RUN case "$SERVICE" in \
      launcher) packages="libvirt0 qemu-utils iproute2" ;; \
      domain-composer) packages="qemu-utils" ;; \
      *) packages="" ;; \
    esac \
 && if [ -n "$packages" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends $packages \
      && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY --from=build /app /app
COPY infra/docker/service-entrypoint.sh /usr/local/bin/headroom-entrypoint
RUN chmod 0755 /usr/local/bin/headroom-entrypoint
ENV NODE_ENV=production \
    HEADROOM_SERVICE=$SERVICE
ENTRYPOINT ["/usr/local/bin/headroom-entrypoint"]
# Compiled JavaScript with plain node: no TypeScript loader at start.
CMD ["sh", "-c", "exec node services/$HEADROOM_SERVICE/dist/main.js"]
