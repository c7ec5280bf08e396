#!/usr/bin/env bash
# Installs Debian's Docker engine (docker.io), docker-compose and debootstrap
# when missing, and starts dockerd when it is not running: apt starts no
# service on machines without systemd. Run as root; idempotent.
#
#   bash infra/docker/engine.sh [--quiet]
set -euo pipefail
quiet=0
[[ "${1:-}" == "--quiet" ]] && quiet=1
say() { [[ $quiet == 1 ]] || echo "engine: $*"; }

packages=(
  docker.io       # dockerd, containerd, runc
  docker-compose  # runs docker-compose.yml (Compose v1.29)
  debootstrap     # makes the Debian base image where it cannot be pulled (base-images/build.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "engine: missing Debian packages: ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  echo "engine: installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
  say "dockerd is running"
  exit 0
fi
log=/var/log/headroom-dockerd.log
echo "engine: starting dockerd (log: $log)"
setsid dockerd >>"$log" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { say "dockerd is up"; exit 0; }
  sleep 0.5
done
echo "engine: dockerd did not answer within 30 s; its log ends:" >&2
tail -n 20 "$log" >&2
exit 1
