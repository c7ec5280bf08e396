#!/bin/sh
# Makes the NATS passwords for docker compose, once: .state/secrets/nats.env
# and client.env (as `headroom up` makes them), and .env beside
# docker-compose.yml, which compose reads for the services' passwords. The CLI
# on the host then logs in with --state-dir .state (or HEADROOM_STATE_DIR).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
node --import tsx --input-type=module \
  -e 'import { ensureCredentials } from "@headroom/bus"; await ensureCredentials(process.argv[1]);' \
  "$root/.state/secrets"
if [ ! -e .env ]; then
  (umask 077 && cp .state/secrets/nats.env .env)
  echo "wrote .env and .state/secrets (NATS passwords, private to $(id -un))"
else
  echo ".env exists; left as it is (the passwords are in .state/secrets/nats.env)"
fi
