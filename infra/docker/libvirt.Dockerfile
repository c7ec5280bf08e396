# libvirtd and virtlogd for headroom's launcher, with QEMU for x86 guests.
# The launcher reaches libvirtd over the unix socket in /var/run/libvirt (a
# volume both containers mount) and keeps disks, kernels and console logs in
# /var/lib/headroom (another shared volume), at the same paths in both, because
# QEMU runs here and opens them. The container is not privileged: it needs
# NET_ADMIN and /dev/net/tun for tap devices, and /dev/kvm for KVM
# (docker-compose.yml, infra/docker/kvm.yml).
FROM debian:bookworm-slim

# The same Debian packages infra/setup.sh installs on a host; ipxe-qemu (a
# dependency of qemu-system-x86) holds the virtio-net option ROM QEMU loads.
# dnsmasq-base and iptables give the pod network its DHCP and NAT; ovmf the
# UEFI firmware of bootloader.efi guests; swtpm the TPM of devices.tpm.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils iproute2 \
      dnsmasq-base iptables ovmf swtpm swtpm-tools \
 && rm -rf /var/lib/apt/lists/*

# Configuration for a daemon in a container:
# - the unix socket is reached only through the shared volume, by root in the
#   launcher's container, so no polkit (no D-Bus runs here);
# - no default network: headroom's pod NICs join the pod network, whose
#   bridge, NAT and DHCP the entrypoint makes (libvirt cannot make a NAT
#   network in a container that is not privileged);
# - QEMU is not put into cgroups of its own (a container's cgroup is not
#   delegated to libvirt) nor into a private mount namespace, and no AppArmor
#   or SELinux labelling, which a privileged container cannot give anyway.
#   Disk ownership (the DAC driver) works as on a host, but libvirt does not
#   remember the previous owner: that takes trusted.* extended attributes,
#   which only CAP_SYS_ADMIN may set, and the container does not have it.
RUN printf '%s\n' '' '# headroom container settings' 'auth_unix_rw = "none"' \
      >>/etc/libvirt/libvirtd.conf \
 && printf '%s\n' '' '# headroom container settings' 'cgroup_controllers = [ ]' 'namespaces = [ ]' \
      'security_driver = "none"' 'remember_owner = 0' >>/etc/libvirt/qemu.conf \
 && rm -f /etc/libvirt/qemu/networks/autostart/default.xml

COPY infra/docker/libvirt-entrypoint.sh /usr/local/bin/libvirt-entrypoint
RUN chmod 0755 /usr/local/bin/libvirt-entrypoint

ENTRYPOINT ["/usr/local/bin/libvirt-entrypoint"]
