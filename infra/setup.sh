#!/usr/bin/env bash
# One-step setup for a Debian 12 machine, run as root. Idempotent: installs only
# what is missing, installs npm dependencies when the lock file changed, builds,
# and starts virtlogd/libvirtd when they are not running (apt starts no service
# on machines without systemd).
#
#   bash infra/setup.sh            # everything, with progress
#   bash infra/setup.sh --quiet    # the same, printing only what it changes
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
quiet=0
[[ "${1:-}" == "--quiet" ]] && quiet=1

say() { [[ $quiet == 1 ]] || echo "setup: $*"; }
note() { echo "setup: $*"; }

# Debian packages headroom needs. Keep one per line, with why.
apt_packages=(
  nats-server            # the bus (JetStream works in 2.9)
  libvirt-daemon-system  # libvirtd, virtlogd, the QEMU driver
  libvirt-clients        # virsh, virt-xml-validate
  libvirt-dev            # headers for the native binding (packages/libvirt)
  qemu-system-x86        # the hypervisor (KVM when usable, TCG otherwise)
  qemu-utils             # qemu-img, for disk images
  ovmf                   # UEFI firmware (bootloader.efi), Secure Boot builds too
  swtpm                  # the TPM 2.0 of devices.tpm
  swtpm-tools            #   and swtpm_setup, which libvirt runs to make its state
  pkg-config             # finds libvirt for node-gyp
  linux-image-cloud-amd64 # kernel of the tiny test guest (PCIe hotplug built in)
  busybox-static         # userland of the tiny test guest
  cpio                   # packs the tiny guest's initramfs
  syslinux               # BIOS bootloader on the tiny guest's disk
  syslinux-common        #   and its MBR
  mtools                 # writes that disk's FAT partition without mounting it
  dosfstools             #   and makes it (mkfs.vfat)
  fdisk                  #   and its partition table (sfdisk)
  libxml2-utils          # xmllint, which virt-xml-validate runs
  iproute2               # creates host bridges for multus networks
  dnsmasq-base           # DHCP and DNS of the pod network (libvirt runs it)
  iptables               # NAT of the pod network (libvirt adds the rules)
  genisoimage            # cloud-init seed disks (NoCloud, ConfigDrive)
  docker-compose         # checks docker-compose.yml (no engine is needed for that)
  openssl                # makes the certificates of the NATS TLS test
  docker-registry        # the OCI registry the image pull tests run on loopback
  skopeo                 # fills that registry as users do, from an OCI layout
  apache2-utils          # htpasswd, for that registry's login
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    note "missing Debian packages: ${missing[*]} — run this script as root to install them" >&2
    exit 1
  fi
  note "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

cd "$root"
# npm ci when node_modules is missing or older than the lock file.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  note "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
else
  say "npm dependencies present"
fi

# Build what needs building (native binding, generated protobuf code, each
# package's JavaScript in dist/, which the CLI and the services run). turbo
# caches, so this is quick when nothing changed.
say "building"
npx turbo run build --output-logs=errors-only >/dev/null || npx turbo run build --output-logs=errors-only

quiet_flag=()
[[ $quiet == 1 ]] && quiet_flag=(--quiet)

# The tiny test guest, added to the image store as headroom/tiny-guest.
bash "$here/tiny-guest/build.sh" "${quiet_flag[@]}"

bash "$here/daemons.sh" "${quiet_flag[@]}"
