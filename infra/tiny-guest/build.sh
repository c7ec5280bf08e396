#!/usr/bin/env bash
# Builds the headroom tiny test guest from Debian's own packages and adds it to
# the image store as headroom/tiny-guest (or writes it to --out DIR).
#
# The guest is Debian's cloud kernel booted directly (<kernel>/<initrd>) with an
# initramfs of static busybox and init.sh. Once a second it prints, on ttyS0,
#   headroom-guest: nics=2 pci=0000:01:00.0,0000:02:00.0 ifaces=eth0,eth1 up=2.31
# so tests can watch NICs being hot-plugged and unplugged from inside a guest.
#
# Image layout (a KubeVirt containerDisk keeps its disk under /disk/):
#   /boot/vmlinuz       the kernel
#   /boot/initrd.img    gzip'd newc cpio: /init, /bin/busybox, virtio modules
#   /disk/disk.qcow2    a 48 MiB bootable disk: one FAT partition with the
#                       same kernel and initrd, booted by SYSLINUX (BIOS) or
#                       by Debian's signed shim and GRUB (UEFI, Secure Boot
#                       too), so a containerDisk boots it without kernelBoot
#   /headroom-build-id  hash of everything the build used; unchanged => no rebuild
#
# Usage:
#   bash infra/tiny-guest/build.sh [--out DIR] [--ref REF] [--force] [--quiet]
#     --out DIR   write the image tree to DIR instead of the image store
#     --ref REF   image reference in the store (default headroom/tiny-guest)
#     --force     rebuild even when the stored image is up to date
#     --quiet     print only what changes
# Environment: HEADROOM_STATE_DIR (default /var/lib/headroom); the image store
# is $HEADROOM_STATE_DIR/images. HEADROOM_TINY_GUEST_DEBS: a directory holding
# the shim-signed and grub-efi-amd64-signed .deb files to use instead of
# downloading them (an image build fetches them once).
#
# Needs (Debian 12): linux-image-cloud-amd64 busybox-static cpio qemu-utils
# syslinux syslinux-common mtools dosfstools fdisk, apt's package lists (the
# signed shim and GRUB are downloaded and unpacked here, never installed on the
# host), and node with this repository's npm dependencies (to write the image
# store).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

out=""
ref="headroom/tiny-guest"
force=0
quiet=0
while (($#)); do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --ref) ref=${2:?--ref needs an image reference}; shift 2 ;;
    --force) force=1; shift ;;
    --quiet) quiet=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tiny-guest: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

say() { [[ $quiet == 1 ]] || echo "tiny-guest: $*"; }
die() { echo "tiny-guest: $*" >&2; exit 1; }

# --- what the build needs -----------------------------------------------------
SYSLINUX_MBR=/usr/lib/syslinux/mbr/mbr.bin
# UEFI boot: the Microsoft-signed shim and Debian's signed GRUB, which loads
# Debian's signed kernel, so the disk boots with Secure Boot on or off.
EFI_PACKAGES=(shim-signed grub-efi-amd64-signed)
# What the guest's bootloaders pass the kernel: TINY_GUEST_CMDLINE plus a word
# that tells the guest it came from its disk.
DISK_CMDLINE="console=ttyS0 quiet panic=-1 headroom.boot=disk"
DISK_MIB=48

