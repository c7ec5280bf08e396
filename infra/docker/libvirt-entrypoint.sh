#!/bin/sh
# Starts virtlogd (without it no domain starts: QEMU's logs go through it)
# and then libvirtd in the foreground, so the container lives as long as it.
set -eu

# With a privileged container the host's /dev/kvm appears here, but owned by
# the host's kvm group id, which need not be this image's. QEMU runs as
# libvirt-qemu, a member of this image's kvm group. Without /dev/kvm (or when
# KVM does not work) the launcher falls back to software emulation (TCG).
if [ -c /dev/kvm ]; then
  chgrp kvm /dev/kvm
  chmod 0660 /dev/kvm
  echo "libvirt: /dev/kvm is present"
else
  echo "libvirt: no /dev/kvm; guests run under software emulation (TCG)"
fi

# Both replace stale sockets and pid files a restarted container kept.
virtlogd -d
exec libvirtd
