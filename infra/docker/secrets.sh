#!/bin/sh
# Makes the NATS keys (NKEYs) for docker compose, once: nats.env and
# client.env in <state-dir>/secrets (as `headroom up` makes them), and the
# same public keys and seeds in the env file beside docker-compose.yml, which
# compose reads. Other lines of the env file are kept. The CLI on the host then
# logs in with --state-dir <state-dir> (or HEADROOM_STATE_DIR).
#
#   bash infra/docker/secrets.sh [--state-dir DIR] [--env-file FILE]   # defaults: .state, .env
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
state_dir=$root/.state
env_file=$root/.env
while [ $# -gt 0 ]; do
  case $1 in
    --state-dir) state_dir=$2; shift 2 ;;
    --env-file) env_file=$2; shift 2 ;;
    *) echo "usage: $0 [--state-dir DIR] [--env-file FILE]" >&2; exit 2 ;;
  esac
done
# The compiled @headroom/bus (npm run build) makes the keys as headroom up does.
if [ ! -f "$root/packages/bus/dist/mod.js" ]; then
  echo "packages/bus is not built: run npm ci, then npx turbo run build --filter=@headroom/cli... in $root" >&2
  exit 1
fi
(cd "$root" && node --input-type=module \
  -e 'import { ensureCredentials } from "@headroom/bus"; await ensureCredentials(process.argv[1]);' \
  "$state_dir/secrets")
# The env file gets the keys of nats.env, replacing any older ones.
umask 077
touch "$env_file"
grep -v '^HEADROOM_NATS_\(NKEY\|SEED\)_' "$env_file" >"$env_file.new" || true
grep '^HEADROOM_NATS_\(NKEY\|SEED\)_' "$state_dir/secrets/nats.env" >>"$env_file.new"
mv "$env_file.new" "$env_file"
echo "secrets: NATS keys in $state_dir/secrets and $env_file (private to $(id -un))"