missing=()
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1 || true)
[[ -n $kernel ]] || missing+=(linux-image-cloud-amd64)
[[ -x /bin/busybox ]] || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v qemu-img >/dev/null || missing+=(qemu-utils)
command -v gzip >/dev/null || missing+=(gzip)
command -v syslinux >/dev/null || missing+=(syslinux)
[[ -f $SYSLINUX_MBR ]] || missing+=(syslinux-common)
command -v mcopy >/dev/null || missing+=(mtools)
command -v mkfs.vfat >/dev/null || missing+=(dosfstools)
command -v sfdisk >/dev/null || missing+=(fdisk)
if ((${#missing[@]})); then
  die "missing Debian packages: ${missing[*]} — install them with: apt-get install -y ${missing[*]}"
fi
# A dynamically linked busybox (package "busybox") would not run alone in the initramfs.
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
  die "/bin/busybox is not the static build — install it with: apt-get install -y busybox-static"
fi

kver=${kernel#/boot/vmlinuz-}
config=/boot/config-$kver
moddir=/lib/modules/$kver
[[ -r $kernel ]] || die "cannot read $kernel (run as root)"

# PCI hotplug must be built in: the guest acknowledges unplug requests through
# pciehp (q35 native PCIe hotplug) or acpiphp (pc/i440fx, and q35 with ACPI
# hotplug, the default since QEMU 6.1). Both are bool options, never modules.
if [[ -r $config ]]; then
  for opt in CONFIG_HOTPLUG_PCI_PCIE CONFIG_HOTPLUG_PCI_ACPI CONFIG_SERIAL_8250_CONSOLE CONFIG_DEVTMPFS; do
    grep -qx "$opt=y" "$config" || die "kernel $kver lacks $opt=y; the tiny guest needs it"
  done
fi

# Modules the guest loads: the virtio PCI transport, the NIC and disk
# drivers, virtio-scsi with its disk and CD-ROM drivers, ISO 9660 (cloud-init
# seeds), and the ACPI power button with the input events acpid reads, with
# their dependencies in load order (modules.dep lists them, nearest last).
# The cloud kernel has no AHCI driver, so the guest sees no SATA drive.
wanted_modules=(virtio_pci virtio_net virtio_blk virtio_scsi sd_mod sr_mod isofs button evdev)
module_files=()
declare -A seen=()
add_module() { # path relative to $moddir
  local rel=$1
  [[ -n ${seen[$rel]:-} ]] && return
  seen[$rel]=1
  module_files+=("$rel")
}
if [[ -r $moddir/modules.dep ]]; then
  for name in "${wanted_modules[@]}"; do
    line=$(grep -E "^([^:]*/)?${name}\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" || true)
    if [[ -z $line ]]; then
      grep -qE "/${name}\.ko$" "$moddir/modules.builtin" 2>/dev/null && continue
      die "module $name is neither in $moddir/modules.dep nor built in"
    fi
    read -r -a deps <<<"${line#*:}"
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_module "${deps[i]}"; done
    add_module "${line%%:*}"
  done
else
  say "warning: $moddir/modules.dep is missing; the guest will see NICs on PCI but bind no driver"
fi

# The signed packages by the sha256 of their .deb files: those given, or those
# apt would download now (apt's index has their hash; nothing is fetched yet).
debs_dir=${HEADROOM_TINY_GUEST_DEBS:-}
efi_packages_id=""
for pkg in "${EFI_PACKAGES[@]}"; do
  if [[ -n $debs_dir ]]; then
    deb=$(ls "$debs_dir/${pkg}"_*.deb 2>/dev/null | head -n 1)
    [[ -n $deb ]] || die "no ${pkg}_*.deb in HEADROOM_TINY_GUEST_DEBS ($debs_dir)"
    sha=$(sha256sum "$deb" | cut -d' ' -f1)
  else
    sha=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^SHA256: //p' | head -n 1)
    [[ -n $sha ]] || die "apt knows no package $pkg: run apt-get update"
  fi
  efi_packages_id+="$pkg=$sha "
done

# --- up to date? --------------------------------------------------------------
build_id=$(
  {
    sha256sum "${BASH_SOURCE[0]}" "$here/init.sh" "$kernel" /bin/busybox | cut -d' ' -f1
    sha256sum /usr/bin/syslinux "$SYSLINUX_MBR" | cut -d' ' -f1
    echo "$efi_packages_id"
    for rel in "${module_files[@]}"; do sha256sum "$moddir/$rel" | cut -d' ' -f1; done
    echo "$kver"
  } | sha256sum | cut -c1-32
)

# The compiled tool when built (setup.sh builds first; images carry only
# dist/), else its source through tsx.
store_tool() {
  if [[ -f $root/packages/images/dist/store_tool.js ]]; then
    (cd "$root" && node packages/images/dist/store_tool.js "$@")
  else
    (cd "$root" && node --import tsx packages/images/src/store_tool.ts "$@")
  fi
}

if [[ -n $out ]]; then
  if [[ $force == 0 && -f $out/headroom-build-id && $(cat "$out/headroom-build-id") == "$build_id" ]]; then
    say "up to date in $out (build $build_id)"
    exit 0
  fi
else
  store_dir=${HEADROOM_STATE_DIR:-/var/lib/headroom}/images
  existing=$store_dir
  while [[ ! -e $existing ]]; do existing=$(dirname "$existing"); done
  [[ -w $existing ]] || die "cannot write the image store at $store_dir: run as root, set HEADROOM_STATE_DIR, or use --out DIR"
  command -v node >/dev/null || die "node is needed to write the image store (or use --out DIR)"
  [[ -f $root/packages/images/dist/store_tool.js || -d $root/node_modules/tsx ]] ||
    die "npm dependencies are missing: run npm ci in $root first (or use --out DIR)"
  if [[ $force == 0 ]] && stored=$(store_tool root "$ref" 2>/dev/null) &&
    [[ -f $stored/headroom-build-id && $(cat "$stored/headroom-build-id") == "$build_id" ]]; then
    say "$ref is up to date in the image store (build $build_id)"
    exit 0
  fi
fi

# --- the bootable disk -----------------------------------------------------------
# KERNEL INITRD OUT: a qcow2 disk with an MBR and one FAT partition (type EF,
# active) holding the kernel and initrd. BIOS: SYSLINUX's MBR loads the
# partition's SYSLINUX, which reads /syslinux.cfg. UEFI: the firmware runs
# /EFI/BOOT/BOOTX64.EFI (shim), which runs grubx64.efi beside it; that GRUB
# reads /EFI/debian/grub.cfg. Made in files with mtools: no loop device, no root.
bootable_disk() {
  local kernel=$1 initrd=$2 out=$3
  local esp=$work/esp part=$work/partition.fat raw=$work/disk.raw debs=$work/debs
  mkdir -p "$esp/EFI/BOOT" "$esp/EFI/debian" "$esp/boot" "$debs/root"
  if [[ -n $debs_dir ]]; then
    for pkg in "${EFI_PACKAGES[@]}"; do cp "$debs_dir/${pkg}"_*.deb "$debs/"; done
  else
    (cd "$debs" && apt-get download -q=2 "${EFI_PACKAGES[@]}" 2>/dev/null) ||
      die "could not download ${EFI_PACKAGES[*]}: run apt-get update"
  fi
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$debs/root"; done
  cp "$debs/root/usr/lib/shim/shimx64.efi.signed" "$esp/EFI/BOOT/BOOTX64.EFI"
  cp "$debs/root/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$esp/EFI/BOOT/grubx64.efi"
  cp "$kernel" "$esp/boot/vmlinuz"
  cp "$initrd" "$esp/boot/initrd.img"
  printf 'set timeout=0\nlinux /boot/vmlinuz %s\ninitrd /boot/initrd.img\nboot\n' \
    "$DISK_CMDLINE" >"$esp/EFI/debian/grub.cfg"
  printf 'DEFAULT headroom\nPROMPT 0\nTIMEOUT 0\nLABEL headroom\n  LINUX /boot/vmlinuz\n  INITRD /boot/initrd.img\n  APPEND %s\n' \
    "$DISK_CMDLINE" >"$esp/syslinux.cfg"

  # The partition starts at 1 MiB and fills the rest of the disk.
  truncate -s "${DISK_MIB}M" "$raw"
  echo 'start=2048, type=ef, bootable' | sfdisk -q "$raw"
  mkfs.vfat -F 16 -n HEADROOM -C "$part" $(((DISK_MIB - 1) * 1024)) >/dev/null
  MTOOLS_SKIP_CHECK=1 mcopy -s -i "$part" "$esp"/* ::/
  syslinux --install "$part"
  dd if="$part" of="$raw" bs=1M seek=1 conv=notrunc status=none
  dd if="$SYSLINUX_MBR" of="$raw" bs=440 count=1 conv=notrunc status=none
  qemu-img convert -f raw -O qcow2 "$raw" "$out"
}

# --- build ----------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/headroom-tiny-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
initramfs=$work/initramfs
image=$work/image
mkdir -p "$initramfs"/{bin,dev,proc,sys,tmp,etc,lib/modules} "$image"/{boot,disk}

cp /bin/busybox "$initramfs/bin/busybox"
install -m 0755 "$here/init.sh" "$initramfs/init"
echo "$build_id" >"$initramfs/etc/headroom-build-id"
for rel in "${module_files[@]}"; do
  case "$rel" in
    *.xz) command -v xz >/dev/null || die "kernel modules are xz-compressed — install xz-utils" ;;
    *.zst) command -v zstd >/dev/null || die "kernel modules are zstd-compressed — install zstd" ;;
  esac
done
for rel in "${module_files[@]}"; do
  src=$moddir/$rel
  base=$(basename "$rel")
  case "$base" in
    *.ko.xz) xz -dc "$src" >"$initramfs/lib/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$src" >"$initramfs/lib/modules/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz) gzip -dc "$src" >"$initramfs/lib/modules/${base%.gz}"; base=${base%.gz} ;;
    *) cp "$src" "$initramfs/lib/modules/$base" ;;
  esac
  echo "$base" >>"$initramfs/lib/modules/load-order"
done
(cd "$initramfs" && find . -print0 | LC_ALL=C sort -z |
  cpio --null --create --format=newc --owner=0:0 --quiet | gzip -9n >"$image/boot/initrd.img")
cp "$kernel" "$image/boot/vmlinuz"
bootable_disk "$image/boot/vmlinuz" "$image/boot/initrd.img" "$image/disk/disk.qcow2"
echo "$build_id" >"$image/headroom-build-id"
find "$image" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +

if [[ -n $out ]]; then
  mkdir -p "$out"
  rm -rf "$out/boot" "$out/disk" "$out/headroom-build-id"
  cp -R "$image/." "$out/"
  say "built into $out (kernel $kver, build $build_id)"
else
  stored=$(store_tool add "$ref" "$image")
  say "added $ref to the image store: $stored (kernel $kver, build $build_id)"
fi
