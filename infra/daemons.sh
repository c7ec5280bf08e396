#!/usr/bin/env bash
# Starts virtlogd and libvirtd when they are not running. Without systemd
# nothing else starts them; without virtlogd, starting a domain fails.
set -euo pipefail
quiet=0
[[ "${1:-}" == "--quiet" ]] && quiet=1

running() { pgrep -x "$1" >/dev/null; }

if ! running virtlogd; then
  echo "daemons: starting virtlogd"
  virtlogd -d
fi
if ! running libvirtd; then
  echo "daemons: starting libvirtd"
  libvirtd -d
fi
# Wait until libvirtd answers, at most 30 s.
for _ in $(seq 1 60); do
  virsh -c qemu:///system version >/dev/null 2>&1 && { [[ $quiet == 1 ]] || echo "daemons: libvirtd is up"; exit 0; }
  sleep 0.5
done
echo "daemons: libvirtd did not answer on qemu:///system within 30 s" >&2
exit 1
