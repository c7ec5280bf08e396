#!/usr/bin/env bash
# Runs nats-server with headroom's configuration, without the rest of headroom
# (`headroom up` does the same for itself). State goes to $HEADROOM_STATE_DIR,
# default .state in the repository: the JetStream store in nats/ (or
# HEADROOM_NATS_STORE_DIR), the users' NKEYs in secrets/, made on first run.
# With HEADROOM_NATS_TLS_SERVER_CERT and _KEY set it runs infra/nats/tls.conf.
# Extra arguments go to nats-server, e.g. `-p 4333 -m 8222`.
#
# Services and clients then log in with the seeds in secrets/nats.env (as
# HEADROOM_NATS_USER and HEADROOM_NATS_SEED, see packages/bus) and secrets/client.env.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
state="${HEADROOM_STATE_DIR:-$root/.state}"
export HEADROOM_NATS_STORE_DIR="${HEADROOM_NATS_STORE_DIR:-$state/nats}"
mkdir -p "$HEADROOM_NATS_STORE_DIR"

cd "$root"
# The compiled @headroom/bus (npm run build) makes the keys as headroom up does.
[[ -f packages/bus/dist/mod.js ]] || {
  echo "packages/bus is not built: run npm run build in $root first" >&2
  exit 1
}
node --input-type=module \
  -e 'import { ensureCredentials } from "@headroom/bus"; await ensureCredentials(process.argv[1]);' \
  "$state/secrets"
set -a
# shellcheck disable=SC1091
. "$state/secrets/nats.env"
set +a

conf="$here/headroom.conf"
if [[ -n "${HEADROOM_NATS_TLS_SERVER_CERT:-}" && -n "${HEADROOM_NATS_TLS_SERVER_KEY:-}" ]]; then
  conf="$here/tls.conf"
fi
exec nats-server -c "$conf" "$@"
