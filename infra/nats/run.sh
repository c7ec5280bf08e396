#!/usr/bin/env bash
# Runs nats-server with headroom's configuration. The JetStream store defaults
# to .state/nats in the repository (set HEADROOM_NATS_STORE_DIR to move it).
# Extra arguments go to nats-server, e.g. `-p 4333 -m 8222`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export HEADROOM_NATS_STORE_DIR="${HEADROOM_NATS_STORE_DIR:-$root/.state/nats}"
mkdir -p "$HEADROOM_NATS_STORE_DIR"
exec nats-server -c "$here/headroom.conf" "$@"
