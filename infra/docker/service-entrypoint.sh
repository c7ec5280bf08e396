#!/bin/sh
# Entrypoint of headroom's service images: runs the command given, by default
# the service the image was built for (see service.Dockerfile).
set -eu
# TMPDIR may point into a volume that starts empty: the launcher's does, so that
# libvirt's QEMU, in another container, can read the files it puts there.
if [ -n "${TMPDIR:-}" ]; then
  mkdir -p "$TMPDIR"
  chmod 0755 "$TMPDIR"
fi
exec "$@"
