# headroom's services, one image per service. docker-compose.yml builds it with
# the build arg SERVICE (validator, domain-composer or launcher) and a target:
#   service     runs services/$SERVICE/dist/main.js (the default, last stage)
#   tiny-guest  runs infra/tiny-guest/build.sh into the shared state volume
# The build context is the repository root; its .dockerignore keeps the host's
# node_modules and build output out of it.
#
# Only classic Dockerfile features are used, so both BuildKit and the legacy
# builder build it.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- prune: only the workspaces the three services use (turbo prune). out/json
# holds their package.json files and a pruned lock file, out/full their
# sources, so the install below is rebuilt only when a manifest changes, not on
# every edit. No stage before the last one reads SERVICE: the three services'
# images share one install and one build, which Docker's cache then reuses.
FROM ${NODE_IMAGE} AS prune
WORKDIR /app
# Builds behind a TLS-intercepting proxy need its CA (PEM text; empty: none).
# Only the build stages use it; a CA certificate is public, not a secret.
ARG EXTRA_CA_CERTS=""
RUN printf '%s\n' "$EXTRA_CA_CERTS" >/usr/local/share/extra-ca.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca.pem \
    TURBO_TELEMETRY_DISABLED=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
# turbo at the version of the lock file.
COPY package-lock.json ./
RUN npm install -g --no-audit --no-fund --loglevel=error \
      "turbo@$(node -p "require('./package-lock.json').packages['node_modules/turbo'].version")"
COPY . .
RUN turbo prune @headroom/validator @headroom/domain-composer @headroom/launcher --docker >/dev/null

# --- build: dependencies, generated code, the native libvirt binding and the
# compiled JavaScript; then only production dependencies are kept.
FROM ${NODE_IMAGE} AS build
# node-gyp builds packages/libvirt against libvirt-dev (headers and pkg-config
# file); the node image carries Node's own headers, so nothing is downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 pkg-config libvirt-dev \
 && rm -rf /var/lib/apt/lists/*
COPY --from=prune /usr/local/share/extra-ca.pem /usr/local/share/extra-ca.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca.pem \
    TURBO_TELEMETRY_DISABLED=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY --from=prune /app/out/json/ ./
# The npm the lock file was written with (package.json "packageManager").
RUN npm install -g --no-audit --no-fund --loglevel=error "npm@$(node -p "require('./package.json').packageManager.replace(/^npm@/, '')")" \
 && npm ci --no-audit --no-fund --loglevel=error
COPY --from=prune /app/out/full/ ./
COPY tsconfig.base.json tsconfig.build.json ./
COPY schemas schemas
RUN npx turbo run build --output-logs=errors-only \
      --filter=@headroom/validator --filter=@headroom/domain-composer --filter=@headroom/launcher \
 && for service in validator domain-composer launcher; do test -f "services/$service/dist/main.js"; done
# What the service runs: each workspace's package.json, dist/ and generated
# code (gen/, the protobuf messages), the libvirt addon, the schemas and the production dependencies. No sources, no
# compilers, no devDependencies.
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error \
 && mkdir /runtime \
 && cp -r package.json node_modules schemas /runtime/ \
 && for dir in packages/* services/*; do \
      mkdir -p "/runtime/$dir" && cp "$dir/package.json" "/runtime/$dir/"; \
      for out in dist gen; do \
        if [ -d "$dir/$out" ]; then cp -r "$dir/$out" "/runtime/$dir/"; fi; \
      done; \
      if [ -d "$dir/build/Release" ]; then \
        mkdir -p "/runtime/$dir/build/Release" && cp "$dir"/build/Release/*.node "/runtime/$dir/build/Release/"; \
      fi; \
    done

# --- tiny-guest: the one-shot job that puts the tiny test guest into the image
# store. build.sh packs Debian's cloud kernel and static busybox, makes its
# bootable disk (SYSLINUX; the signed shim and GRUB, fetched here once), and
# writes the store with packages/images (node).
FROM ${NODE_IMAGE} AS tiny-guest
RUN apt-get update \
 && apt-get install -y --no-install-recommends linux-image-cloud-amd64 busybox-static cpio qemu-utils \
      syslinux syslinux-common mtools dosfstools fdisk \
 && mkdir -p /opt/tiny-guest-debs \
 && cd /opt/tiny-guest-debs && apt-get download shim-signed grub-efi-amd64-signed \
 && rm -rf /var/lib/apt/lists/*
ENV HEADROOM_TINY_GUEST_DEBS=/opt/tiny-guest-debs
WORKDIR /app
COPY --from=build /runtime /app
COPY infra/tiny-guest infra/tiny-guest
ENV HEADROOM_STATE_DIR=/var/lib/headroom
CMD ["bash", "infra/tiny-guest/build.sh"]

# --- service: the runtime image of one service (the default target).
FROM ${NODE_IMAGE} AS service
ARG SERVICE
RUN case "$SERVICE" in \
      validator|domain-composer|launcher) ;; \
      *) echo "build arg SERVICE=$SERVICE names no service (validator, domain-composer or launcher)" >&2; exit 1 ;; \
    esac
# The launcher loads libvirt's client library (libvirt0) into its addon and
# makes host bridges with ip where libvirt cannot (in a container); it writes
# disk overlays itself, and cloud-init seed disks with genisoimage. The
# validator and the composer need nothing beyond Node: neither reads an image.
RUN case "$SERVICE" in \
      launcher) packages="libvirt0 iproute2 genisoimage" ;; \
      *) packages="" ;; \
    esac \
 && if [ -n "$packages" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends $packages \
      && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY infra/docker/service-entrypoint.sh /usr/local/bin/headroom-entrypoint
RUN chmod 0755 /usr/local/bin/headroom-entrypoint
COPY --from=build /runtime /app
ENV NODE_ENV=production \
    HEADROOM_SERVICE=$SERVICE
# Healthy when this container's replica answers $SRV.PING through NATS, as
# the service's own user; the first minute is start-up (the launcher's KVM
# check boots a guest).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "packages/bus/dist/healthcheck_main.js"]
ENTRYPOINT ["/usr/local/bin/headroom-entrypoint"]
# Compiled JavaScript with plain node: no TypeScript loader at start.
CMD ["sh", "-c", "exec node services/$HEADROOM_SERVICE/dist/main.js"]
