#!/bin/sh
# Makes the NATS keys (NKEYs) for docker compose, once: .state/secrets/nats.env
# and client.env (as `headroom up` makes them), and .env beside
# docker-compose.yml, which compose reads for the server's public keys and the
# services' seeds. The CLI
# on the host then logs in with --state-dir .state (or HEADROOM_STATE_DIR).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# The compiled @headroom/bus (npm run build) makes the keys as headroom up does.
if [ ! -f packages/bus/dist/mod.js ]; then
  echo "packages/bus is not built: run npm ci, then npx turbo run build --filter=@headroom/cli... in $root" >&2
  exit 1
fi
node --input-type=module \
  -e 'import { ensureCredentials } from "@headroom/bus"; await ensureCredentials(process.argv[1]);' \
  "$root/.state/secrets"
if [ ! -e .env ]; then
  (umask 077 && cp .state/secrets/nats.env .env)
  echo "wrote .env and .state/secrets (NATS keys, private to $(id -un))"
else
  echo ".env exists; left as it is (the keys are in .state/secrets/nats.env)"
fi
