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

# The pod network's bridge, NAT and DHCP, in this container's own network
# namespace (the launcher shares it and hands the bridge to libvirt as the
# network headroom-pod). On a host libvirt makes all of this itself, but it
# writes /proc/sys/net to do so, which is read-only here; docker-compose.yml
# sets net.ipv4.ip_forward for the container instead. The subnet is private to
# the container, so the fixed one cannot clash with the host's networks.
pod_bridge=headroom-pod
if ! ip link show "$pod_bridge" >/dev/null 2>&1; then
  ip link add "$pod_bridge" type bridge
  ip addr add 10.0.2.1/24 dev "$pod_bridge"
fi
ip link set "$pod_bridge" up
iptables -t nat -C POSTROUTING -s 10.0.2.0/24 ! -d 10.0.2.0/24 -j MASQUERADE 2>/dev/null ||
  iptables -t nat -A POSTROUTING -s 10.0.2.0/24 ! -d 10.0.2.0/24 -j MASQUERADE
# A restarted container's processes are gone; its pid file is not.
rm -f /run/headroom-pod-dnsmasq.pid
dnsmasq --interface="$pod_bridge" --bind-interfaces --except-interface=lo \
  --dhcp-range=10.0.2.2,10.0.2.254,1h --dhcp-authoritative \
  --pid-file=/run/headroom-pod-dnsmasq.pid
echo "libvirt: pod network bridge $pod_bridge up (10.0.2.0/24, NAT and DHCP)"

# Both replace stale sockets and pid files a restarted container kept.
virtlogd -d
exec libvirtd
